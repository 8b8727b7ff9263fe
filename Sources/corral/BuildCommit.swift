/// A git commit id as corral reports it: the hash, and whether the tree it
/// was built from had changes on top of it.
struct BuildCommit: Sendable, Equatable {
    /// 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
    var hash: String
    /// The install stamped "-dirty": uncommitted changes were built in.
    var modified: Bool = false

    /// `hash` or `hash-dirty`, the form the VERSION file holds.
    init?(parsing text: some StringProtocol) {
        var word = Substring(text.trimmingWhitespace)
        var modified = false
        if word.hasSuffix("-dirty") {
            word = word.dropLast("-dirty".count)
            modified = true
        }
        guard word.count == 40 || word.count == 64,
              word.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { return nil }
        self.hash = String(word)
        self.modified = modified
    }

    /// Twelve digits, enough to be unique in any repository this size.
    var short: String { String(hash.prefix(12)) + (modified ? "-dirty" : "") }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and newlines (no Foundation).
    var trimmingWhitespace: SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }),
              let end = lastIndex(where: { !isSpace($0) })
        else { return self[endIndex...] }
        return self[start...end]
    }
}
