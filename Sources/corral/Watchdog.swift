import COWEngine
import CorralSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The last resort behind `--timeout`: if the process is still alive some
/// seconds after its deadline, something blocked where no deadline is
/// checked (an open or stat on a hung network filesystem, before the
/// session's own timer runs); say so and exit 124 rather than hang.
///
/// The session enforces the deadline itself and tears the kernel down well
/// within the grace period, so in a working boot this never fires.
enum Watchdog {
    static func arm(deadline: MonotonicClock.Instant, grace: Double = 10, what: String) {
        SignalMask.startThread {
            while true {
                let left = deadline.seconds + grace - MonotonicClock.seconds()
                if left <= 0 { break }
                usleep(UInt32(min(left, 1) * 1_000_000))
            }
            Console.failure("timed out: \(what) did not respond within the time limit (exit status 124)")
            _exit(124)
        }
    }
}
