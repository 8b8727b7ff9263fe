import Dispatch
import Synchronization

/// A boot's helper being put into its cgroup (``SandboxRunner/placeInCgroup(helper:argv:policy:)``),
/// on a thread of its own. A boot never waits for it: the helper joins by
/// itself, before the reaper is born, if it gets its spec first.
/// ``wait()`` is for whoever removes the cgroup, which must not be made
/// again after it is gone; ``limitsWarning(policy:)`` for the launcher's one
/// line when no cgroup can be made, found on the same thread so that the
/// launcher's path to the preflight stays free of it.
public final class CgroupPlacement: Sendable {
    let done = DispatchSemaphore(value: 0)
    let located = DispatchSemaphore(value: 0)
    /// Why no cgroup can be made for the boot; nil when one can.
    let obstacle = Mutex<SandboxError?>(nil)

    /// Returns once the thread has ended. Call once.
    public func wait() { done.wait() }

    /// Called by the thread once it knows where the cgroups are.
    func found(_ obstacle: SandboxError?) {
        self.obstacle.withLock { $0 = obstacle }
        located.signal()
    }

    /// One line saying that no cgroup will limit the kernel's tree, why, and
    /// what bounds it instead, or nil when the boot gets its cgroup. Waits
    /// for the thread to have read /proc/self/cgroup (microseconds, long
    /// done by the time the launcher asks). Call once.
    public func limitsWarning(policy: SandboxPolicy) -> String? {
        located.wait()
        return obstacle.withLock { $0 }.map { SandboxRunner.noCgroupWarning($0, policy: policy) }
    }
}
