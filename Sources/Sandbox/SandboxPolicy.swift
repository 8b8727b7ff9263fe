/// What the sandbox applies to a UML kernel process tree.
///
/// Travels from the supervising `corral` to its re-exec'd helper as JSON, so
/// it is a plain Codable value.
public struct SandboxPolicy: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Default-deny seccomp, PID and mount namespaces, read-only host root.
        case enforce
        /// No sandbox at all (still said out loud by the launcher).
        case off
    }

    public var mode: Mode
    /// Host paths that stay writable in the private mount namespace
    /// (the directories of the disks, plus `--writable` paths).
    public var writablePaths: [String]
    /// Run the kernel as this unprivileged user instead of the caller.
    public var user: String?

    public init(mode: Mode = .enforce, writablePaths: [String] = [], user: String? = nil) {
        self.mode = mode
        self.writablePaths = writablePaths
        self.user = user
    }
}
