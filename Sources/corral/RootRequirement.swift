import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// Boots need root, for now: refused at once, with the reason, instead of a
/// guest that cannot mount its /proc.
///
/// As another user the guest's init fails its first mount ("must be
/// superuser") and nothing useful can run. This is the single place that
/// says so; when unprivileged boots work (a user namespace), delete this
/// file and its one call in ``CorralCommand/main()``.
enum RootRequirement {
    /// Throws for a command that boots a guest when corral is not root.
    /// Exit status: 240, "refused before anything was started", as preflight.
    static func check(_ command: any ParsableCommand) throws {
        guard geteuid() != 0 else { return }
        let name: String
        switch command {
        case let boot as BootCommand:
            if boot.dryRun { return }
            name = "boot"
        case is MaintFlattenRsyncCommand, is MaintRebuildCOWCommand, is MaintInstallModulesCommand,
             is MaintFsckCommand, is MaintRunCommand, is MaintShellCommand, is MaintJobCommand:
            name = "maint \(type(of: command).configuration.commandName ?? "")"
        default:
            return
        }
        throw CLIError(
            message: "\(name) needs root (run it with sudo): the guest's init must mount its own /proc, /sys and /dev, which fails unless corral runs as root; nothing was started",
            status: 240)
    }
}
