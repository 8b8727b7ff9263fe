import Dispatch
import Synchronization

/// The cgroup warm-up of a boot (`SandboxRunner.warmUpCgroupMove`), running
/// on a thread of its own. A boot never waits for the warm-up's move: the
/// helper's move waits by itself if it comes early. ``wait()`` is for
/// whoever must know that the move is over; ``limitsWarning()`` for the
/// launcher's one line when no cgroup can be made, found on the same thread
/// so that the launcher's path to the preflight stays free of it.
public final class CgroupWarmUp: Sendable {
    let done = DispatchSemaphore(value: 0)
    let located = DispatchSemaphore(value: 0)
    /// Why no cgroup can be made for the boot; nil when one can.
    let obstacle = Mutex<SandboxError?>(nil)

    /// Returns once the warm-up's own move has ended. Call once.
    public func wait() { done.wait() }

    /// Called by the warm-up thread once it knows where the cgroups are.
    func found(_ obstacle: SandboxError?) {
        self.obstacle.withLock { $0 = obstacle }
        located.signal()
    }

    /// One line saying that no cgroup will limit the kernel's tree, why, and
    /// what bounds it instead, or nil when the boot gets its cgroup. Waits
    /// for the warm-up thread to have read /proc/self/cgroup (microseconds,
    /// long done by the time the launcher asks). Call once.
    public func limitsWarning(policy: SandboxPolicy) -> String? {
        located.wait()
        return obstacle.withLock { $0 }.map { SandboxRunner.noCgroupWarning($0, policy: policy) }
    }
}
