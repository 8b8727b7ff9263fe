import CorralSystem

/// `corral boot` as a library call: plan, preflight, run.
public enum Boot {
    /// Prints preflight findings on stderr and, if none fails, boots.
    public static func run(_ plan: BootPlan) -> BootExitStatus {
        let issues = Preflight.run(plan)
        for issue in issues { Output.writeAll(2, "corral: \(issue.line)\n") }
        if issues.contains(where: { $0.severity == .failure }) {
            Output.writeAll(2, "corral: \(BootExitStatus.preflightFailed.explanation ?? "") (exit status \(BootExitStatus.preflightFailed.code))\n")
            return .preflightFailed
        }
        if let refusal = DiskCreation.createMissing(plan.commandLine.disks) {
            Output.writeAll(2, "corral: \(refusal.line)\n")
            Output.writeAll(2, "corral: \(BootExitStatus.preflightFailed.explanation ?? "") (exit status \(BootExitStatus.preflightFailed.code))\n")
            return .preflightFailed
        }
        // Held until the boot is over and every kernel process is gone.
        let leases: DiskLeases
        switch DiskLeases.acquire(plan.commandLine.disks, opened: plan.options.openedDisks) {
        case .success(let held): leases = held
        case .failure(let refusal):
            Output.writeAll(2, "corral: \(PreflightIssue(.failure, refusal.message, fix: refusal.fix).line)\n")
            Output.writeAll(2, "corral: \(BootExitStatus.preflightFailed.explanation ?? "") (exit status \(BootExitStatus.preflightFailed.code))\n")
            return .preflightFailed
        }
        return withExtendedLifetime(leases) {
            do {
                var session = try BootSession(plan: plan)
                return session.run()
            } catch {
                Output.writeAll(2, "corral: \(error)\n")
                return .launchFailed
            }
        }
    }
}
