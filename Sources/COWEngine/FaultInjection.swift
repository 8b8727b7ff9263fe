#if canImport(Glibc)
import Glibc
#endif

/// Crash testing hook: with `CORRAL_FAULT_KILL_AFTER_WRITES=N` in the
/// environment, the process SIGKILLs itself just before its (N+1)th data
/// write. Tests use it to prove that every write order in the engine is
/// recoverable by re-running the command. Unset, it costs one load per write.
enum FaultInjection {
    nonisolated(unsafe) private static var remaining: Int = {
        guard let v = getenv("CORRAL_FAULT_KILL_AFTER_WRITES"), let n = Int(String(cString: v)) else { return -1 }
        return n
    }()

    @inline(__always)
    static func beforeWrite() {
        guard remaining >= 0 else { return }
        if remaining == 0 { kill(getpid(), SIGKILL) }
        remaining -= 1
    }
}
