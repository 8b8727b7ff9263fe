#if canImport(Glibc)
import Glibc
#endif
import Launcher
import Synchronization

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
        var done: Int32?
        var tailBetweenSteps: [String] = []
        var stoppedStep: String?
        var stopReason: String?
    }

    let nonce: String
    let nonceFile: String?
    let limits: Limits
    let passthroughFD: Int32?
    let started: Double
    let state: Mutex<State>
    static let tailLines = 30

    /// - Parameters:
    ///   - nonceFile: deleted on READY, so nothing in the guest can read the
    ///     nonce through hostfs once the first step runs.
    ///   - passthroughFD: where ordinary output goes as it arrives (`run`), or
    ///     nil to keep it for the report only.
    public init(nonce: String, nonceFile: String?, limits: Limits, passthroughFD: Int32?) {
        self.nonce = nonce
        self.nonceFile = nonceFile
        self.limits = limits
        self.passthroughFD = passthroughFD
        let now = StepMonitor.now()
        self.started = now
        self.state = Mutex(State(lastMarker: now))
    }

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public func output(_ bytes: [UInt8]) {
        state.withLock { state in
            for byte in bytes {
                if byte == 10 {
                    let line = String(decoding: state.partial, as: UTF8.self)
                    state.partial.removeAll(keepingCapacity: true)
                    handle(line: line, &state)
                } else {
                    state.partial.append(byte)
                }
            }
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

    /// The end of the stream: any partial line is ordinary output.
    public func finish() -> Outcome {
        state.withLock { state in
            if !state.partial.isEmpty {
                let line = String(decoding: state.partial, as: UTF8.self)
                state.partial.removeAll()
                handle(line: line, &state, terminated: false)
            }
            var steps = state.steps
            if let running = state.running {
                steps.append(StepResult(name: running.name, status: nil,
                                        seconds: StepMonitor.now() - running.start, outputTail: running.tail))
            }
            return Outcome(
                ready: state.ready, readyAfter: state.readyAt.map { $0 - started }, steps: steps,
                notes: state.notes, stoppedStep: state.stoppedStep, stopReason: state.stopReason,
                unfinishedStep: state.running?.name, done: state.done)
        }
    }

    /// Output lines seen outside any step (template code, a failing prelude).
    public func tailBetweenSteps() -> [String] {
        state.withLock { $0.tailBetweenSteps }
    }

    private func handle(line: String, _ state: inout State, terminated: Bool = true) {
        if let marker = StepMarker.parse(line, nonce: nonce) {
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
            case let .exit(step, status):
                let running = state.running
                let seconds = running.map { now - $0.start } ?? 0
                state.steps.append(StepResult(
                    name: step, status: status, seconds: seconds,
                    outputTail: status == 0 ? [] : (running?.tail ?? [])))
                state.running = nil
            case let .note(text):
                state.notes.append(text)
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
            if state.heldEmptyLine { emit("", &state) }
            state.heldEmptyLine = true
            return
        }
        if state.heldEmptyLine {
            state.heldEmptyLine = false
            emit("", &state)
        }
        emit(line, &state, terminated: terminated)
    }

    private func emit(_ line: String, _ state: inout State, terminated: Bool = true) {
        if state.running != nil {
            state.running?.tail.append(line)
            if let count = state.running?.tail.count, count > StepMonitor.tailLines {
                state.running?.tail.removeFirst()
            }
        } else {
            state.tailBetweenSteps.append(line)
            if state.tailBetweenSteps.count > StepMonitor.tailLines { state.tailBetweenSteps.removeFirst() }
        }
        if let fd = passthroughFD {
            writeAll(fd, Array((terminated ? line + "\n" : line).utf8))
        }
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}
