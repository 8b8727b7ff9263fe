#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import Sandbox
import Synchronization

/// The kernel helper of a `corral boot`, spawned as corral starts, before
/// its command line is parsed, and taken by the boot once it is planned
/// (``KernelHelper``).
///
/// Why so early: from its spawn, the helper takes 9-11 ms until the
/// kernel's process waits on the go (loading, and under the sandbox the
/// filter, the jail and the kernel's process), the launcher 3 ms until it
/// says go. Spawned after the parse and the plan (6 ms of ArgumentParser and
/// corral's set-up, on this host kind) the helper was late for the go by
/// about 7 ms on every jailed boot; spawned first, it is set up while they
/// run. The helper learns what to boot only from its spec, so nothing of
/// the command line is needed to spawn it; but what it sets up before the
/// spec (the jail's namespaces, the system half of its root and the
/// kernel's filter, `PreparedJail`) is worth 2-3 ms of each jailed boot,
/// so it is told when the command line reads as a boot under the default
/// policy, and which kernel (``expectedKernel(_:environment:)``).
///
/// A helper nobody takes (the command line was not a boot after all, or
/// the boot's options spawn another kind) is stopped by ``discard()``, and
/// in any case reads end of file on its spec pipe when corral exits, and
/// then ends without starting anything (`KernelExec`).
public enum EarlyKernelHelper {
    /// The helper spawned and not yet taken, with what it was spawned as.
    private struct Pending: @unchecked Sendable {
        var spawned: KernelHelper.Spawned
        var executable: String
        var environment: [String: String]
        /// Whether it sets up the default policy's jail before its spec.
        var prepared: Bool
    }

    private static let pending = Mutex<Pending?>(nil)

    /// Spawns the helper when `arguments` (this process's, the command name
    /// first) ask for a boot: `boot`, without `--dry-run`, `--help` or `-h`,
    /// which boot nothing. It is spawned as a boot with default options
    /// would spawn it (`BootOptions.helperExecutable`), with `environment`.
    /// A spawn that fails is left to the boot, which spawns again and
    /// reports the failure.
    ///
    /// When the command line looks like a boot under the default sandbox
    /// policy (``expectedKernel(_:environment:)``), the helper is told so,
    /// and sets up the host's half of the jail and the kernel's filter
    /// while corral parses and plans (`PreparedJail`).
    public static func start(arguments: [String], environment: [String: String]) {
        guard arguments.dropFirst().first == "boot",
              !arguments.dropFirst(2).contains(where: { ["--dry-run", "--help", "-h"].contains($0) }) else { return }
        let executable = Resources.installedKernelHelper
        let expected = expectedKernel(arguments.dropFirst(2), environment: environment)
        guard let spawned = try? KernelHelper.spawn(executable: executable, environment: environment,
                                                    expecting: expected) else { return }
        let old = pending.withLock { slot in
            defer { slot = Pending(spawned: spawned, executable: executable, environment: environment, prepared: expected != nil) }
            return slot
        }
        if let old { stop(old) }
    }

    /// The kernel a boot with `arguments` (those after `boot`) runs when it
    /// runs under the default sandbox policy (no `--sandbox` other than
    /// `enforce`, no `--sandbox-user`), as ``Resources/kernelPath(_:environment:)``
    /// resolves it ("" when it does not resolve); nil for any other policy.
    /// A guess ahead of ArgumentParser, read as it reads options up to
    /// `--`: the plan has the last word, and a helper prepared for a boot
    /// the plan does not make is not taken (``take(executable:environment:policy:)``).
    static func expectedKernel(_ arguments: ArraySlice<String>, environment: [String: String]) -> String? {
        var kernel = Resources.defaultKernel
        var index = arguments.startIndex
        func value(of option: String) -> String? {
            let argument = arguments[index]
            if argument.hasPrefix(option + "=") { return String(argument.dropFirst(option.count + 1)) }
            guard argument == option else { return nil }
            index += 1
            return index < arguments.endIndex ? arguments[index] : ""
        }
        while index < arguments.endIndex, arguments[index] != "--" {
            if arguments[index] == "--sandbox-user" || arguments[index].hasPrefix("--sandbox-user=") { return nil }
            if let mode = value(of: "--sandbox") {
                if mode != SandboxPolicy.Mode.enforce.rawValue { return nil }
            } else if let name = value(of: "--kernel") {
                kernel = name
            }
            index += 1
        }
        return (try? Resources.kernelPath(kernel, environment: environment)) ?? ""
    }

    /// The helper spawned as `executable` with `environment`, once; nil when
    /// none was, or it was spawned as something else (then it is stopped).
    /// A helper that set up the default policy's jail is taken only for a
    /// boot with that policy: its namespaces cannot be left.
    static func take(executable: String, environment: [String: String], policy: SandboxPolicy) -> KernelHelper.Spawned? {
        guard let taken = pending.withLock({ slot in defer { slot = nil }; return slot }) else { return nil }
        if taken.executable == executable && taken.environment == environment
            && (!taken.prepared || PreparedJail.preparable(policy)) {
            return taken.spawned
        }
        stop(taken)
        return nil
    }

    /// Stops a helper spawned and not taken: end of file on its pipes (it
    /// ends at once, having started nothing), then it is killed and reaped
    /// so that none is left behind. Does nothing when there is none.
    public static func discard() {
        if let taken = pending.withLock({ slot in defer { slot = nil }; return slot }) { stop(taken) }
    }

    /// Kills and reaps the helper, and removes the cgroup one that prepared
    /// a jail may have made.
    private static func stop(_ pending: Pending) {
        let pid = pending.spawned.pid
        _ = corral_launch_kill(pid, SIGKILL)
        var exited: Int32 = 0
        var code: Int32 = 0
        _ = corral_launch_wait(pid, 0, &exited, &code)
        if pending.prepared { SandboxRunner.removeCgroup(helper: pid) }
    }
}
