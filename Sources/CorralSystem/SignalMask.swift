#if canImport(Glibc)
import Glibc
#endif

/// How corral starts threads other than the main one: with every signal
/// blocked.
///
/// A boot's supervisor blocks SIGCHLD, SIGWINCH and the stop signals in its
/// own thread and reads them from a signalfd (the Launcher's
/// `SupervisorSignals`). The kernel sends a process-directed signal to any
/// thread that does not block it, and there the default action either drops
/// it (SIGCHLD, SIGWINCH) or ends the whole process (SIGTERM, SIGHUP): a
/// `boot --timeout`, whose watchdog thread blocked nothing, missed its
/// kernel's end in 2 runs of 4 and waited for the timeout. A thread inherits
/// the mask of the thread that creates it, so creating it inside
/// ``withAllBlocked(_:)`` is enough.
public enum SignalMask {
    /// Runs `body` (which starts the threads) with every signal blocked in
    /// the calling thread, then restores the caller's mask.
    public static func withAllBlocked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }
}
