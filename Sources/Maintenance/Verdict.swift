import Launcher

/// Why a job failed, from how its boot ended and what its steps reported;
/// nil when it succeeded. A pure function of the two, so each rule is
/// testable without a boot.
struct Verdict: Equatable {
    var status: Int32
    var reason: String
    /// The step to blame, when one can be named.
    var step: String?

    /// - Parameter tail: the template's last line outside any step.
    init?(_ boot: BootExitStatus, _ outcome: StepMonitor.Outcome, tail: String?) {
        let failed = outcome.steps.last { $0.status != 0 }
        switch boot {
        case .guest(0):
            if let failed {
                let why = failed.status == nil
                    ? "step '\(failed.name)' never reported its end (the console session ended early, or a forged status ended it)"
                    : "step '\(failed.name)' failed"
                self.init(status: failed.status ?? 1, reason: why, step: failed.name)
            } else if outcome.done != 0 {
                // hostfs-init's EXIT marker uses the command-line nonce, which
                // the guest can read; only the job's own DONE line counts.
                self.init(status: 1, reason: "the job reported success without its DONE line (status forged or lost); nothing committed",
                          step: outcome.unfinishedStep)
            } else {
                return nil
            }
        case .guest(let code):
            if let failed {
                self.init(status: code, reason: "step '\(failed.name)' exited with status \(failed.status.map(String.init) ?? "?")",
                          step: failed.name)
            } else if !outcome.ready {
                self.init(status: code, reason: "the job's prelude failed before the first step (status \(code))", step: nil)
            } else {
                let tail = tail.map { ": \($0)" } ?? ""
                self.init(status: code, reason: "the template exited with status \(code) outside any step\(tail)", step: nil)
            }
        case .timedOut:
            self.init(status: boot.code, reason: outcome.stopReason ?? "timed out",
                      step: outcome.stoppedStep ?? outcome.unfinishedStep)
        default:
            self.init(status: boot.code, reason: boot.explanation ?? "the boot failed", step: outcome.unfinishedStep)
        }
    }

    init(status: Int32, reason: String, step: String?) {
        self.status = status
        self.reason = reason
        self.step = step
    }
}
