#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem
import Launcher

/// What a job would do, for `--dry-run` (and Ansible's check mode): its
/// resolved parameters, every disk with the preflight's verdict on it, and
/// whether it would change a file.
public struct JobPlan: Sendable, Codable {
    public struct Finding: Sendable, Codable, Equatable {
        /// "failure" (the job would not start) or "warning".
        public var severity: String
        public var message: String
        public var fix: String?
    }

    public struct Disk: Sendable, Codable {
        public var unit: Int
        public var device: String
        /// source, target or output (a `run --disk` without r is a target).
        public var role: String
        public var path: String
        /// Whether the real job would write this file.
        public var writes: Bool
        public var exists: Bool
        public var preflight: [Finding]
    }

    public var parameters: [String: String]
    public var disks: [Disk]
    /// Findings about no single disk (the same file twice, …).
    public var preflight: [Finding]
    /// true: the job would change a file; false: nothing to do; nil: corral
    /// cannot tell without running it (the real run may or may not change).
    @NullWhenAbsent public var changed: Bool?
    /// Why, in one line.
    public var reason: String
    /// How the answer was found: "preflight", "compare" or "read-only boot".
    public var answeredBy: String

    public init(parameters: [String: String], disks: [Disk], preflight: [Finding], changed: Bool?, reason: String,
                answeredBy: String) {
        self.parameters = parameters
        self.disks = disks
        self.preflight = preflight
        self.changed = changed
        self.reason = reason
        self.answeredBy = answeredBy
    }
}

/// `corral maint … --dry-run`: the job's plan without writing any file.
///
/// The answer comes from the cheapest source that knows it: the preflight
/// (a job that would not start, or one whose disks are all read-only), a
/// block comparison (an output that already shows the same disk as its
/// source), or, for templates that declare `# dry-run: boot`, a boot with
/// every disk attached read-only (flag r: the kernel opens the files
/// O_RDONLY, so not a byte of them can change) in which the template
/// looks and answers `unchanged` or says what it would write. Any other
/// job that writes a guest gets "unknown": corral does not guess.
public enum DryRun {
    public static func run(_ request: JobRequest) -> JobReport {
        let started = StepMonitor.now()
        let template = request.template
        func report(_ plan: JobPlan, ok: Bool = true, status: Int32 = 0, guest: String?, steps: [StepResult] = [],
                    changes: [String] = [], reason: String? = nil, ready: Double? = nil) -> JobReport {
            var r = JobReport(job: template.name, guest: guest, ok: ok, exitStatus: status, reason: reason, steps: steps,
                              changes: changes, changed: false, seconds: StepMonitor.now() - started,
                              secondsToReady: ready, log: request.logPath)
            r.plan = plan
            return r
        }

        let values: ParameterValues
        do {
            values = try request.resolvedParameters()
        } catch {
            let plan = JobPlan(parameters: request.parameters.shellValues, disks: [], preflight: [.init(severity: "failure", message: "\(error)")],
                               changed: nil, reason: "\(error)", answeredBy: "preflight")
            return report(plan, ok: false, status: 1, guest: nil, reason: "\(error)")
        }
        let guest = template.disks.first.flatMap { values.path($0.parameter) } ?? request.disks.first?.file

        // Every disk, as the real job would attach it.
        var disks: [JobPlan.Disk] = []
        var specs: [DiskSpec] = []
        var general: [JobPlan.Finding] = []
        var outputs: [(disk: TemplateDisk, path: String)] = []
        func add(unit: Int, role: String, path: String, writes: Bool, backing: String? = nil) {
            let device = DiskSpec.deviceName(unit: unit)
            let exists = (try? FileStatus.of(path)) != nil
            disks.append(.init(unit: unit, device: device, role: role, path: path, writes: writes, exists: exists, preflight: []))
            if exists || backing != nil, let spec = try? DiskSpec(unit: unit, file: path, backing: backing,
                                                                  flags: writes ? [] : [.readOnly]) {
                specs.append(spec)
            }
        }
        for disk in template.disks {
            guard let path = values.path(disk.parameter) else {
                general.append(.init(severity: "failure",
                                     message: "\(MaintenanceError.missingParameter(template: template.name, name: disk.parameter))"))
                continue
            }
            if disk.role == .output {
                outputs.append((disk, path))
                disks.append(.init(unit: disk.unit, device: DiskSpec.deviceName(unit: disk.unit),
                                   role: "output", path: path, writes: true,
                                   exists: (try? FileStatus.of(path)) != nil, preflight: []))
                continue
            }
            add(unit: disk.unit, role: disk.role.rawValue, path: path, writes: disk.changesGuest(values))
        }
        for spec in request.disks {
            add(unit: spec.unit, role: spec.isReadOnly ? "source" : "target", path: spec.file, writes: !spec.isReadOnly,
                backing: spec.backing)
        }

        // The boot's own preflight on the files that exist, each finding
        // given to the disk it names; missing inputs and outputs in the way
        // as the job would refuse them.
        var issues: [PreflightIssue] = []
        Preflight.checkDisks(specs, kernelRelease: Resources.kernelRelease(named: request.kernel), &issues)
        for issue in issues {
            let finding = JobPlan.Finding(severity: issue.severity == .failure ? "failure" : "warning",
                                          message: issue.message, fix: issue.fix)
            if let index = disks.firstIndex(where: { issue.message.hasPrefix("disk \($0.unit) (") }) {
                disks[index].preflight.append(finding)
            } else {
                general.append(finding)
            }
        }
        for index in disks.indices where !disks[index].exists {
            let disk = disks[index]
            if disk.role == "output" { continue }
            if request.disks.contains(where: { $0.unit == disk.unit && $0.backing != nil }) { continue }
            disks[index].preflight.append(.init(severity: "failure", message: "'\(disk.path)' does not exist",
                                                fix: "give an existing COW or image"))
        }
        for (declaration, path) in outputs {
            guard let index = disks.firstIndex(where: { $0.unit == declaration.unit }), disks[index].exists else { continue }
            if !values.isOn(declaration.forceParameter) {
                let refusal = MaintenanceError.outputExists(path: path)
                disks[index].preflight.append(.init(severity: "failure", message: "\(refusal)", fix: nil))
            } else if disks.contains(where: { $0.role != "output" && $0.exists && sameFile($0.path, path) }) {
                disks[index].preflight.append(.init(severity: "failure", message: "'\(path)' is also one of the job's inputs",
                                                    fix: "give another output"))
            }
        }

        let failures = (general + disks.flatMap(\.preflight)).filter { $0.severity == "failure" }
        var plan = JobPlan(parameters: values.shellValues, disks: disks, preflight: general, changed: nil, reason: "", answeredBy: "preflight")
        if let first = failures.first {
            plan.reason = "the job would not start: " + failures.map(\.message).joined(separator: "; ")
            return report(plan, ok: false, status: 1, guest: guest, reason: "preflight: \(first.message)")
        }

        // Outputs: new ones would be written; an existing one (force) is
        // left alone only when it already shows its source's disk.
        let writtenOutputs = outputs.filter { !Self.alreadyHolds(template, values: values, output: $0.disk, path: $0.path) }
        let targets = disks.filter { $0.writes && $0.role != "output" }
        if targets.isEmpty {
            if let first = writtenOutputs.first {
                let exists = disks.first { $0.unit == first.disk.unit }?.exists == true
                plan.changed = true
                plan.reason = exists ? "would rewrite '\(first.path)' (it differs from its source)" : "would create '\(first.path)'"
            } else if !outputs.isEmpty {
                plan.changed = false
                plan.answeredBy = "compare"
                plan.reason = "nothing to do: " + outputs.map { "'\($0.path)' already shows the same disk as its source" }
                    .joined(separator: "; ")
            } else {
                plan.changed = false
                plan.reason = "nothing to do: every disk is attached read-only, so the job writes no file"
            }
            return report(plan, guest: guest)
        }
        guard template.dryRunBoots, writtenOutputs.isEmpty else {
            plan.reason = "cannot tell: the job writes '\(targets[0].path)', and template '\(template.name)' has no read-only answer (no '# dry-run: boot'); a real run would boot and may change it"
            return report(plan, guest: guest)
        }

        // The template looks with every disk read-only and answers.
        var boot = request
        boot.dryRun = true
        boot.inPlace = false
        let looked = Job.run(boot)
        plan.answeredBy = "read-only boot"
        guard looked.ok else {
            plan.reason = "the read-only boot failed: \(looked.reason ?? "failed")"
            return report(plan, ok: false, status: looked.exitStatus, guest: guest, steps: looked.steps,
                          changes: looked.changes, reason: looked.reason, ready: looked.secondsToReady)
        }
        plan.changed = looked.changed
        let said = looked.changes.last ?? (looked.changed ? "the template found work to do" : "nothing to do")
        plan.reason = (looked.changed ? "would change '\(targets[0].path)': " : "nothing to do: ") + said
        return report(plan, guest: guest, steps: looked.steps, changes: looked.changes, ready: looked.secondsToReady)
    }

