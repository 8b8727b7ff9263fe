#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem
import Launcher

/// Runs one maintenance job: stages the disks (normalized, copied or
/// created), boots the guest with the rendered template as its command,
/// follows the step protocol, and commits the outputs only when every step
/// succeeded. Prints nothing: the failing step's last lines travel in the
/// report (``JobReport/failedStepOutput``) for the caller to show.
public enum Job {
    public static func run(_ request: JobRequest) -> JobReport {
        var job = Attempt(request: request)
        // 1. Parameters and disks.
        let values: ParameterValues
        do {
            values = try request.resolvedParameters()
            job.guest = request.template.disks.first.flatMap { values.path($0.parameter) } ?? request.disks.first?.file
            if !request.dryRun, let same = DryRun.outputsAlreadyHold(request, values: values) {
                return job.report(changes: [same], changed: false)
            }
            job.staged = try stage(request, values: values)
        } catch {
            return job.failure(1, "\(error)", changes: [Attempt.unchanged], changed: false)
        }
        // 2. The guest script, 3. the boot.
        let booted: Booted
        do {
            let scriptVariables = variables(request, values, job.staged)
            let script = try GuestScript(library: try libraryText(request), variables: scriptVariables,
                                         template: request.template.script, environment: request.settings.environment)
            booted = try boot(request, script: script, disks: job.staged, hostDirectories: hostDirectories(scriptVariables))
        } catch {
            return job.failure(1, "\(error)", changes: [Attempt.unchanged], changed: false)
        }
        job.steps = booted.outcome.steps
        job.ready = booted.ready
        // 4. The verdict.
        if let verdict = Verdict(booted.status, booted.outcome, tail: booted.tail) {
            var report = job.failure(verdict.status, verdict.reason, step: verdict.step,
                                     changes: job.staged.flatMap(\.notes) + booted.outcome.notes + job.guestUnchanged())
            report.failedStepOutput = booted.outcome.steps.filter { $0.name == verdict.step }.flatMap { $0.outputTail.suffix(12) }
            return report
        }
        // 5b. A dry run's boot: nothing to commit; the template's
        // `unchanged` line is the answer, anything else means it would change.
        if request.dryRun {
            return job.report(changes: booted.outcome.notes + (booted.outcome.unchanged.map { [$0] } ?? []),
                              changed: booted.outcome.unchanged == nil)
        }
        // 5a. Nothing to do: the template said so; no disk is committed, so
        // the user's files keep their bytes, blocks and inode (a copy is
        // dropped; with --in-place the template left them as they were).
        if let unchanged = booted.outcome.unchanged {
            return job.report(changes: booted.outcome.notes + [unchanged], changed: false)
        }
        // 5. Commit: every step succeeded.
        return job.commit(notes: booted.outcome.notes)
    }

    /// One job's progress, and the reports it can end with.
    struct Attempt {
        let request: JobRequest
        let started = StepMonitor.now()
        var guest: String?
        var staged: [StagedDisk] = []
        var steps: [StepResult] = []
        var ready: Double?

        func report(changes: [String], changed: Bool) -> JobReport {
            JobReport(job: request.template.name, guest: guest, ok: true, exitStatus: 0, steps: steps, changes: changes,
                      changed: changed, seconds: StepMonitor.now() - started, secondsToReady: ready, log: request.settings.logPath)
        }

        /// `changed`: whether a user's file may have been written; by default
        /// when an --in-place disk was staged.
        func failure(_ status: Int32, _ reason: String, step: String? = nil, changes: [String],
                     changed: Bool? = nil) -> JobReport {
            JobReport(job: request.template.name, guest: guest, ok: false, exitStatus: status, failedStep: step,
                      reason: reason, steps: steps, changes: changes, changed: changed ?? wroteInPlace,
                      seconds: StepMonitor.now() - started, secondsToReady: ready, log: request.settings.logPath)
        }

