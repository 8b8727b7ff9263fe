/// The launcher's second message to its helper, after ``KernelExecSpec``:
/// the boot is cleared (preflight passed, missing COWs made, disks leased),
/// start the kernel. Until it comes the helper has done everything around
/// the kernel that the spec allows (its session and terminal, and under
/// the sandbox the namespaces, the jail, the cgroup, the seccomp filter,
/// and the kernel's own process with its credentials, Landlock and filter
/// in place, waiting just before its exec), so that all of it runs beside
/// the launcher's preflight instead of after it.
///
/// The go is a few bytes on ``fd``, read by whichever process execs the
/// kernel (the sandbox's kernel child, or the helper itself under
/// `--sandbox off`); it carries nothing, so that reading it costs one
/// wake-up and no decoding. End of file without it means the boot was
/// called off, and nothing is started.
public enum KernelStart {
    /// The helper's descriptor the go arrives on.
    public static let fd: Int32 = 5

    /// What the launcher writes: any bytes would do.
    public static let message: [UInt8] = Array("go".utf8)
}
