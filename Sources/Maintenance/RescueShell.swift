import CorralSystem
import Launcher

/// `corral maint shell`: the rescue shell, interactive, with the disks staged
/// as for any job (sources read-only, small-block COWs through a flat image,
/// writable disks on a copy) and mounted where asked.
///
/// The guest runs `lib/shell.sh` after the step library (whose `mount_ro`
/// it uses; the library's markers are silenced). There are no steps to
/// watch, so the console goes straight to the terminal (no observer). The
/// shell's exit status decides: 0 (a plain `exit`) replaces the originals
/// with the changed copies, anything else drops them.
public enum RescueShell {
    /// The status the guest script ends with when a mount failed and no
    /// shell started, so the report can say so instead of blaming a shell
    /// that never ran. A user's own `exit 125` reads the same; that is the
    /// price of having only an exit status to carry it.
    static let noShellStatus: Int32 = 125

    /// The script's variables: one "MODE DEVICE DIR" line per mount, and
    /// the status that means no shell started.
    static func variables(_ request: ShellRequest) -> [(String, String)] {
        let lines = request.mounts.map { mount in
            let readOnly = request.disks.contains { $0.unit == mount.unit && $0.isReadOnly }
            return "\(readOnly ? "ro" : "rw") /dev/\(DiskSpec.deviceName(unit: mount.unit)) \(mount.directory)"
        }
        return [("corral_mounts", lines.joined(separator: "\n")), ("corral_no_shell", String(noShellStatus))]
    }

    /// The step library's functions without its protocol: its READY line
    /// and DONE trap are for jobs with steps.
    static func functions(of stepLibrary: String) -> String {
        "{\n" + stepLibrary + "\n} >/dev/null\ntrap - EXIT\n"
    }

    public static func run(_ request: ShellRequest) -> JobReport {
        let started = StepMonitor.now()
        let guest = request.disks.first?.file
        func report(ok: Bool, _ status: Int32, reason: String? = nil, changes: [String], changed: Bool = false) -> JobReport {
            JobReport(job: "shell", guest: guest, ok: ok, exitStatus: status, reason: reason, changes: changes,
                      changed: changed, seconds: StepMonitor.now() - started, log: request.settings.logPath)
        }
        let staged: [StagedDisk]
        let status: BootExitStatus
        do {
            let release = request.settings.kernelRelease
            staged = try request.disks.map { spec throws in
                try Job.stage(spec, readOnly: spec.isReadOnly, inPlace: request.inPlace, kernelRelease: release)
            }
            let script = try GuestScript(library: functions(of: try request.library.stepLibrary()),
                                         variables: variables(request),
                                         template: try request.library.shellScript(), environment: request.settings.environment)
            var options = Job.bootOptions(request.settings, disks: staged)
            options.command = script.bootstrap
            options.readablePaths = [script.directory]
            options.disks = try staged.map { try $0.spec }
            status = Boot.run(try BootPlan.make(options))
        } catch {
            return JobReport(job: "shell", guest: guest, ok: false, exitStatus: 1, reason: "\(error)")
        }
        if status == .guest(noShellStatus) {
            return report(ok: false, 1, reason: "no shell started: a disk could not be mounted where asked (the console line above names it); fix the --mount or the disk and run again",
                          changes: ["nothing changed; the originals are unchanged"])
        }
        guard status == .guest(0) else {
            return report(ok: false, status.code, reason: status.explanation ?? "the shell exited with status \(status.code)",
                          changes: ["changes to writable disks dropped; the originals are unchanged"])
        }
        var changes = staged.flatMap(\.notes)
        for disk in staged {
            do { try disk.commit() } catch {
                return JobReport(job: "shell", guest: guest, ok: false, exitStatus: 1, reason: "\(error)",
                                 changes: changes, seconds: StepMonitor.now() - started)
            }
            if !disk.readOnly && !request.inPlace { changes.append("wrote '\(disk.original)'") }
        }
        return report(ok: true, 0, changes: changes, changed: staged.contains { !$0.readOnly })
    }
}
