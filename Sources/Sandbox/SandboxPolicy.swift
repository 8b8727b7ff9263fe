/// What the sandbox applies to a UML kernel process tree.
///
/// Travels from the supervising `corral` to its re-exec'd helper as JSON, so
/// it is a plain Codable value. `SandboxRunner.report(policy:)` says what it
/// amounts to on the current host.
public struct SandboxPolicy: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Default-deny seccomp (`Allowlist.uml61`), PID/mount/network/IPC
        /// namespaces with a reaper as PID 1, a read-only root of its own (`JailRoot`), Landlock.
        case enforce
        /// No sandbox at all (still said out loud by the launcher).
        case off
    }

    public var mode: Mode
    /// Host paths that are writable in the kernel's root (`JailRoot`) and
    /// under Landlock: `corral boot` gives the read-write disk files
    /// themselves (never their directories). Each must exist.
    ///
    /// Added automatically, so they need not be listed: the `uml_dir=`
    /// directory from the kernel command line (umid dir, pid file, mconsole
    /// socket; pass one per boot, or UML tries `~/.uml`, which is read-only),
    /// and the directory of UML's memory file: `$TMPDIR`/`$TMP`/`$TEMP` if
    /// set in the helper's environment, else `/dev/shm`.
    public var writablePaths: [String]
    /// Host paths the kernel's root shows read-only beyond the system trees
    /// (`:r` disks, backing files, hostfs-init's directory, a job's script
    /// directory); when the kernel runs as its own uid (`KernelAccount`) they
    /// are idmapped, so that uid reads root's mode-0700 ones as its own.
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
