#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import Launcher
import Synchronization
import CorralSystem

/// The host side of the step protocol: reads the guest command's output
/// line by line, believes only marker lines carrying this job's nonce,
/// times every step, and asks the boot to stop when a step (or the template
/// code between steps) runs over its limit.
public final class StepMonitor: BootObserver {
    public struct Limits: Sendable {
        /// From boot to READY (kernel start, hostfs-init, the job's prelude).
        public var ready: Double = 120
        /// A step without `-t`, and template code between two steps.
        public var step: Double = 600
        public init(ready: Double = 120, step: Double = 600) {
            self.ready = ready
            self.step = step
        }
    }

    /// What the monitor saw, once the boot is over.
    public struct Outcome: Sendable {
        public var ready: Bool
        public var readyAfter: Double?
        public var steps: [StepResult]
        public var notes: [String]
        /// The template said nothing needed changing (`unchanged TEXT`): TEXT.
        public var unchanged: String?
        /// Set when the monitor stopped the boot: which step, and why.
        public var stoppedStep: String?
        public var stopReason: String?
        /// The step that began and never ended, if any.
        public var unfinishedStep: String?
        /// The job script's status from its DONE line; nil if it never came.
        public var done: Int32?
    }

    struct Running {
        var name: String
        var start: Double
        var limit: Double?
        var tail: [String] = []
    }

    struct State {
        var partial: [UInt8] = []
        /// The line in `partial` began before a cut at `longestLine`: its
        /// rest is ordinary output, never a marker.
        var midLine = false
        var heldEmptyLine = false
        /// The protocol follows each marker with an empty line (so the
        /// console does not hold the marker's line break back); drop it.
        var afterMarker = false
        var ready = false
        var readyAt: Double?
        var lastMarker: Double
        var running: Running?
        var steps: [StepResult] = []
        var notes: [String] = []
        var unchanged: String?
        var done: Int32?
        var tailBetweenSteps: [String] = []
        var stoppedStep: String?
        var stopReason: String?
        /// Passthrough bytes for the current `output` call, handed back to the boot.
        var shown: [UInt8] = []
    }

    let nonce: String
    let nonceFile: String?
    let limits: Limits
    let passthrough: Bool
    let events: StepEventHandler?
    let started: Double
    let state: Mutex<State>
    static let tailLines = 30
    /// A line longer than this is passed on in pieces as it arrives (and is
    /// never a marker), so a guest printing without line breaks cannot make
    /// the monitor hold an unbounded line.
    static let longestLine = 64 * 1024

    /// - Parameters:
    ///   - nonceFile: deleted on READY, so nothing in the guest can read the
    ///     nonce through hostfs once the first step runs.
    ///   - passthrough: whether ordinary output (everything but this job's
    ///     markers) is handed back from ``output(_:)`` for the boot to show on
    ///     stdout (`run`), byte for byte; otherwise it is kept for the report
    ///     only. The monitor never writes: the boot queues what it hands back
    ///     and writes it without blocking, so a stdout nobody reads stalls
    ///     neither the step limits nor a stop signal. Once that queue holds
    ///     256 KiB the boot stops reading the console and the guest waits,
    ///     as any writer to a full pipe does; nothing is dropped while the job
    ///     runs. What is still queued when the boot ends gets at most 2 s
    ///     after a stop (a signal, a step limit); the rest is dropped with one
    ///     line on stderr, and a signal that cuts it short fails the job.
    ///   - events: told of each step's start and end and of each output line.
    public init(nonce: String, nonceFile: String?, limits: Limits, passthrough: Bool, events: StepEventHandler? = nil) {
        self.events = events
        self.nonce = nonce
        self.nonceFile = nonceFile
        self.limits = limits
        self.passthrough = passthrough
        let now = StepMonitor.now()
        self.started = now
        self.state = Mutex(State(lastMarker: now))
    }

    public static func now() -> Double {
        MonotonicClock.seconds()
    }

    /// Follows the markers in `bytes`; returns the ordinary output to show
    /// (empty without passthrough).
    @discardableResult
    public func output(_ bytes: [UInt8]) -> [UInt8] {
        state.withLock { state in
            var start = bytes.startIndex
            while let newline = bytes[start...].firstIndex(of: 10) {
                state.partial += bytes[start..<newline]
                let line = state.partial
                state.partial.removeAll(keepingCapacity: true)
                handle(line: line, &state)
                start = newline + 1
            }
            state.partial += bytes[start...]
            if state.partial.count >= StepMonitor.longestLine {
                let piece = state.partial
                state.partial.removeAll(keepingCapacity: true)
                handle(line: piece, &state, terminated: false, cut: true)
            }
            return takeShown(&state)
        }
    }

    /// The end of the stream: a last line without its line break, to show.
    public func outputEnded() -> [UInt8] {
        state.withLock { state in
            endOfStream(&state)
            return takeShown(&state)
        }
    }

