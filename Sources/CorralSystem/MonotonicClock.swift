#if canImport(Glibc)
import Glibc
#endif

/// The one clock corral measures durations with: CLOCK_MONOTONIC, which never
/// jumps with the wall clock and never runs backwards.
///
/// Progress throttling, rates and ETAs, boot deadlines and step timers all
/// read it, so no two parts of the program can disagree about "now" (the
/// lazily set zero point this replaces was first read *after* the time it
/// was subtracted from, and the negative duration trapped). An instant is a
/// plain count of nanoseconds since an arbitrary fixed origin (the host's
/// boot), so instants can be subtracted in either order without a trap.
/// Self-contained on purpose: it depends on nothing else in the module.
public struct MonotonicClock: Sendable {
    /// A point on the monotonic clock.
    public struct Instant: Sendable, Hashable, Comparable {
        /// Nanoseconds since the clock's origin.
        public var nanoseconds: UInt64

        public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

        /// Seconds as a floating-point number, for deadlines and displays.
        public var seconds: Double { Double(nanoseconds) / 1e9 }

        /// Nanoseconds from `earlier` to this instant; 0 if `earlier` is later.
        public func nanoseconds(since earlier: Instant) -> UInt64 {
            nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0
        }

        /// Seconds from `earlier` to this instant; 0 if `earlier` is later.
        public func seconds(since earlier: Instant) -> Double {
            Double(nanoseconds(since: earlier)) / 1e9
        }

        /// This instant plus `seconds` (negative or NaN counts as 0).
        public func advanced(bySeconds seconds: Double) -> Instant {
            Instant(nanoseconds: nanoseconds &+ UInt64(max(0, seconds.isFinite ? seconds : 0) * 1e9))
        }

        public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    }

    /// The current instant.
    public static func now() -> Instant {
        var ts = timespec()
        // CLOCK_MONOTONIC cannot fail with a valid timespec pointer.
        _ = clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    /// The current instant in seconds, for code that keeps deadlines as Double.
    public static func seconds() -> Double { now().seconds }
}
