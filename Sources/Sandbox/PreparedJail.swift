#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// The part of a jailed boot's set-up that depends on the host and not on
/// the boot: the host probe, the kernel's namespaces, the system half of
/// its root (`MountJail.begin`), the user namespace its idmapped mounts
/// use, the boot's cgroup (made, not yet limited) and the seccomp filter
/// of the kernel the boot is expected to run.
///
/// Why apart: the helper is spawned as corral starts and reads its spec
/// only once the launcher has parsed and planned the boot (`KernelExec`).
/// Made while it waits (``SandboxRunner/prepareJail(kernelPath:)``), these
/// 2-3 ms of every jailed boot run beside the launcher instead of between
/// the spec and the kernel's start. Made at the spec instead when the boot
/// was not expected to be jailed with the default policy: the steps, and
/// so the errors, are the same either way.
///
/// Before the spec only for the default policy (``preparable(_:)``): a
/// root caller's kernel then runs as a uid of its own, which is what the
/// idmap namespace is made for. A boot with another policy takes a fresh
/// helper (`KernelHelper`), and a helper that finds such a spec refuses it
/// (`SandboxRunner.execKernel`).
public struct PreparedJail {
    var host: HostFeatures
    /// The first step that failed; thrown when the spec arrives, where the
    /// same step would have failed.
    var failure: SandboxError?
    /// The filter for the kernel at `path`, compiled (or why not): reused
    /// when the spec names the same path, else compiled anew.
    var filter: (path: String, result: Result<KernelFilter, SandboxError>)?
    /// The boot's cgroup, made without limits (`KernelCgroup.make`).
    var cgroup: KernelCgroup?
    /// A root caller's kernel's uid (`KernelAccount`) and the user
    /// namespace that maps root to it, with the process holding it.
    var account: KernelAccount?
    var idmap: Int32?
    var idmapHolder: pid_t = 0
    /// The kernel's root, system half (`MountJail.begin`): when the kernel
    /// gets a mount namespace and root of its own, and nothing failed.
    var root: JailRoot?

    /// Whether `policy` is one a helper prepares for before its spec, and
    /// so the only one such a helper can boot: the namespaces, once
    /// entered, cannot be left.
    public static func preparable(_ policy: SandboxPolicy) -> Bool {
        policy.mode == .enforce && policy.user == nil
    }
}
