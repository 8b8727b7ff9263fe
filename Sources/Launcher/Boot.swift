import CorralSystem
import Sandbox

/// `corral boot` as a library call: plan, preflight, run.
public enum Boot {
    /// Preflights `plan` and, if nothing fails, boots it. What the user
    /// should hear (each preflight finding, why a boot ended as it did)
    /// goes to the plan's ``BootOptions/events``; nothing is printed here.
    public static func run(_ plan: BootPlan) -> BootExitStatus {
        let events = plan.options.events
        // First, so that the helper loads and sets up around the kernel while
        // the preflight runs; it starts the kernel only when told, and a
        // refused boot kills it (KernelHelper).
        let helper = Result { () throws(LauncherError) in try KernelHelper(plan) }
        let workspace = Result { () throws(LauncherError) in try BootWorkspace(plan) }
        if case .success(let spawned) = helper, case .success(let made) = workspace,
           BootWorkspace.writablePathsExist(plan) {
            spawned.send(plan, in: made)
        }
        let issues = Preflight.run(plan)
        for issue in issues { events?(.diagnostic(.preflight(issue))) }
        if issues.contains(where: { $0.severity == .failure }) {
            events?(.diagnostic(.ended(.preflightFailed)))
            return .preflightFailed
        }
        if let refusal = DiskCreation.createMissing(plan.commandLine.disks) {
            events?(.diagnostic(.preflight(refusal)))
            events?(.diagnostic(.ended(.preflightFailed)))
            return .preflightFailed
        }
        // Held until the boot is over and every kernel process is gone.
        let leases: DiskLeases
        switch DiskLeases.acquire(plan.commandLine.disks, opened: plan.options.openedDisks) {
        case .success(let held): leases = held
        case .failure(let refusal):
            events?(.diagnostic(.preflight(PreflightIssue(.failure, refusal.message, hint: refusal.hint))))
            events?(.diagnostic(.ended(.preflightFailed)))
            return .preflightFailed
        }
        return withExtendedLifetime(leases) {
            do {
                var session = try BootSession(plan: plan, helper: helper, workspace: workspace)
                return session.run()
            } catch {
                events?(.diagnostic(.launchFailed("\(error)")))
                return .launchFailed
            }
        }
    }
}
