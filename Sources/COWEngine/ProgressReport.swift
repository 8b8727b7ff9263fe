import CorralSystem

/// Work done so far, for progress displays. Operations call the handler at
/// most every ~100 ms plus once at the end; the CLI decides whether a
/// terminal is there to show it.
public struct ProgressReport: Sendable {
    public var done: UInt64
    public var total: UInt64
    public var finished: Bool
}

public typealias ProgressHandler = @Sendable (ProgressReport) -> Void

/// Rate-limits progress callbacks to one every ~100 ms (plus the final one).
///
/// Operations count in their own unit (bytes, or pages for a bitmap survey);
/// `unit` turns that count into bytes, so every display shows bytes.
struct ProgressThrottle {
    let handler: ProgressHandler?
    let total: UInt64
    let unit: UInt64
    var last: MonotonicClock.Instant?

    init(_ handler: ProgressHandler?, total: UInt64, unit: UInt64 = 1) {
        self.handler = handler
        self.total = total
        self.unit = unit
    }

    mutating func report(_ done: UInt64) {
        guard let handler else { return }
        let now = MonotonicClock.now()
        if let last, now.nanoseconds(since: last) < 100_000_000 { return }
        last = now
        handler(ProgressReport(done: done &* unit, total: total &* unit, finished: false))
    }

    func finish() {
        handler?(ProgressReport(done: total &* unit, total: total &* unit, finished: true))
    }
}
