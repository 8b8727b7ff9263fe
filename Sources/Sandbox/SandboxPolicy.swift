/// What the sandbox applies to a UML kernel process tree.
///
/// Travels from the supervising `corral` to its re-exec'd helper as JSON, so
/// it is a plain Codable value. `SandboxRunner.report(policy:)` says what it
/// amounts to on the current host.
public struct SandboxPolicy: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Default-deny seccomp (`Allowlist.uml61`), PID/mount/network/IPC
        /// namespaces with a reaper as PID 1, read-only host root, Landlock.
        case enforce
        /// No sandbox at all (still said out loud by the launcher).
        case off
    }

    public var mode: Mode
    /// Host paths that stay writable in the private mount namespace and under
    /// Landlock: the directories of the disks (COW files are created next to
    /// their backing files), plus `--writable` paths. Each must exist.
    ///
    /// Added automatically, so they need not be listed: the `uml_dir=`
    /// directory from the kernel command line (umid dir, pid file, mconsole
    /// socket; pass one per boot, or UML tries `~/.uml`, which is read-only),
    /// and the directory of UML's memory file: `$TMPDIR`/`$TMP`/`$TEMP` if
    /// set in the helper's environment, else `/dev/shm`.
    public var writablePaths: [String]
    /// Host directories the kernel only reads but a stranger may not (mode
    /// 0700): when the kernel runs as its own uid (`KernelAccount`), they are
    /// attached as read-only idmapped mounts, so that uid reads them as root's.
    public var readablePaths: [String]
    /// Run the kernel as this unprivileged user instead of the caller (needs
    /// root; the disks and `uml_dir` must be writable by that user), or as
    /// root with "root" (`kernelAsRoot`).
    public var user: String?

    /// Host processes and threads the kernel tree may have at once (the
    /// cgroup's `pids.max`, the kernel uid's RLIMIT_NPROC); nil: 1024
    /// (`KernelLimits`). Lower only to test the limit.
    public var processLimit: Int?

    /// `user` "root": the kernel runs as root, as asked. Otherwise a root
    /// caller's kernel gets a uid of its own (`KernelAccount`), and a boot
    /// where that uid cannot work is refused rather than run as root.
    public var kernelAsRoot: Bool { user == Self.rootUser }
    public static let rootUser = "root"

    public init(mode: Mode = .enforce, writablePaths: [String] = [], readablePaths: [String] = [], user: String? = nil,
                processLimit: Int? = nil) {
        self.mode = mode
        self.processLimit = processLimit
        self.writablePaths = writablePaths
        self.readablePaths = readablePaths
        self.user = user
    }
}
