import Sandbox

/// The launcher's second message to its helper, after ``KernelExecSpec``:
/// the boot is cleared (preflight passed, missing COWs made, disks leased),
/// start the kernel. Until it comes the helper has done everything around
/// the kernel that the spec allows (its session and terminal, and under
/// the sandbox the namespaces, the jail and the cgroup) and waits, so that
/// this work runs beside the launcher's preflight instead of after it.
/// Travels as JSON on ``fd``; end of file without it means the boot was
/// called off, and the helper exits without starting anything.
public struct KernelStart: Codable, Sendable, Equatable {
    /// The kernel's seccomp filter, compiled by the launcher beside the
    /// preflight; nil: the helper compiles it (and reports why it cannot).
    public var filter: KernelFilter?

    public init(filter: KernelFilter?) {
        self.filter = filter
    }

    /// The helper's descriptor this arrives on.
    public static let fd: Int32 = 5
}
