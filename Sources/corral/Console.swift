#if canImport(Glibc)
import Glibc
#endif
import CorralSystem
import Foundation
import Launcher

/// Output through file descriptors (the `stdout` globals are not
/// concurrency-safe in Swift 6), with colour only on a terminal and never
/// when NO_COLOR is set.
enum Console {
    static func out(_ text: String) { write(1, text + "\n") }
    static func error(_ text: String) { write(2, text + "\n") }

    /// All of `text`, through CorralSystem's one write loop (short writes,
    /// EINTR, a non-blocking descriptor's EAGAIN).
    static func write(_ fd: Int32, _ text: String) {
        Output.writeAll(fd, text)
    }

    static var isTerminal: (out: Bool, err: Bool) { (isatty(1) != 0, isatty(2) != 0) }

    /// corral's stdin and stdout, as a boot's console (the launcher never
    /// assumes them: ``ConsoleStreams``).
    static let streams = ConsoleStreams(input: STDIN_FILENO, output: STDOUT_FILENO)

    /// Whether standard output may carry colour.
    static var colour: Bool { TerminalStyle.enabled(fd: 1) }

    /// `corral: <text>` on stderr: the one line every failure prints.
    static func failure(_ text: String) {
        error(TerminalStyle.failure.apply("corral:", fd: 2) + " " + text)
    }

    /// `corral: warning: <text>` on stderr: something worked but deserves a look.
    static func warning(_ text: String) {
        error(TerminalStyle.warning.apply("corral: warning:", fd: 2) + " " + text)
    }

    /// `hint: <text>` on stderr: the command that fixes the failure above it.
    static func hint(_ text: String) {
        error(TerminalStyle.hint.apply("hint:", fd: 2) + " " + text)
    }

    /// `note: <text>` on stderr: a consequence of what just succeeded.
    static func note(_ text: String) {
        error(TerminalStyle.note.apply("note:", fd: 2) + " " + text)
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        out(String(decoding: data, as: UTF8.self))
    }

    /// `value` as JSON with `extra` keys added to its top-level object.
    static func json<T: Encodable>(_ value: T, adding extra: [String: String]) throws {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any] ?? [:]
        for (key, text) in extra { object[key] = text }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        out(String(decoding: data, as: UTF8.self))
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }
}
