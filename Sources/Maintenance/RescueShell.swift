import CorralSystem
import Launcher

/// `corral maint shell`: the rescue shell, interactive, with the disks staged
/// as for any job (sources read-only, small-block COWs through a flat image,
/// writable disks on a copy) and mounted where asked.
///
/// There are no steps to watch, so the console goes straight to the terminal
/// (no observer). The shell's exit status decides: 0 (a plain `exit`)
/// replaces the originals with the changed copies, anything else drops them.
public enum RescueShell {
    public struct Mount: Sendable {
        public var unit: Int
        public var directory: String
        public var readOnly: Bool
        public init(unit: Int, directory: String, readOnly: Bool) {
            self.unit = unit
            self.directory = directory
            self.readOnly = readOnly
        }
    }

    /// The status the guest script ends with when a mount failed and no
    /// shell started, so the report can say so instead of blaming a shell
    /// that never ran. A user's own `exit 125` reads the same; that is the
    /// price of having only an exit status to carry it.
    static let noShellStatus: Int32 = 125

    /// The shell command hostfs-init runs: mounts, then an interactive shell
    /// only if every mount worked (a shell over a missing mount would let
    /// the user "fix" the wrong tree; any non-zero status drops the copies).
    static func command(_ mounts: [Mount]) -> String {
        var lines: [String] = ["corral_failed="]
        for m in mounts {
            let device = "/dev/" + DiskSpec.deviceName(unit: m.unit)
            let dir = Shell.quote(m.directory)
            let options = m.readOnly ? "-o ro,noload " : ""
            lines.append("{ mkdir -p \(dir) && { mount \(options)\(device) \(dir) || mount -o ro \(device) \(dir); } && echo \"corral: \(device) on \(m.directory)\"; } || { echo \"corral: cannot mount \(device) on \(m.directory); no shell started\"; corral_failed=1; }")
        }
        // Not exec: the disks are unmounted cleanly after the shell ends.
        lines.append("if [ -z \"$corral_failed\" ]; then echo 'corral: exit 0 keeps the changes to writable disks; exit 1 drops them'; /bin/sh -i; corral_status=$?; else corral_status=\(noShellStatus); fi")
        for m in mounts.reversed() {
            lines.append("umount \(Shell.quote(m.directory)) 2>/dev/null")
        }
        lines.append("exit $corral_status")
        return lines.joined(separator: "\n")
    }

    public static func run(_ request: JobRequest, mounts: [Mount]) -> JobReport {
        let started = StepMonitor.now()
        let guest = request.disks.first?.file
        let staged: [StagedDisk]
        do {
            staged = try Job.stage(request, values: [:])
        } catch {
            return JobReport(job: "shell", guest: guest, ok: false, exitStatus: 1, reason: "\(error)")
        }
        var options = BootOptions()
        options.kernel = request.kernel
        options.memory = request.memory
        options.command = command(mounts)
        options.logPath = request.logPath
        options.environment = request.environment
        options.verbose = request.verbose
        options.events = request.bootEvents
        let status: BootExitStatus
        do {
            options.disks = try staged.map { try $0.spec }
            status = Boot.run(try BootPlan.make(options))
        } catch {
            return JobReport(job: "shell", guest: guest, ok: false, exitStatus: 1, reason: "\(error)")
        }
        if status == .guest(noShellStatus) {
            return JobReport(job: "shell", guest: guest, ok: false, exitStatus: 1,
                             reason: "no shell started: a disk could not be mounted where asked (the console line above names it); fix the --mount or the disk and run again",
                             changes: ["nothing changed; the originals are unchanged"],
                             seconds: StepMonitor.now() - started, log: request.logPath)
        }
        guard status == .guest(0) else {
            return JobReport(job: "shell", guest: guest, ok: false, exitStatus: status.code,
                             reason: status.explanation ?? "the shell exited with status \(status.code)",
                             changes: ["changes to writable disks dropped; the originals are unchanged"],
                             seconds: StepMonitor.now() - started, log: request.logPath)
        }
        var changes = staged.flatMap(\.notes)
        for disk in staged {
            do { try disk.commit() } catch {
                return JobReport(job: "shell", guest: guest, ok: false, exitStatus: 1, reason: "\(error)",
                                 changes: changes, seconds: StepMonitor.now() - started)
            }
            if !disk.readOnly && !request.inPlace { changes.append("wrote '\(disk.original)'") }
        }
        return JobReport(job: "shell", guest: guest, ok: true, exitStatus: 0, changes: changes,
                         changed: staged.contains { !$0.readOnly }, seconds: StepMonitor.now() - started, log: request.logPath)
    }
}
