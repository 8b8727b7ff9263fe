import CorralSystem
import Dispatch
import Sandbox
import Synchronization

/// The kernel's seccomp filter (``KernelFilter``), compiled on a thread of
/// its own while the preflight reads the kernel and the disks, and handed
/// to the helper in its spec: neither the launcher nor the helper then
/// compiles it on the boot's path.
final class FilterCompilation: Sendable {
    private let filter = Mutex<KernelFilter?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Starts compiling the filter `plan`'s kernel runs under; nil when the
    /// sandbox is off.
    static func start(_ plan: BootPlan) -> FilterCompilation? {
        guard plan.policy.mode == .enforce else { return nil }
        let compilation = FilterCompilation()
        let (kernelPath, environment) = (plan.kernelPath, plan.options.environment)
        SignalMask.startThread {
            let compiled = try? KernelFilter.compile(kernelPath: kernelPath, environment: environment)
            compilation.filter.withLock { $0 = compiled }
            compilation.done.signal()
        }
        return compilation
    }

    /// The filter once compiled; nil when compiling failed, and the helper,
    /// compiling its own, then reports why. Waits for the thread; call once.
    func wait() -> KernelFilter? {
        done.wait()
        return filter.withLock { $0 }
    }
}