        /// Only --in-place can have written a user's file before failing.
        var wroteInPlace: Bool { request.inPlace && staged.contains { !$0.readOnly && !$0.isNew } }

        static let unchanged = "nothing was replaced; the sources are unchanged"

        /// The sentence a failed job ends with.
        func guestUnchanged() -> [String] {
            wroteInPlace ? [] : [Self.unchanged]
        }

        /// Every step succeeded: each staged disk becomes the user's file.
        func commit(notes: [String]) -> JobReport {
            var changes = staged.flatMap(\.notes) + notes
            for disk in staged {
                let built: FromImage.Result?
                do {
                    built = try disk.commit()
                } catch {
                    return failure(1, "\(error)", changes: changes)
                }
                if !disk.readOnly && !request.inPlace {
                    changes.append("wrote '\(disk.original)'")
                    if disk.declaration.cowOver != nil, let built, let bytes = dirtyBytes(built, path: disk.original) {
                        changes.append("its dirty data is \(bytes) bytes over '\(built.backingFile)'")
                    }
                }
            }
            return report(changes: changes, changed: staged.contains { !$0.readOnly })
        }

        /// The image bytes a COW just built holds, as `cow info` counts them:
        /// whole sectors, unless the disk ends in a partial one (then read back).
        func dirtyBytes(_ built: FromImage.Result, path: String) -> UInt64? {
            if built.size % 512 == 0 { return built.sectors * 512 }
            return (try? COWInfo.read(path: path))?.dirtyBytes
        }
    }

