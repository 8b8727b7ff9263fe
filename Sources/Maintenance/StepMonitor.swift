#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import Launcher
import Synchronization
import CorralSystem

/// The host side of the step protocol, as the boot's observer: finds this
/// job's markers in the command's output (``MarkerParser``, the framing
/// rule hostfs-init's markers use too), records them in a
/// ``StepTimeline``, hands the rest back byte for byte, and asks the boot
/// to stop when ``StepLimits`` says a step (or the template code between
/// steps) ran over.
///
/// A marker counts once its closing line break arrives. The console holds
/// a line break back until it knows it is not the framing of hostfs-init's
/// EXIT, i.e. until the next bytes or 100 ms of quiet (``ConsoleDemux``), so
/// a silent step's clock may start up to that much late.
public final class StepMonitor: BootObserver {
    public typealias Limits = StepLimits

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

    struct State {
        var parser: MarkerParser
        var timeline: StepTimeline
        /// Deleted on READY; nil once gone.
        var nonceFile: String?
        /// Once a limit is overrun, it stays the reason.
        var overrun: StepLimits.Overrun?
    }

    let limits: Limits
    let passthrough: Bool
    let events: StepEventHandler?
    let started: Double
    let state: Mutex<State>
    /// A line that starts like a marker and runs longer than this without a
    /// line break is passed on as ordinary output, so a guest printing
    /// without line breaks cannot make the monitor hold an unbounded line.
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
    ///   - events: told of each step's start and end and of the output.
    public init(nonce: String, nonceFile: String?, limits: Limits, passthrough: Bool, events: StepEventHandler? = nil) {
        self.events = events
        self.limits = limits
        self.passthrough = passthrough
        let now = StepMonitor.now()
        self.started = now
        self.state = Mutex(State(parser: MarkerParser(nonce: nonce, longestLine: StepMonitor.longestLine),
                                 timeline: StepTimeline(start: now), nonceFile: nonceFile))
    }

    public static func now() -> Double {
        MonotonicClock.seconds()
    }

    /// Follows the markers in `bytes`; returns the ordinary output to show
    /// (empty without passthrough).
    @discardableResult
    public func output(_ bytes: [UInt8]) -> [UInt8] {
        state.withLock { state in
            var shown: [UInt8] = []
            for piece in state.parser.feed(bytes, StepMarker.parse(body:)) {
                switch piece {
                case .text(let text): shown += output(text, &state)
                case .marker(let marker): record(marker, &state)
                }
            }
            return shown
        }
    }

    /// The end of the stream: what was held back (a line break, a line
    /// that only looked like the start of a marker), to show.
    public func outputEnded() -> [UInt8] {
        state.withLock { state in output(state.parser.finish(), &state) }
    }

    public func stopReason(now: Double) -> String? {
        state.withLock { state in
            if state.overrun == nil { state.overrun = limits.overrun(state.timeline, started: started, now: now) }
            return state.overrun?.reason
        }
    }

    /// What the monitor saw; the end of the stream if ``outputEnded()`` did
    /// not come first (what was held back then counts but is not shown).
    public func finish() -> Outcome {
        state.withLock { state in
            _ = output(state.parser.finish(), &state)
            let timeline = state.timeline
            return Outcome(
                ready: timeline.ready, readyAfter: timeline.readyAt.map { $0 - started },
                steps: timeline.results(now: StepMonitor.now()), notes: timeline.notes, unchanged: timeline.unchanged,
                stoppedStep: state.overrun?.step, stopReason: state.overrun?.reason,
                unfinishedStep: timeline.running?.name, done: timeline.done)
        }
    }

    /// Output lines seen outside any step (template code, a failing prelude).
    public func tailBetweenSteps() -> [String] {
        state.withLock { $0.timeline.tailBetweenSteps.lines }
    }

    private func record(_ marker: StepMarker, _ state: inout State) {
        if let event = state.timeline.record(marker, at: StepMonitor.now()) { events?(event) }
        if state.timeline.ready, let nonceFile = state.nonceFile {
            unlink(nonceFile)
            state.nonceFile = nil
        }
    }

    /// Ordinary output: recorded, told, and returned when passed through.
    private func output(_ text: [UInt8], _ state: inout State) -> [UInt8] {
        guard !text.isEmpty else { return [] }
        state.timeline.output(text)
        events?(.output(text))
        return passthrough ? text : []
    }
}
