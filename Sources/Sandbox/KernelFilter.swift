import CorralSystem

/// The seccomp filter one boot's kernel runs under, compiled: the program,
/// what happens to a call it does not allow, and the names a denial report
/// gives.
///
/// Compiling takes about a millisecond for a known kernel and three for an
/// unknown one (the union of the profiles is built first). The helper
/// compiles it while the launcher's preflight runs, before the kernel's
/// process is forked, which installs it and then waits for the go: none
/// of it is on the boot's path.
struct KernelFilter: Sendable {
    var program: BPFProgram
    var notify: ReapedKernel.NotifyMode
    /// The kernel and its profile, as a denial report and a learning file name them.
    var kernelName: String
    var profileName: String

    /// The filter for `kernelPath` (its profile chosen by build id) on
    /// `host`, as `environment` asks: learning mode under
    /// ``SandboxRunner/learnVariable``. Unlisted calls are named by the
    /// reaper where the host has seccomp user notification, let through and
    /// recorded when learning, else the filter kills by itself.
    static func compile(kernelPath: String, environment: [String: String], host: HostFeatures) throws(SandboxError) -> KernelFilter {
        let selection = KernelProfile.select(kernelPath: kernelPath)
        let notify = try notifyMode(environment: environment, host: host)
        let program = try SeccompFilter(allowlist: selection.profile.allowlist,
                                        defaultAction: notify == .none ? .killProcess : .notify).bpf()
        return KernelFilter(program: program, notify: notify,
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
