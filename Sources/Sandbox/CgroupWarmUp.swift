import Dispatch

/// The cgroup warm-up of a boot (`SandboxRunner.warmUpCgroupMove`), running
/// on a thread of its own. A boot never waits for it: the helper's move
/// waits by itself if it comes early. ``wait()`` is for whoever must know
/// that the warm-up is over.
public final class CgroupWarmUp: Sendable {
    let done = DispatchSemaphore(value: 0)

    /// Returns once the warm-up's own move has ended. Call once.
    public func wait() { done.wait() }
}
