import Launcher

/// What every maintenance boot is told, whichever request carries it (a
/// template job's ``JobRequest``, the rescue shell's ``ShellRequest``).
public protocol JobBoot: Sendable {
    var kernel: String { get }
    var memory: String { get }
    /// `--log`: the console transcript.
    var logPath: String? { get }
    var environment: [String: String] { get }
    var verbose: Bool { get }
}

extension JobRequest: JobBoot {}
