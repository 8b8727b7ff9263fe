import CorralSystem

/// The seccomp filter one boot's kernel runs under, compiled: the program,
/// what happens to a call it does not allow, and the names a denial report
/// gives.
///
/// Compiling takes about a millisecond for a known kernel and three for an
/// unknown one (the union of the profiles is built first), on the boot's
/// path when the helper did it between its start and the kernel's. The
/// launcher now compiles it beside its preflight, which reads the kernel
/// anyway, and hands it over in the helper's spec; the helper compiles its
/// own only when it was given none that fits.
public struct KernelFilter: Codable, Sendable, Equatable {
    /// The kernel binary this filter was chosen for (by its build id).
    public var kernelPath: String
    public var program: BPFProgram
    var notify: ReapedKernel.NotifyMode
    /// The kernel and its profile, as a denial report and a learning file name them.
    public var kernelName: String
    public var profileName: String

    /// The filter for `kernelPath` on this host, as `environment` asks:
    /// learning mode under ``SandboxRunner/learnVariable``.
    public static func compile(kernelPath: String, environment: [String: String]) throws(SandboxError) -> KernelFilter {
        try compile(kernelPath: kernelPath, environment: environment, host: HostFeatures.probe())
    }

    /// Unlisted calls: named by the reaper where the host has seccomp user
    /// notification, let through and recorded when learning, else the filter
    /// kills by itself.
    static func compile(kernelPath: String, environment: [String: String], host: HostFeatures) throws(SandboxError) -> KernelFilter {
        let selection = KernelProfile.select(kernelPath: kernelPath)
        let notify = try notifyMode(environment: environment, host: host)
        let program = try SeccompFilter(allowlist: selection.profile.allowlist,
                                        defaultAction: notify == .none ? .killProcess : .notify).bpf()
        return KernelFilter(kernelPath: kernelPath, program: program, notify: notify,
                            kernelName: selection.kernelName, profileName: selection.profile.allowlist.name)
    }

    /// The learning file `environment` names, if any.
    static func learnPath(_ environment: [String: String]) -> String? {
        environment[SandboxRunner.learnVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    static func notifyMode(environment: [String: String], host: HostFeatures) throws(SandboxError) -> ReapedKernel.NotifyMode {
        let learning = learnPath(environment) != nil
        if learning && !host.seccompNotify {
            throw .unsupported(.seccompNotify)
        }
        return learning ? .learn : host.seccompNotify ? .deny : .none
    }
}
