import ArgumentParser
import Maintenance
#if canImport(Glibc)
import Glibc
#endif

/// Most maintenance jobs need root, for now: refused at once, in one line,
/// instead of a job that fails inside the guest. (`corral boot`, `maint run`
/// and `maint fsck` work for any user: the kernel then runs in a user
/// namespace, in the same jail.)
///
/// `run` and `fsck` work because hostfs-init remounts the guest's hostfs
/// root nosuid in a user namespace, where the host's set-uid `mount` and
/// `umount` would otherwise run as the overflow uid (65534) and refuse; they
/// work on the caller's own disks and stage beside them. The others are not
/// yet shown to work for another user (flatten-rsync and rebuild-cow stage
/// whole images, install-modules copies root's modules, shell and job run
/// arbitrary templates), so they stay refused.
enum RootRequirement {
    /// Throws for a command that needs root when corral is not root.
    /// Exit status: 240, "refused before anything was started", as preflight.
    static func check(_ command: any ParsableCommand) throws {
        guard geteuid() != 0 else { return }
        let name: String
        switch command {
        case is MaintFlattenRsyncCommand, is MaintRebuildCOWCommand, is MaintInstallModulesCommand,
             is MaintShellCommand, is MaintJobCommand:
            name = "maint \(type(of: command).configuration.commandName ?? "")"
        case is MaintJobEntryCommand:
            name = "\(EachRunner.entryPoint) (maint --each's worker)"
        default:
            return
        }
        throw CLIError(
            message: "\(name) needs root (run it with sudo): this job runs only as root for now (corral boot, maint run and maint fsck work for any user); nothing was started",
            status: 240)
    }
}
