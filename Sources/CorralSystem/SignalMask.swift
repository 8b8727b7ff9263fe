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
/// the mask of the thread that creates it, so ``startThread(_:)`` creates it
/// with every signal blocked in the caller for that moment.
public enum SignalMask {
    /// Starts `body` on a new detached thread that takes no signal. A
    /// thread that cannot be made stops the program, as Foundation's
    /// `Thread.detachNewThread` does: its callers wait for the thread.
    public static func startThread(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, context)
        guard started == 0 else { fatalError("pthread_create failed: \(SystemError.describe(started))") }
        pthread_detach(thread)
    }
}

/// A thread's body, handed through pthread_create's one pointer.
private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
