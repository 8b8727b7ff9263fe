#if canImport(Glibc)
import Glibc
#endif

/// The few SGR styles corral's diagnostics use, applied only when the
/// descriptor they go to is a terminal that wants them.
///
/// Colour is decided per descriptor, because `corral cow check 2>log` should
/// leave escape codes out of the log even when stdout is a terminal. It is
/// off when `NO_COLOR` is set to anything non-empty (no-color.org) and when
/// `TERM` is `dumb` or unset, which is what pagers and editors that capture
/// output expect.
struct TerminalStyle: Sendable, Equatable {
    /// The SGR parameters, e.g. "1;31" for bold red.
    var parameters: String

    static let failure = TerminalStyle(parameters: "1;31")
    static let warning = TerminalStyle(parameters: "1;33")
    static let hint = TerminalStyle(parameters: "1;36")
    static let note = TerminalStyle(parameters: "1")

    /// `text` wrapped in this style when `fd` should carry colour, else as is.
    func apply(_ text: String, fd: Int32) -> String {
        Self.enabled(fd: fd) ? wrap(text) : text
    }

    /// `text` wrapped in this style unconditionally.
    func wrap(_ text: String) -> String {
        "\u{1B}[\(parameters)m\(text)\u{1B}[0m"
    }

    /// Whether output on `fd` may carry colour.
    static func enabled(fd: Int32) -> Bool {
        enabled(isTerminal: isatty(fd) != 0, environment: environment())
    }

    /// The decision itself, separated from the process state it reads.
    static func enabled(isTerminal: Bool, environment: [String: String]) -> Bool {
        guard isTerminal else { return false }
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        guard let term = environment["TERM"], !term.isEmpty, term != "dumb" else { return false }
        return true
    }

    /// Just the two variables the decision needs, read through getenv.
    private static func environment() -> [String: String] {
        var values: [String: String] = [:]
        for name in ["NO_COLOR", "TERM"] {
            if let value = getenv(name) { values[name] = String(cString: value) }
        }
        return values
    }
}
