import CSeccomp

#if canImport(Glibc)
import Glibc
#endif

/// A syscall the kernel's seccomp profile does not allow, as the reaper saw
/// it (SECCOMP_RET_USER_NOTIF): what corral reports instead of "killed by
/// signal 31", with the fix.
public struct SeccompDenial: Sendable, Equatable, CustomStringConvertible {
    public var number: Int32
    public var arguments: [UInt64]
    /// The kernel and the profile it ran under.
    public var kernel: String
    public var profile: String

    /// The syscall's name on x86_64, or nil for a number libseccomp does not know.
    public var name: String? {
        guard let cName = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), number) else { return nil }
        defer { free(cName) }
        return String(cString: cName)
    }

    /// Starts every denial report, so the launcher can tell one from a setup error.
    public static let prefix = "the sandbox stopped the kernel"

    public var description: String {
        let args = arguments.prefix(3).map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
        return "\(Self.prefix) \(kernel) at syscall \(name ?? "unknown") (\(number), args \(args), ...), which its seccomp profile (\(profile)) does not allow."
            + " To fix: trace this kernel's profile with scripts/seccomp-profile and add it (Sources/Sandbox/KernelProfile.swift), or boot with --sandbox off if you trust the guest."
    }
}
