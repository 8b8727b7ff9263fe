#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem
import Launcher

/// Runs one maintenance job: stages the disks (normalized, copied or
/// created), boots the guest with the rendered template as its command,
/// follows the step protocol, and commits the outputs only when every step
/// succeeded.
public enum Job {
    public static func run(_ request: JobRequest) -> JobReport {
        let started = StepMonitor.now()
        let name = request.template.name
        var guest: String?
        func failure(_ status: Int32, _ reason: String, step: String? = nil, steps: [StepResult] = [],
                     changes: [String] = [], ready: Double? = nil, staged: [StagedDisk] = []) -> JobReport {
            // Only --in-place can have written a user's file before failing.
            let changed = request.inPlace && staged.contains { !$0.readOnly && !$0.isNew }
            return JobReport(job: name, guest: guest, ok: false, exitStatus: status, failedStep: step, reason: reason,
                      steps: steps, changes: changes, changed: changed, seconds: StepMonitor.now() - started,
                      secondsToReady: ready, log: request.logPath)
        }

        // 1. Parameters and disks.
        let values: [String: String]
        var staged: [StagedDisk] = []
        do {
            values = try request.resolvedParameters()
            guest = request.template.disks.first.flatMap { values[$0.parameter] } ?? request.disks.first?.file
            if !request.dryRun, let same = DryRun.outputsAlreadyHold(request, values: values) {
                return JobReport(job: name, guest: guest, ok: true, exitStatus: 0, changes: [same], changed: false,
                                 seconds: StepMonitor.now() - started, log: request.logPath)
            }
            staged = try stage(request, values: values)
        } catch {
            return failure(1, "\(error)", changes: guestUnchanged(request, guest))
        }

        // 2. The guest script.
        var variables: [(String, String)] = request.template.parameters.compactMap { p in
            values[p.name].map { (p.name, $0) }
        }
        variables.append(("dry_run", request.dryRun ? "yes" : "no"))
        for disk in staged {
            variables.append(("disk_\(disk.declaration.parameter)", disk.declaration.device))
            variables.append(("new_\(disk.declaration.parameter)", disk.isNew ? "yes" : "no"))
        }
        let script: GuestScript
        do {
            script = try GuestScript(library: try libraryText(request), variables: variables,
                                     template: request.template.script, environment: request.environment)
        } catch {
            return failure(1, "\(error)", changes: guestUnchanged(request, guest))
        }

        // 3. The boot.
        // With passOutput the boot shows the command's output on stdout
        // through its non-blocking queue (StepMonitor.init says how it is bounded).
        let monitor = StepMonitor(nonce: script.nonce, nonceFile: script.nonceFile, limits: request.limits,
                                  passthrough: request.passOutput, events: request.events)
        var options = BootOptions()
        options.kernel = request.kernel
        options.memory = request.memory
        options.command = script.bootstrap
        // Mode 0700, root's: the kernel's own uid reads it through an idmapped mount.
        // A template reaches the host only through mount_host of a directory
        // given as a parameter (install-modules' --modules): those are in the
        // kernel's root too, read-only; nothing else of the host is.
        options.readablePaths = [script.directory] + variables.map(\.1).filter { value in
            var st = stat()
            return value.hasPrefix("/") && value.contains(where: { $0 != "/" })
                && stat(value, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
        options.logPath = request.logPath
        options.interactive = false
        // A job reads no input: the user's keystrokes stay out of it, and
        // hostfs-init starts no stty or setsid for it.
        options.input = ConsoleInput.none
        options.environment = request.environment
        options.verbose = request.verbose
        options.observer = monitor
        let bootStarted = StepMonitor.now()
        let status: BootExitStatus
        do {
            options.disks = try staged.map { try $0.spec }
            status = Boot.run(try BootPlan.make(options))
        } catch {
            return failure(1, "\(error)", changes: guestUnchanged(request, guest))
        }
        let outcome = monitor.finish()
        let ready = outcome.readyAfter.map { $0 + (monitor.started - bootStarted) }

        // 4. The verdict.
        let failed = outcome.steps.last { $0.status != 0 }
        var verdict: (status: Int32, reason: String, step: String?)?
        switch status {
        case .guest(0):
            if let failed {
                let why = failed.status == nil
                    ? "step '\(failed.name)' never reported its end (the console session ended early, or a forged status ended it)"
                    : "step '\(failed.name)' failed"
                verdict = (failed.status ?? 1, why, failed.name)
            } else if outcome.done != 0 {
                // hostfs-init's EXIT marker uses the command-line nonce, which
                // the guest can read; only the job's own DONE line counts.
                verdict = (1, "the job reported success without its DONE line (status forged or lost); nothing committed", outcome.unfinishedStep)
            }
        case .guest(let code):
            if let failed {
                verdict = (code, "step '\(failed.name)' exited with status \(failed.status.map(String.init) ?? "?")", failed.name)
            } else if !outcome.ready {
                verdict = (code, "the job's prelude failed before the first step (status \(code))", nil)
            } else {
                let tail = monitor.tailBetweenSteps().last.map { ": \($0)" } ?? ""
                verdict = (code, "the template exited with status \(code) outside any step\(tail)", nil)
            }
        case .timedOut:
            verdict = (status.code, outcome.stopReason ?? "timed out", outcome.stoppedStep ?? outcome.unfinishedStep)
        default:
            let explanation = status.explanation ?? "the boot failed"
            verdict = (status.code, explanation, outcome.unfinishedStep)
        }
        if let verdict {
            for step in outcome.steps where step.name == verdict.step && !request.passOutput {
                for line in step.outputTail.suffix(12) { Output.writeAll(2, "  | \(line)\n") }
            }
            return failure(verdict.status, verdict.reason, step: verdict.step, steps: outcome.steps,
                           changes: staged.flatMap(\.notes) + outcome.notes + guestUnchanged(request, guest, staged: staged),
                           ready: ready, staged: staged)
        }

        // 5b. A dry run's boot: nothing to commit; the template's
        // `unchanged` line is the answer, anything else means it would change.
        if request.dryRun {
            return JobReport(job: name, guest: guest, ok: true, exitStatus: 0, steps: outcome.steps,
                             changes: outcome.notes + (outcome.unchanged.map { [$0] } ?? []), changed: outcome.unchanged == nil,
                             seconds: StepMonitor.now() - started, secondsToReady: ready, log: request.logPath)
        }

        // 5a. Nothing to do: the template said so; no disk is committed, so
        // the user's files keep their bytes, blocks and inode (a copy is
        // dropped; with --in-place the template left them as they were).
        if let unchanged = outcome.unchanged {
            return JobReport(job: name, guest: guest, ok: true, exitStatus: 0, steps: outcome.steps,
                             changes: outcome.notes + [unchanged], changed: false,
                             seconds: StepMonitor.now() - started, secondsToReady: ready, log: request.logPath)
        }

        // 5. Commit: every step succeeded.
        var changes = staged.flatMap(\.notes) + outcome.notes
        for disk in staged {
            do {
                try disk.commit()
            } catch {
                return failure(1, "\(error)", steps: outcome.steps, changes: changes, ready: ready, staged: staged)
            }
            if !disk.readOnly && !request.inPlace {
                changes.append("wrote '\(disk.original)'")
                if disk.declaration.cowOver != nil, let info = try? COWInfo.read(path: disk.original) {
                    changes.append("its dirty data is \(info.dirtyBytes) bytes over '\(info.backingFile)'")
                }
            }
        }
        let changed = staged.contains { !$0.readOnly }
        return JobReport(job: name, guest: guest, ok: true, exitStatus: 0, steps: outcome.steps, changes: changes,
                         changed: changed, seconds: StepMonitor.now() - started, secondsToReady: ready, log: request.logPath)
    }

    static func libraryText(_ request: JobRequest) throws(MaintenanceError) -> String {
        // The host's parser and the guest's functions must agree: the built-in copy first.
        if let library = request.library { return try library.stepLibrary() }
        let dir = TemplateLibrary.parent(request.template.path)
        for candidate in ["\(dir)/lib/steps.sh", "\(TemplateLibrary.parent(dir))/lib/steps.sh"] where access(candidate, R_OK) == 0 {
            return try TemplateLibrary.read(candidate)
        }
        throw .io("no lib/steps.sh next to \(request.template.path); keep user templates beside a lib/ copy or use --templates")
    }

    /// The sentence a failed job ends with.
    static func guestUnchanged(_ request: JobRequest, _ guest: String?, staged: [StagedDisk] = []) -> [String] {
        if request.inPlace && staged.contains(where: { !$0.readOnly && !$0.isNew }) { return [] }
        return ["nothing was replaced; the sources are unchanged"]
    }

    /// The release of the kernel the job boots, when corral has its profile.
    static func kernelRelease(_ request: JobRequest) -> String? {
        Resources.kernelRelease(named: request.kernel)
    }

    /// Stages every disk the template declares, then the command line's.
    static func stage(_ request: JobRequest, values: [String: String]) throws -> [StagedDisk] {
        var staged: [StagedDisk] = []
        var inputs: [(status: FileStatus, role: String)] = []
        let release = kernelRelease(request)
        for disk in request.template.disks where disk.role != .output {
            guard let path = values[disk.parameter], !path.isEmpty else {
                throw MaintenanceError.missingParameter(template: request.template.name, name: disk.parameter)
            }
            guard let status = try FileStatus.of(path) else {
                throw MaintenanceError.inputMissing(option: "--\(disk.parameter)", path: path)
            }
            inputs.append((status, "--\(disk.parameter)"))
            let writable = !request.dryRun && disk.changesGuest(values)
            staged.append(writable
                ? try StagedDisk.target(disk, path: path, inPlace: request.inPlace, kernelRelease: release)
                : try StagedDisk.source(disk, path: path, kernelRelease: release))
        }
        for disk in request.template.disks where disk.role == .output && !request.dryRun {
            guard let path = values[disk.parameter], !path.isEmpty else {
                throw MaintenanceError.missingParameter(template: request.template.name, name: disk.parameter)
            }
            let size = try disk.sizeOf.map { param throws -> UInt64 in
                try StagedDisk.virtualSize(values[param] ?? "")
            }
            staged.append(try StagedDisk.output(
                disk, path: path, size: size, cowBacking: disk.cowOver.flatMap { values[$0] },
                force: disk.forceParameter.map { isYes(values[$0]) } ?? false, inputs: inputs))
        }
        for spec in request.disks {
            if spec.backing == nil, try FileStatus.of(spec.file) == nil {
                throw MaintenanceError.inputMissing(option: "--disk \(spec.unit)", path: spec.file)
            }
            let declaration = TemplateDisk(unit: spec.unit, role: spec.isReadOnly ? .source : .target,
                                           parameter: "disk\(spec.unit)")
            staged.append(spec.isReadOnly || request.dryRun
                ? try StagedDisk.source(declaration, path: spec.file, backing: spec.backing, kernelRelease: release)
                : try StagedDisk.target(declaration, path: spec.file, backing: spec.backing, inPlace: request.inPlace,
                                        kernelRelease: release))
        }
        return staged
    }

    static func isYes(_ value: String?) -> Bool {
        ["yes", "1", "true", "on"].contains(value?.lowercased() ?? "")
    }
}
