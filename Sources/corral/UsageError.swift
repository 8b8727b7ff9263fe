import ArgumentParser
import COWEngine
import CorralSystem

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
        if let suggestion = Self.verbSuggestion(arguments: arguments) {
            return "did you mean '\(suggestion)'?"
        }
        if arguments.first == "boot", let words = unexpectedWords, !words.contains(where: { $0.hasPrefix("-") }) {
            return "to run a command in the guest, put it after --: corral boot -- \(words.map(Shell.quote).joined(separator: " "))"
        }
        return hint
    }

    /// `corral cow flaten …` → "corral cow flatten": when the command word
    /// is not one corral knows, the known one within two edits of it.
    static func verbSuggestion(arguments: [String]) -> String? {
        func names(_ commands: [any ParsableCommand.Type]) -> [String] {
            commands.compactMap { $0.configuration.commandName }.filter { !$0.hasPrefix("_") }
        }
        let word: String, prefix: String, known: [String]
        if let first = arguments.first, !first.hasPrefix("-"), !names(CorralCommand.configuration.subcommands).contains(first) {
            (word, prefix, known) = (first, "corral", names(CorralCommand.configuration.subcommands))
        } else if arguments.count > 1, arguments[0] == "cow" {
            (word, prefix, known) = (arguments[1], "corral cow", names(COWCommand.configuration.subcommands))
        } else if arguments.count > 1, arguments[0] == "maint" {
            (word, prefix, known) = (arguments[1], "corral maint", names(MaintCommand.configuration.subcommands))
        } else {
            return nil
        }
        guard !word.hasPrefix("-"), !known.contains(word) else { return nil }
        var best: (name: String, distance: Int)?
        for name in known {
            let d = editDistance(name, word)
            if best == nil || d < best!.distance { best = (name, d) }
        }
        guard let best, best.distance <= 2, best.distance < word.count else { return nil }
        return "\(prefix) \(best.name)"
    }

    /// Levenshtein distance between two short words.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
