import ArgumentParser
import Maintenance
#if canImport(Glibc)
import Glibc
#endif

/// Maintenance jobs need root, for now: refused at once, in one line,
/// instead of a job that fails inside the guest. (`corral boot` works for
/// any user: the kernel then runs in a user namespace, in the same jail.)
///
/// Why: a job's guest script runs the host's `mount` and `umount`, which
/// are root's set-uid programs; in a user namespace they show through
/// hostfs as set-uid to the overflow uid, so the guest's root cannot use
/// them (hostfs-init works around it for itself, a job's script does not),
/// and a job stages its outputs beside root's files.
enum RootRequirement {
    /// Throws for a command that needs root when corral is not root.
    /// Exit status: 240, "refused before anything was started", as preflight.
    static func check(_ command: any ParsableCommand) throws {
        guard geteuid() != 0 else { return }
        let name: String
        switch command {
        case is MaintFlattenRsyncCommand, is MaintRebuildCOWCommand, is MaintInstallModulesCommand,
             is MaintFsckCommand, is MaintRunCommand, is MaintShellCommand, is MaintJobCommand:
            name = "maint \(type(of: command).configuration.commandName ?? "")"
        case is MaintJobEntryCommand:
            name = "\(EachRunner.entryPoint) (maint --each's worker)"
        default:
            return
        }
        throw CLIError(
            message: "\(name) needs root (run it with sudo): maintenance jobs run only as root for now (corral boot works for any user); nothing was started",
            status: 240)
    }
}
