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
    public enum Severity: String, Sendable, Codable {
        /// The job would not start.
        case failure
        case warning
    }

    public struct Finding: Sendable, Codable, Equatable {
        public var severity: Severity
        public var message: String
        /// What to do about it (the JSON key stays `fix`).
        public var hint: String?

        enum CodingKeys: String, CodingKey {
            case severity, message
            case hint = "fix"
        }
    }

    public struct Disk: Sendable, Codable {
        public var unit: Int
        public var device: String
        /// A `run --disk` without r is a target.
        public var role: TemplateDisk.Role
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
    /// How the answer was found.
    public var answeredBy: Answer

    public enum Answer: String, Sendable, Codable {
        case preflight, compare
        case boot = "read-only boot"
    }

    public init(parameters: [String: String], disks: [Disk], preflight: [Finding], changed: Bool?, reason: String,
                answeredBy: Answer) {
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
        func report(_ plan: JobPlan, guest: String?, failed status: Int32? = nil, reason: String? = nil,
                    looked: JobReport? = nil) -> JobReport {
            var r = JobReport(job: request.template.name, guest: guest, ok: status == nil, exitStatus: status ?? 0,
                              reason: reason, steps: looked?.steps ?? [], changes: looked?.changes ?? [], changed: false,
                              seconds: StepMonitor.now() - started, secondsToReady: looked?.secondsToReady, log: request.settings.logPath)
            r.plan = plan
            return r
        }
        let values: ParameterValues
        let jobDisks: JobDisks
        do {
            values = try request.resolvedParameters()
            jobDisks = try JobDisks(request, values: values)
        } catch {
            let plan = JobPlan(parameters: request.parameters.shellValues, disks: [],
                               preflight: [.init(severity: .failure, message: "\(error)")],
                               changed: nil, reason: "\(error)", answeredBy: .preflight)
            return report(plan, guest: nil, failed: 1, reason: "\(error)")
        }
        let guest = request.template.disks.first.flatMap { values.path($0.parameter) } ?? request.disks.first?.file
        var plan = preflight(request, jobDisks, values: values)
        let failures = (plan.preflight + plan.disks.flatMap(\.preflight)).filter { $0.severity == .failure }
        if let first = failures.first {
            plan.reason = "the job would not start: " + failures.map(\.message).joined(separator: "; ")
            return report(plan, guest: guest, failed: 1, reason: "preflight: \(first.message)")
        }
        if let answered = answerWithoutBoot(request, jobDisks, values: values, plan: plan) {
            return report(answered, guest: guest)
        }
        // The template looks with every disk read-only and answers.
        var boot = request
        boot.dryRun = true
        boot.inPlace = false
        let looked = Job.run(boot)
        plan.answeredBy = .boot
        guard looked.ok else {
            plan.reason = "the read-only boot failed: \(looked.reason ?? "failed")"
            return report(plan, guest: guest, failed: looked.exitStatus, reason: looked.reason, looked: looked)
        }
        let target = jobDisks.disks.first { $0.writes && $0.role != .output }?.path ?? ""
        plan.changed = looked.changed
        let said = looked.changes.last ?? (looked.changed ? "the template found work to do" : "nothing to do")
        plan.reason = (looked.changed ? "would change '\(target)': " : "nothing to do: ") + said
        return report(plan, guest: guest, looked: looked)
    }

    /// Every disk as the real job would attach it, with what would stop it
    /// (``JobDisks``) and the boot's own preflight on the files that exist.
    static func preflight(_ request: JobRequest, _ jobDisks: JobDisks, values: ParameterValues) -> JobPlan {
        var disks: [JobPlan.Disk] = []
        var specs: [DiskSpec] = []
        for disk in jobDisks.disks {
            let unit = disk.declaration.unit
            disks.append(.init(unit: unit, device: DiskSpec.deviceName(unit: unit), role: disk.role, path: disk.path,
                               writes: disk.writes, exists: disk.exists, preflight: []))
            if disk.role != .output, disk.exists || disk.backing != nil,
               let spec = try? DiskSpec(unit: unit, file: disk.path, backing: disk.backing, flags: disk.writes ? [] : [.readOnly]) {
                specs.append(spec)
            }
        }
        var general = jobDisks.general.map(\.finding)
        var issues: [PreflightIssue] = []
        Preflight.checkDisks(specs, kernelRelease: request.settings.kernelRelease, &issues)
        for issue in issues {
            let finding = JobPlan.Finding(severity: issue.severity == .failure ? .failure : .warning,
                                          message: issue.message, hint: issue.hint)
            if let index = disks.firstIndex(where: { $0.unit == issue.unit }) {
                disks[index].preflight.append(finding)
            } else {
                general.append(finding)
            }
        }
        for (index, disk) in jobDisks.disks.enumerated() {
            disks[index].preflight += disk.problems.map(\.finding)
        }
        return JobPlan(parameters: values.shellValues, disks: disks, preflight: general, changed: nil, reason: "",
                       answeredBy: .preflight)
    }

    /// The answer when no boot is needed: every disk read-only, or outputs
    /// only (new ones would be written; an existing one, with force, is left
    /// alone when it already shows its source's disk); "cannot tell" for a
    /// job that writes a guest without a read-only answer. nil: boot.
    static func answerWithoutBoot(_ request: JobRequest, _ jobDisks: JobDisks, values: ParameterValues,
                                  plan: JobPlan) -> JobPlan? {
        var plan = plan
        let template = request.template
        let outputs = jobDisks.disks.filter { $0.role == .output }
        let written = outputs.filter { !alreadyHolds(template, values: values, output: $0.declaration, path: $0.path) }
        let targets = jobDisks.disks.filter { $0.writes && $0.role != .output }
        if targets.isEmpty {
            if let first = written.first {
                plan.changed = true
                plan.reason = first.exists ? "would rewrite '\(first.path)' (it differs from its source)" : "would create '\(first.path)'"
            } else if !outputs.isEmpty {
                plan.changed = false
                plan.answeredBy = .compare
                plan.reason = "nothing to do: " + outputs.map { "'\($0.path)' already shows the same disk as its source" }
                    .joined(separator: "; ")
            } else {
                plan.changed = false
                plan.reason = "nothing to do: every disk is attached read-only, so the job writes no file"
            }
            return plan
        }
        guard template.dryRunBoots, written.isEmpty else {
            plan.reason = "cannot tell: the job writes '\(targets[0].path)', and template '\(template.name)' has no read-only answer (no '# dry-run: boot'); a real run would boot and may change it"
            return plan
        }
        return nil
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
}