    /// An existing output that a block comparison finds equal to the disk
    /// it is sized after (`size-of=`, the job's source): writing it again
    /// would give the same disk, so the job has nothing to do for it.
    static func alreadyHolds(_ template: Template, values: ParameterValues, output: TemplateDisk, path: String) -> Bool {
        guard let sourceParameter = output.sizeOf, let source = values.path(sourceParameter),
              (try? FileStatus.of(path)) != nil,
              let result = try? Compare.run(source, path) else { return false }
        return result.identical
    }

    /// The real job's shortcut, the same rule as the dry run's: a job
    /// that writes only outputs, each already showing its source's disk,
    /// has nothing to do (a flatten to the same image again). The line for
    /// the report, or nil when the job must run.
    static func outputsAlreadyHold(_ request: JobRequest, values: ParameterValues) -> String? {
        let template = request.template
        let outputs = template.disks.filter { $0.role == .output }
        let writesGuest = template.disks.contains { $0.changesGuest(values) }
        guard !outputs.isEmpty, !writesGuest, request.disks.isEmpty else { return nil }
        var paths: [String] = []
        for output in outputs {
            guard let path = values.path(output.parameter), values.isOn(output.forceParameter),
                  alreadyHolds(template, values: values, output: output, path: path) else { return nil }
            paths.append(path)
        }
        return "nothing to do: " + paths.map { "'\($0)' already shows the same disk as its source (corral cow compare)" }
            .joined(separator: "; ")
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        guard let x = (try? FileStatus.of(a)), let y = (try? FileStatus.of(b)) else { return false }
        return x.isSameFile(as: y)
    }
}
