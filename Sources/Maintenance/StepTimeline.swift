/// What a job's step markers said and when: readiness, each step's start,
/// end and status, notes, and the output seen inside and between steps.
/// A value fed with markers and the time they arrived, so step timing is
/// checked without a kernel; ``StepMonitor`` feeds it from the console.
struct StepTimeline: Sendable {
    struct Running: Sendable {
        var name: String
        var start: Double
        /// As the BEGIN marker gave it: nil for the default, 0 for none.
        var timeout: Double?
        var tail = OutputTail()
    }

    private(set) var readyAt: Double?
    /// When the last marker (or the start) was seen: template code between
    /// steps is timed from here.
    private(set) var lastMarker: Double
    private(set) var running: Running?
    private(set) var steps: [StepResult] = []
    private(set) var notes: [String] = []
    private(set) var unchanged: String?
    private(set) var done: Int32?
    private(set) var tailBetweenSteps = OutputTail()

    var ready: Bool { readyAt != nil }

    init(start: Double) {
        lastMarker = start
    }

    /// Records `marker`, seen at `now`; returns the event it makes for a
    /// caller showing progress, if any.
    mutating func record(_ marker: StepMarker, at now: Double) -> StepEvent? {
        lastMarker = now
        switch marker {
        case .ready:
            if readyAt == nil { readyAt = now }
        case let .begin(step, timeout):
            running = Running(name: step, start: now, timeout: timeout)
            return .started(step: step)
        case let .exit(step, status):
            let seconds = running.map { now - $0.start } ?? 0
            steps.append(StepResult(name: step, status: status, seconds: seconds,
                                    outputTail: status == 0 ? [] : (running?.tail.lines ?? [])))
            running = nil
            return .ended(step: step, status: status, seconds: seconds)
        case let .note(text):
            notes.append(text)
        case let .unchanged(text):
            unchanged = text
        case let .done(status):
            done = status
        }
        return nil
    }

    /// Ordinary output: into the running step's tail, or the tail between steps.
    mutating func output(_ bytes: [UInt8]) {
        if running != nil {
            running?.tail.append(bytes)
        } else {
            tailBetweenSteps.append(bytes)
        }
    }

    /// Every step so far; one still running at `now` without a status.
    func results(now: Double) -> [StepResult] {
        guard let running else { return steps }
        return steps + [StepResult(name: running.name, status: nil, seconds: now - running.start, outputTail: running.tail.lines)]
    }
}
