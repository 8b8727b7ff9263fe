#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
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
/// the command line is needed to spawn it.
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
    }

    private static let pending = Mutex<Pending?>(nil)

    /// Spawns the helper when `arguments` (this process's, the command name
    /// first) ask for a boot: `boot`, without `--dry-run`, `--help` or `-h`,
    /// which boot nothing. It is spawned as a boot with default options
    /// would spawn it (`BootOptions.helperExecutable`), with `environment`.
    /// A spawn that fails is left to the boot, which spawns again and
    /// reports the failure.
    public static func start(arguments: [String], environment: [String: String]) {
        guard arguments.dropFirst().first == "boot",
              !arguments.dropFirst(2).contains(where: { ["--dry-run", "--help", "-h"].contains($0) }) else { return }
        let executable = Resources.installedKernelHelper
        guard let spawned = try? KernelHelper.spawn(executable: executable, environment: environment) else { return }
        let old = pending.withLock { slot in
            defer { slot = Pending(spawned: spawned, executable: executable, environment: environment) }
            return slot
        }
        if let old { stop(old.spawned) }
    }

    /// The helper spawned as `executable` with `environment`, once; nil when
    /// none was, or it was spawned as something else (then it is stopped).
    static func take(executable: String, environment: [String: String]) -> KernelHelper.Spawned? {
        guard let taken = pending.withLock({ slot in defer { slot = nil }; return slot }) else { return nil }
        if taken.executable == executable && taken.environment == environment { return taken.spawned }
        stop(taken.spawned)
        return nil
    }

    /// Stops a helper spawned and not taken: end of file on its pipes (it
    /// ends at once, having started nothing), then it is killed and reaped
    /// so that none is left behind. Does nothing when there is none.
    public static func discard() {
        if let taken = pending.withLock({ slot in defer { slot = nil }; return slot }) { stop(taken.spawned) }
    }

    private static func stop(_ spawned: KernelHelper.Spawned) {
        let pid = spawned.pid
        _ = corral_launch_kill(pid, SIGKILL)
        var exited: Int32 = 0
        var code: Int32 = 0
        _ = corral_launch_wait(pid, 0, &exited, &code)
    }
}
