import COWEngine

/// An argument-parser failure (unknown option, missing argument, a value a
/// `validate()` refused) reworded into corral's one-line form.
///
/// The parser's own rendering spans four lines ("Error: …", "Help: …",
/// "Usage: …", "See '…' for more information."); corral keeps the reason and
/// turns the last line into the hint, so every failure reads the same way
/// whether the engine or the parser found it.
struct UsageError: Sendable, Equatable {
    /// The parser's short message, e.g. "Missing expected argument '<cow>'".
    var message: String
    /// The parser's full rendering, which names the command's help.
    var fullMessage: String

    /// `<reason>`, starting lower-case like every other corral message.
    var line: String {
        var text = message
        for prefix in ["Error: ", "error: "] where text.hasPrefix(prefix) {
            text.removeFirst(prefix.count)
        }
        text = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? text
        guard let first = text.first, first.isUppercase else { return text }
        // Keep acronyms and option names ("UML", "COW") as they are.
        let second = text.dropFirst().first
        if let second, second.isUppercase { return text }
        return first.lowercased() + text.dropFirst()
    }

    /// "run 'corral cow create --help'", taken from the parser's "See '…'" line.
    var hint: String {
        for line in fullMessage.split(separator: "\n") {
            guard let start = line.range(of: "See '") else { continue }
            let rest = line[start.upperBound...]
            if let end = rest.firstIndex(of: "'") {
                return "run '\(rest[..<end])' for usage"
            }
        }
        return "run 'corral --help' for usage"
    }

    /// The words the parser did not expect ("2 unexpected arguments: 'ls',
    /// '/'"), or nil for another mistake.
    var unexpectedWords: [String]? {
        guard line.lowercased().contains("unexpected argument") else { return nil }
        let parts = line.split(separator: "'", omittingEmptySubsequences: false)
        let words = stride(from: 1, to: parts.count, by: 2).map { String(parts[$0]) }
        return words.isEmpty ? nil : words
    }

    /// The hint for `arguments` (the command line without the program):
    /// `corral boot ls /` is someone used to `vng -- ls /` or `maint run --
    /// ls /`; tell them the form that runs it.
    func hint(arguments: [String]) -> String {
        if arguments.first == "boot", let words = unexpectedWords, !words.contains(where: { $0.hasPrefix("-") }) {
            return "to run a command in the guest, put it after --: corral boot -- \(words.map(Shell.quote).joined(separator: " "))"
        }
        return hint
    }
}
