/// What a job's step monitor saw, as it happens, for a caller that shows
/// progress (the CLI's step line on a terminal) or keeps the command's
/// output (`maint run --json`). Delivered on the boot's console thread; a
/// handler must return quickly and must not call back into the job.
public enum StepEvent: Sendable {
    /// A step began (its name from the template).
    case started(step: String)
    /// A step ended with `status` after `seconds`.
    case ended(step: String, status: Int32, seconds: Double)
    /// Ordinary output as it arrives, byte for byte (markers and their
    /// framing removed): concatenated, it is what the job's commands wrote.
    case output([UInt8])
}

public typealias StepEventHandler = @Sendable (StepEvent) -> Void
