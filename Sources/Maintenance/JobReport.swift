/// What a job did, for the summary line and `--json`.
public struct JobReport: Sendable, Codable {
    public var job: String
    /// The guest the job was about: the first disk's file.
    public var guest: String?
    public var ok: Bool
    /// corral's exit status for this job: 0, the failing step's status, or a
    /// boot status (124 step timeout, 240–244, see `corral boot --help`).
    public var exitStatus: Int32
    public var failedStep: String?
    /// One line: why it failed.
    public var reason: String?
    public var steps: [StepResult]
    /// What changed (or, on failure, what was left untouched).
    public var changes: [String]
    /// Whether a user's file was written: false for a read-only job, a failed
    /// job that replaced nothing, and a job that found nothing to do (its
    /// template said `unchanged`, e.g. install-modules of a tree already
    /// there), so callers such as configuration tools can report "no change".
    public var changed: Bool
    public var seconds: Double
    /// From the start of the boot to the guest's READY (boot overhead).
    public var secondsToReady: Double?
    public var log: String?
    /// `--dry-run`: what the job would do (then `changed` is false, since
    /// nothing was written, and `plan.changed` holds the answer).
    public var plan: JobPlan?
    /// The failing step's last output lines (at most 12), for the caller to
    /// show under the summary; also in `steps`, so not a JSON key of its own.
    public var failedStepOutput: [String] = []

    private enum CodingKeys: String, CodingKey {
        case job, guest, ok, exitStatus, failedStep, reason, steps, changes, changed, seconds, secondsToReady, log, plan
    }

    public init(job: String, guest: String?, ok: Bool, exitStatus: Int32, failedStep: String? = nil,
                reason: String? = nil, steps: [StepResult] = [], changes: [String] = [], changed: Bool = false,
                seconds: Double = 0, secondsToReady: Double? = nil, log: String? = nil) {
        self.job = job
        self.guest = guest
        self.ok = ok
        self.exitStatus = exitStatus
        self.failedStep = failedStep
        self.reason = reason
        self.steps = steps
        self.changes = changes
        self.changed = changed
        self.seconds = seconds
        self.secondsToReady = secondsToReady
        self.log = log
    }

    /// The one-line summary.
    public var summary: String {
        let time = String(format1(seconds)) + " s"
        let who = guest.map { " \($0)" } ?? ""
        if let plan, ok {
            return "\(job)\(who): dry run: \(plan.reason)"
        }
        if ok {
            let what = changes.isEmpty ? "" : ": " + changes.joined(separator: "; ")
            return "\(job)\(who): ok in \(time)\(what)"
        }
        let step = failedStep.map { " at step '\($0)'" } ?? ""
        return "\(job)\(who): FAILED\(step) (exit \(exitStatus)) after \(time): \(reason ?? "failed")"
            + (changes.isEmpty ? "" : "; " + changes.joined(separator: "; "))
    }
}

func format1(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
