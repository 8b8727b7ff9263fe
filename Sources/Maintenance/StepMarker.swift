import Launcher

/// One line of the step protocol (see `templates/lib/steps.sh`), recognised
/// only when it starts with `CORRAL-<nonce> ` for this job's nonce.
public enum StepMarker: Sendable, Equatable {
    case ready
    /// `timeout`: nil for corral's default, 0 for none.
    case begin(step: String, timeout: Double?)
    case exit(step: String, status: Int32)
    case note(String)
    /// The job found nothing to do: its writable disks are to be left as
    /// they were (`unchanged TEXT` in the template; TEXT is the summary).
    case unchanged(String)
    /// The job script ended with this status (its EXIT trap).
    case done(Int32)

    /// The marker a line carries, or nil for ordinary output (including
    /// anything that merely looks like a marker with another nonce).
    public static func parse(_ line: String, nonce: String) -> StepMarker? {
        let prefix = MarkerParser.prefix(nonce: nonce)
        guard line.hasPrefix(prefix) else { return nil }
        return parse(body: line.dropFirst(prefix.count))
    }

    /// The marker a line's body (the text after `CORRAL-<nonce> `) names,
    /// or nil when it names none.
    public static func parse(body rest: Substring) -> StepMarker? {
        if rest == "READY" { return .ready }
        if rest.hasPrefix("NOTE ") { return .note(String(rest.dropFirst(5))) }
        if rest.hasPrefix("UNCHANGED ") { return .unchanged(String(rest.dropFirst(10))) }
        if rest.hasPrefix("DONE ") {
            guard let status = Int32(rest.dropFirst(5)), (0...255).contains(status) else { return nil }
            return .done(status)
        }
        let words = rest.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 4, words[0] == "STEP", !words[1].isEmpty else { return nil }
        let name = String(words[1])
        switch words[2] {
        case "BEGIN":
            if words[3] == "default" { return .begin(step: name, timeout: nil) }
            guard let seconds = Double(words[3]), seconds >= 0 else { return nil }
            return .begin(step: name, timeout: seconds)
        case "EXIT":
            guard let status = Int32(words[3]), (0...255).contains(status) else { return nil }
            return .exit(step: name, status: status)
        default:
            return nil
        }
    }
}
