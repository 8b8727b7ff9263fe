#if canImport(Glibc)
import Glibc
#endif

/// Crash and contention testing hooks. With `CORRAL_FAULT_KILL_AFTER_WRITES=N`
/// in the environment the process SIGKILLs itself just before its (N+1)th
/// write; with `CORRAL_FAULT_STOP_AT_WRITE=N` it SIGSTOPs itself there
/// (holding its locks). Tests use them to prove that every write order in
/// the engine is recoverable by re-running the command, and that a second
/// process is refused. Unset, they cost one load per write.
enum FaultInjection {
    nonisolated(unsafe) private static var remaining: Int = {
        guard let v = getenv("CORRAL_FAULT_KILL_AFTER_WRITES"), let n = Int(String(cString: v)) else { return -1 }
        return n
    }()

    nonisolated(unsafe) private static var stopAt: Int = {
        guard let v = getenv("CORRAL_FAULT_STOP_AT_WRITE"), let n = Int(String(cString: v)) else { return -1 }
        return n
    }()

    @inline(__always)
    static func beforeWrite() {
        if stopAt >= 0 {
            if stopAt == 0 { kill(getpid(), SIGSTOP) }
            stopAt -= 1
        }
        guard remaining >= 0 else { return }
        if remaining == 0 { kill(getpid(), SIGKILL) }
        remaining -= 1
    }
}
