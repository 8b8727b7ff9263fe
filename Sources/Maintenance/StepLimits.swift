/// How long a job may take to get ready, and each step (or the template
/// code between two steps) to run.
public struct StepLimits: Sendable, Codable {
    /// From boot to READY (kernel start, hostfs-init, the job's prelude).
    public var ready: Double = 120
    /// A step without `-t`, and template code between two steps.
    public var step: Double = 600

    public init(ready: Double = 120, step: Double = 600) {
        self.ready = ready
        self.step = step
    }

    /// A limit the job has run over.
    public struct Overrun: Sendable, Equatable {
        public var reason: String
        /// The step that ran over, when a step did.
        public var step: String?
    }

    /// The limit `timeline` has run over at `now`, or nil. `started`: when
    /// the job's clock started (the boot).
    func overrun(_ timeline: StepTimeline, started: Double, now: Double) -> Overrun? {
        guard timeline.ready else {
            guard now - started > ready else { return nil }
            return Overrun(reason: "the guest did not start the job within \(Int(ready)) s")
        }
        if let running = timeline.running {
            let limit = running.timeout ?? step
            guard limit > 0, now - running.start > limit else { return nil }
            return Overrun(reason: "step '\(running.name)' ran over its \(Int(limit)) s limit", step: running.name)
        }
        guard now - timeline.lastMarker > step else { return nil }
        return Overrun(reason: "the template ran \(Int(step)) s between steps without starting one")
    }
}
