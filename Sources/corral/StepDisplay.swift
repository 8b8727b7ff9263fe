import COWEngine
import CorralSystem
import Foundation
import Maintenance

/// A maintenance job's steps as they run, on stderr when it is a terminal:
/// the running step's name and its elapsed time, redrawn each second, and
/// one line per finished step. Nothing on a pipe or with `-q`.
final class StepDisplay: @unchecked Sendable {
    private let job: String
    private let lock = NSLock()
    private var current: (name: String, start: MonotonicClock.Instant)?
    private var drawn = false
    private var done = false

    private init(job: String) { self.job = job }

    static func make(job: String, quiet: Bool) -> StepDisplay? {
        guard !quiet, Console.isTerminal.err else { return nil }
        let display = StepDisplay(job: job)
        SignalMask.startThread { [display] in
            while display.tick() { usleep(1_000_000) }
        }
        return display
    }

    func handle(_ event: StepEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .started(let step):
            current = (step, MonotonicClock.now())
            draw()
        case .ended(let step, let status, let seconds):
            current = nil
            let mark = status == 0 ? "ok" : "FAILED (\(status))"
            Console.write(2, "\r\u{1B}[K" + "\(job): \(step): \(mark) in \(String(format: "%.1f", seconds)) s\n")
            drawn = false
        case .output:
            break
        }
    }

    /// Redraws the running step; false once the job is over.
    private func tick() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        if current != nil { draw() }
        return true
    }

    private func draw() {
        guard let current else { return }
        let elapsed = Int(MonotonicClock.now().seconds(since: current.start))
        Console.write(2, "\r\(job): \(current.name) … \(elapsed) s\u{1B}[K")
        drawn = true
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        done = true
        if drawn { Console.write(2, "\r\u{1B}[K") }
        drawn = false
    }
}