    /// The parameter values that name existing host directories (never /):
    /// what a template may `mount_host`.
    static func hostDirectories(_ variables: [(String, String)]) -> [String] {
        variables.map(\.1).filter { value in
            var st = stat()
            return value.hasPrefix("/") && value.contains(where: { $0 != "/" })
                && stat(value, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
    }

    /// The guest script's variables: the parameters, `dry_run`, and each
    /// staged disk's device and whether it is new.
    static func variables(_ request: JobRequest, _ values: ParameterValues, _ staged: [StagedDisk]) -> [(String, String)] {
        var variables: [(String, String)] = request.template.parameters.compactMap { p in
            values[p.name].map { (p.name, $0.shellValue) }
        }
        variables.append(("dry_run", ParameterValue.flag(request.dryRun).shellValue))
        for disk in staged {
            variables.append(("disk_\(disk.declaration.parameter)", disk.declaration.device))
            variables.append(("new_\(disk.declaration.parameter)", ParameterValue.flag(disk.isNew).shellValue))
        }
        return variables
    }

    /// What the boot left: its status, the steps' outcome, when the guest
    /// was ready, and the template's last lines between steps.
    struct Booted {
        var status: BootExitStatus
        var outcome: StepMonitor.Outcome
        var ready: Double?
        var tail: String?
    }

    static func boot(_ request: JobRequest, script: GuestScript, disks staged: [StagedDisk],
                     hostDirectories: [String] = []) throws -> Booted {
        // With passOutput the boot shows the command's output on stdout
        // through its non-blocking queue (StepMonitor.init says how it is bounded).
        let monitor = StepMonitor(nonce: script.nonce, nonceFile: script.nonceFile, limits: request.limits,
                                  passthrough: request.passOutput, events: request.events)
        var options = bootOptions(request.settings, disks: staged)
        options.command = script.bootstrap
        // Mode 0700, root's: the kernel's own uid reads it through an idmapped mount.
        // A template reaches the host only through mount_host of a directory
        // given as a parameter (install-modules' --modules): those are in the
        // kernel's root too, read-only; nothing else of the host is.
        options.readablePaths = [script.directory] + hostDirectories
        options.interactive = false
        // A job reads no input: the user's keystrokes stay out of it, and
        // hostfs-init starts no stty or setsid for it.
        options.input = ConsoleInput.none
        options.observer = monitor
        let bootStarted = StepMonitor.now()
        options.disks = try staged.map { try $0.spec }
        let status = Boot.run(try BootPlan.make(options))
        let outcome = monitor.finish()
        return Booted(status: status, outcome: outcome,
                      ready: outcome.readyAfter.map { $0 + (monitor.started - bootStarted) },
                      tail: monitor.tailBetweenSteps().last)
    }

    /// The boot options every job shares (``RescueShell`` too): kernel,
    /// memory, log, environment, and the staged disks, open once.
    static func bootOptions(_ settings: GuestSettings, disks staged: [StagedDisk]) -> BootOptions {
        var options = BootOptions()
        options.kernel = settings.kernel
        options.memory = settings.memory
        options.logPath = settings.logPath
        options.environment = settings.environment
        options.verbose = settings.verbose
        options.events = settings.bootEvents
        options.streams = settings.streams
        for disk in staged { options.openedDisks[disk.declaration.unit] = disk.attachedDisk }
        return options
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
}

extension Job {
    /// Stages every disk the template declares, then the command line's,
    /// after refusing what ``JobDisks`` finds would stop the job.
    static func stage(_ request: JobRequest, values: ParameterValues) throws -> [StagedDisk] {
        let plan = try JobDisks(request, values: values)
        if let problem = plan.firstProblem(withOutputs: !request.dryRun) { throw problem.error }
        var staged: [StagedDisk] = []
        let release = request.settings.kernelRelease
        for disk in plan.disks where disk.role != .output && !disk.given {
            staged.append(disk.writes && !request.dryRun
                ? try StagedDisk.target(disk.declaration, path: disk.path, inPlace: request.inPlace, kernelRelease: release)
                : try StagedDisk.source(disk.declaration, path: disk.path, kernelRelease: release))
        }
        let inputs = plan.disks.filter { $0.role != .output }
            .compactMap { disk in disk.status.map { ($0, "--\(disk.declaration.parameter)") } }
        for disk in plan.disks where disk.role == .output && !request.dryRun {
            let size = try disk.declaration.sizeOf.map { parameter throws -> UInt64 in
                try virtualSize(values.path(parameter) ?? "", staged: staged)
            }
            staged.append(try StagedDisk.output(
                disk.declaration, path: disk.path, size: size, cowBacking: disk.declaration.cowOver.flatMap { values.path($0) },
                force: values.isOn(disk.declaration.forceParameter), inputs: inputs))
        }
        for spec in request.disks {
            staged.append(try stage(spec, readOnly: spec.isReadOnly || request.dryRun, inPlace: request.inPlace,
                                    kernelRelease: release))
        }
        return staged
    }

    /// A `--disk` disk (`run`, `shell`): flag r makes a source, anything else a target.
    static func stage(_ spec: DiskSpec, readOnly: Bool, inPlace: Bool, kernelRelease release: String?) throws -> StagedDisk {
        if spec.backing == nil, try FileStatus.of(spec.file) == nil {
            throw MaintenanceError.inputMissing(option: "--disk \(spec.unit)", path: spec.file)
        }
        let declaration = TemplateDisk(unit: spec.unit, role: spec.isReadOnly ? .source : .target,
                                       parameter: "disk\(spec.unit)")
        return readOnly
            ? try StagedDisk.source(declaration, path: spec.file, backing: spec.backing, kernelRelease: release)
            : try StagedDisk.target(declaration, path: spec.file, backing: spec.backing, inPlace: inPlace,
                                    kernelRelease: release)
    }

    /// The size the guest sees of the disk at `path`: from the staged disk
    /// already open for it, else a COW's disk size or the file's.
    static func virtualSize(_ path: String, staged: [StagedDisk]) throws -> UInt64 {
        if let disk = staged.first(where: { $0.original == path })?.attachedDisk { return try disk.virtualSize() }
        guard try FileStatus.of(path) != nil else {
            throw MaintenanceError.invalidArgument("'\(path)' does not exist")
        }
        return try OpenedDisk(path: path).virtualSize()
    }
}