    public func stopReason(now: Double) -> String? {
        state.withLock { state in
            if let reason = state.stopReason { return reason }
            var reason: String?
            if !state.ready {
                if now - started > limits.ready {
                    reason = "the guest did not start the job within \(Int(limits.ready)) s"
                }
            } else if let running = state.running {
                if let limit = running.limit, limit > 0, now - running.start > limit {
                    reason = "step '\(running.name)' ran over its \(Int(limit)) s limit"
                    state.stoppedStep = running.name
                }
            } else if now - state.lastMarker > limits.step {
                reason = "the template ran \(Int(limits.step)) s between steps without starting one"
            }
            state.stopReason = reason
            return reason
        }
    }

    /// What the monitor saw; the end of the stream if ``outputEnded()`` did
    /// not come first (its partial line then counts but is not shown).
    public func finish() -> Outcome {
        state.withLock { state in
            endOfStream(&state)
            state.shown.removeAll()
            var steps = state.steps
            if let running = state.running {
                steps.append(StepResult(name: running.name, status: nil,
                                        seconds: StepMonitor.now() - running.start, outputTail: running.tail))
            }
            return Outcome(
                ready: state.ready, readyAfter: state.readyAt.map { $0 - started }, steps: steps,
                notes: state.notes, unchanged: state.unchanged, stoppedStep: state.stoppedStep, stopReason: state.stopReason,
                unfinishedStep: state.running?.name, done: state.done)
        }
    }

    /// Any partial line is ordinary output (or a marker missing its line break).
    private func endOfStream(_ state: inout State) {
        if !state.partial.isEmpty {
            let line = state.partial
            state.partial.removeAll()
            handle(line: line, &state, terminated: false)
        }
    }

    private func takeShown(_ state: inout State) -> [UInt8] {
        let shown = state.shown
        state.shown.removeAll()
        return shown
    }

    /// Output lines seen outside any step (template code, a failing prelude).
    public func tailBetweenSteps() -> [String] {
        state.withLock { $0.tailBetweenSteps }
    }

    /// One line without its line break (`terminated`: it had one). A `cut`
    /// is the start of an overlong line, passed on before its end arrives.
    private func handle(line: [UInt8], _ state: inout State, terminated: Bool = true, cut: Bool = false) {
        if state.midLine || cut {
            // Part of an overlong line: ordinary output, kept apart from the
            // empty-line handling below (an empty rest is no empty line).
            if !state.midLine {
                state.afterMarker = false
                if state.heldEmptyLine {
                    state.heldEmptyLine = false
                    emit([], &state)
                }
            }
            state.midLine = cut
            emit(line, &state, terminated: terminated)
            return
        }
        if let marker = StepMarker.parse(String(decoding: line, as: UTF8.self), nonce: nonce) {
            // The protocol puts a line break before each marker; drop that empty line.
            state.heldEmptyLine = false
            state.afterMarker = true
            let now = StepMonitor.now()
            state.lastMarker = now
            switch marker {
            case .ready:
                if !state.ready {
                    state.ready = true
                    state.readyAt = now
                    if let nonceFile { unlink(nonceFile) }
                }
            case let .begin(step, timeout):
                state.running = Running(name: step, start: now, limit: timeout ?? limits.step)
                events?(.started(step: step))
            case let .exit(step, status):
                let running = state.running
                let seconds = running.map { now - $0.start } ?? 0
                state.steps.append(StepResult(
                    name: step, status: status, seconds: seconds,
                    outputTail: status == 0 ? [] : (running?.tail ?? [])))
                state.running = nil
                events?(.ended(step: step, status: status, seconds: seconds))
            case let .note(text):
                state.notes.append(text)
            case let .unchanged(text):
                state.unchanged = text
            case let .done(status):
                state.done = status
            }
            return
        }
        if line.isEmpty && terminated && state.afterMarker {
            state.afterMarker = false
            return
        }
        state.afterMarker = false
        if line.isEmpty && terminated {
            if state.heldEmptyLine { emit([], &state) }
            state.heldEmptyLine = true
            return
        }
        if state.heldEmptyLine {
            state.heldEmptyLine = false
            emit([], &state)
        }
        emit(line, &state, terminated: terminated)
    }

    private func emit(_ line: [UInt8], _ state: inout State, terminated: Bool = true) {
        events?(.output(terminated ? line + [10] : line))
        let text = String(decoding: line, as: UTF8.self)
        if state.running != nil {
            state.running?.tail.append(text)
            if let count = state.running?.tail.count, count > StepMonitor.tailLines {
                state.running?.tail.removeFirst()
            }
        } else {
            state.tailBetweenSteps.append(text)
            if state.tailBetweenSteps.count > StepMonitor.tailLines { state.tailBetweenSteps.removeFirst() }
        }
        if passthrough {
            state.shown += line
            if terminated { state.shown.append(10) }
        }
    }
}
