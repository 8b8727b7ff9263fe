import Foundation
import TestSupport

/// A roff man page read as the words a reader sees, so a test can ask
/// whether `--no-fingerprint` is documented without caring how it was
/// marked up (`\fB\-\-no\-fingerprint\fR`, `.B \-\-no\-fingerprint`, …).
struct ManPage: Sendable {
    var name: String
    /// The page's text with font escapes removed and `\-` turned into `-`,
    /// one roff line per line.
    var text: String

    init(name: String, source: String) {
        self.name = name
        self.text = Self.plain(source)
    }

    static func load(_ name: String) throws -> ManPage {
        let path = "\(PackagePaths.manDirectory)/\(name)"
        guard let source = FileManager.default.contents(atPath: path) else {
            throw TestFailure("\(path) does not exist")
        }
        return ManPage(name: name, source: String(decoding: source, as: UTF8.self))
    }

    /// Whether `word` occurs as a whole word: not as part of a longer option
    /// (`--force` must not be found in `--forced`, `-h` not in `-hx`).
    func mentions(_ word: String) -> Bool {
        Self.contains(word: word, in: Substring(text))
    }

    /// The text of the subsection (`.SS`) whose heading starts with `heading`,
    /// up to the next `.SS` or `.SH`, or nil when the page has none.
    func subsection(_ heading: String) -> Substring? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { line in
            line.hasPrefix(".SS ") && line.dropFirst(4).split(separator: " ").first.map(String.init) == heading
        }) else { return nil }
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix(".SS") || $0.hasPrefix(".SH") } ?? lines.endIndex
        return Substring(lines[start..<end].joined(separator: "\n"))
    }

    /// The text of every section (`.SH`) whose title contains `word`, e.g.
    /// the "COMMON OPTIONS" and "JOB OPTIONS" that several verbs share.
    func sections(titled word: String) -> Substring {
        var collected: [Substring] = []
        var inside = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(".SH") { inside = line.contains(word) }
            if inside { collected.append(line) }
        }
        return Substring(collected.joined(separator: "\n"))
    }

    static func contains(word: String, in text: Substring) -> Bool {
        var rest = text[...]
        while let range = rest.range(of: word) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            if !isWordCharacter(before) && !isWordCharacter(after) { return true }
            rest = text[range.upperBound...]
        }
        return false
    }

    private static func isWordCharacter(_ c: Character?) -> Bool {
        guard let c else { return false }
        return c.isLetter || c.isNumber || c == "-" || c == "_"
    }

    /// Drops `\fB`, `\fI`, `\fR`, `\fP`, `\f(XX`, `\f[…]`, `\&`, `\%` and
    /// turns `\-` into `-`.
    static func plain(_ source: String) -> String {
        var out = ""
        var chars = source[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            guard c == "\\", let next = chars.first else { out.append(c); continue }
            switch next {
            case "-":
                out.append("-"); chars = chars.dropFirst()
            case "&", "%":
                chars = chars.dropFirst()
            case "f":
                chars = chars.dropFirst()
                if chars.first == "(" {
                    chars = chars.dropFirst(3)
                } else if chars.first == "[" {
                    chars = chars.drop { $0 != "]" }.dropFirst()
                } else {
                    chars = chars.dropFirst()
                }
            default:
                out.append(c)
            }
        }
        return out
    }
}
