import Sandbox

/// What the supervising corral tells its helper (`corral-kernel-exec`, or
/// `corral _kernel-exec`) first: what to boot and how. Travels as JSON on
/// the helper's spec pipe (``specFD``), sent as soon as the boot's uml_dir
/// and console exist (before the preflight when the disks all do);
/// ``KernelStart`` follows once the boot is cleared. The environment says
/// that the pipes are there and, for a boot expected under the default
/// sandbox policy, which kernel (``prepareKey``).
public struct KernelExecSpec: Codable, Sendable, Equatable {
    public var kernelPath: String
    public var argv: [String]
    public var policy: SandboxPolicy
    /// The pty slave that becomes the kernel's controlling terminal and fds 0–2.
    public var ttyPath: String
    /// The supervisor; if it is already gone, the helper does not start the kernel.
    public var parentPID: Int32

    public init(kernelPath: String, argv: [String], policy: SandboxPolicy, ttyPath: String, parentPID: Int32) {
        self.kernelPath = kernelPath
        self.argv = argv
        self.policy = policy
        self.ttyPath = ttyPath
        self.parentPID = parentPID
    }

    /// Set in the helper's environment: absent, the helper was started by hand.
    public static let environmentKey = "CORRAL_KERNEL_EXEC_SPEC"
    /// Set in the helper's environment when the boot is expected to run
    /// under the default sandbox policy: the helper sets up the host's half
    /// of the jail before its spec arrives (`PreparedJail`), and compiles
    /// the filter of the kernel this names (empty: none expected).
    public static let prepareKey = "CORRAL_KERNEL_EXEC_PREPARE"
    /// Setup errors go back on this fd (close-on-exec: EOF means exec happened).
    public static let errorFD: Int32 = 3
    /// The spec arrives on this fd, then end of file; end of file alone
    /// means the boot was called off before it started.
    public static let specFD: Int32 = 4
    /// A bound on the spec, far above any boot's (its argv and policy are a
    /// few KiB at most); reading it costs what arrives, not this.
    static let messageLimit = 4 << 20
    /// What the helper is run as: the second argument is how `ps` and
    /// corral itself (`ProcessName`) tell it from a corral command.
    public static let arguments = ["corral", "_kernel-exec"]
}
