#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import Foundation
import Sandbox

/// The supervisor's side of the spawn: `corral _kernel-exec` (``KernelExec``)
/// started with its spec in the environment and an error pipe on fd 3,
/// which reads as end of file once the helper has exec'd the kernel.
final class KernelHelper {
    /// The helper's pid, which its setsid makes the boot's session id.
    let pid: pid_t
    /// The read end of the error pipe until it ends.
    var errors: Descriptor?

    init(_ plan: BootPlan, ttyPath: String, filter: KernelFilter?) throws(LauncherError) {
        var pipeFDs: [Int32] = [0, 0]
        guard corral_launch_pipe(&pipeFDs) == 0 else { throw .launch("pipe failed: \(SystemError.describe(corral_errno()))") }
        let readEnd = Descriptor(owning: pipeFDs[0], name: "the kernel helper's error pipe")
        let writeEnd = Descriptor(owning: pipeFDs[1], name: "the kernel helper's error pipe")
        let spec = KernelExecSpec(
            kernelPath: plan.kernelPath, argv: plan.argv, policy: plan.policy,
            ttyPath: ttyPath, parentPID: getpid(), filter: filter)
        guard let json = try? JSONEncoder().encode(spec) else { throw .launch("cannot encode the helper spec") }
        let environment = Self.environment(plan.options.environment, spec: String(decoding: json, as: UTF8.self))
        var helper: pid_t = 0
        let spawnError = withCStrings(["corral", "_kernel-exec"]) { argv in
            withCStrings(environment) { envp in
                corral_launch_spawn(plan.options.helperExecutable, argv, envp, writeEnd.fd, &helper)
            }
        }
        withExtendedLifetime(writeEnd) {}
        if spawnError != 0 {
            throw .launch("cannot start the kernel helper \(plan.options.helperExecutable): \(SystemError.describe(spawnError))")
        }
        pid = helper
        errors = readEnd
    }

    /// The helper's environment: the caller's, with the spec added and
    /// TMPDIR dropped. UML puts its physical-memory file in $TMPDIR, else
    /// /dev/shm; without TMPDIR it lands on tmpfs (UML warns otherwise, and a
    /// disk-backed guest memory is slow), and the sandbox need not leave all
    /// of /tmp writable.
    static func environment(_ environment: [String: String], spec: String) -> [String] {
        let dropped: Set<String> = [KernelExecSpec.environmentKey, "TMPDIR", "TMP", "TEMP"]
        return environment.filter { !dropped.contains($0.key) }.map { "\($0.key)=\($0.value)" }
            + ["\(KernelExecSpec.environmentKey)=\(spec)"]
    }
}
