/// Work done so far, for progress displays. Operations call the handler at
/// most every ~100 ms plus once at the end; the CLI decides whether a
/// terminal is there to show it.
public struct Progress: Sendable {
    public var done: UInt64
    public var total: UInt64
    public var finished: Bool
}

public typealias ProgressHandler = @Sendable (Progress) -> Void

/// Rate-limits progress callbacks.
struct ProgressThrottle {
    let handler: ProgressHandler?
    let total: UInt64
    var last: UInt64 = 0

    init(_ handler: ProgressHandler?, total: UInt64) {
        self.handler = handler
        self.total = total
    }

    mutating func report(_ done: UInt64) {
        guard let handler else { return }
        let now = Clock.nanoseconds()
        if now - last >= 100_000_000 {
            last = now
            handler(Progress(done: done, total: total, finished: false))
        }
    }

    func finish() {
        handler?(Progress(done: total, total: total, finished: true))
    }
}

enum Clock {
    static func nanoseconds() -> UInt64 {
        let d = ContinuousClock.now - ContinuousClock.Instant.zeroReference
        return UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }
}

extension ContinuousClock.Instant {
    static let zeroReference = ContinuousClock.now
}
