import COWEngine
import Launcher

/// Every disk a job names, read from its request before any disk is
/// opened: the one place that decides each disk's unit, role, path and
/// whether the job writes it, and what would stop the job from starting.
///
/// The real run (``Job/stage(_:values:)``) throws the first problem; a dry
/// run (``DryRun``) lists every one under its disk. So the two cannot
/// drift apart on what a job refuses.
struct JobDisks {
    struct Disk {
        var declaration: TemplateDisk
        var path: String
        /// `run --disk N=COW,BACKING`: the kernel may create the COW.
        var backing: String?
        /// Whether the real job writes this file (an output, a target, a
        /// source made writable by its `writable-if` parameter).
        var writes: Bool
        /// nil: the file does not exist.
        var status: FileStatus?
        /// A `--disk` of the command line rather than a template's disk.
        var given = false
        var problems: [Problem] = []

        var exists: Bool { status != nil }
        var role: TemplateDisk.Role { declaration.role }
    }

    /// Why a job would not start, before any disk is opened.
    enum Problem: Equatable {
        case missingParameter(template: String, name: String)
        case inputMissing(option: String, path: String)
        case outputExists(path: String)
        case outputIsInput(path: String, role: String)

        /// What the real run throws.
        var error: any Error {
            switch self {
            case let .missingParameter(template, name): MaintenanceError.missingParameter(template: template, name: name)
            case let .inputMissing(option, path): MaintenanceError.inputMissing(option: option, path: path)
            case let .outputExists(path): MaintenanceError.outputExists(path: path)
            case let .outputIsInput(path, role): EngineError.outputIsInput(path: path, role: role)
            }
        }

        /// What a dry run says, under the disk it is about.
        var finding: JobPlan.Finding {
            switch self {
            case .missingParameter, .outputExists:
                JobPlan.Finding(severity: .failure, message: "\(error)")
            case let .inputMissing(_, path):
                JobPlan.Finding(severity: .failure, message: "'\(path)' does not exist", hint: "give an existing COW or image")
            case let .outputIsInput(path, _):
                JobPlan.Finding(severity: .failure, message: "'\(path)' is also one of the job's inputs", hint: "give another output")
            }
        }
    }

    /// In the template's order, then the command line's.
    var disks: [Disk] = []
    /// Problems of no single disk (a disk parameter without a value).
    var general: [Problem] = []

    init(_ request: JobRequest, values: ParameterValues) throws {
        let template = request.template
        for declaration in template.disks {
            guard let path = values.path(declaration.parameter) else {
                general.append(.missingParameter(template: template.name, name: declaration.parameter))
                continue
            }
            let output = declaration.role == .output
            var disk = Disk(declaration: declaration, path: path, backing: nil,
                            writes: output || declaration.changesGuest(values), status: try FileStatus.of(path))
            if !output && !disk.exists {
                disk.problems.append(.inputMissing(option: "--\(declaration.parameter)", path: path))
            }
            disks.append(disk)
        }
        for spec in request.disks {
            let declaration = TemplateDisk(unit: spec.unit, role: spec.isReadOnly ? .source : .target,
                                           parameter: "disk\(spec.unit)")
            var disk = Disk(declaration: declaration, path: spec.file, backing: spec.backing, writes: !spec.isReadOnly,
                            status: try FileStatus.of(spec.file), given: true)
            if !disk.exists && spec.backing == nil {
                disk.problems.append(.inputMissing(option: "--disk \(spec.unit)", path: spec.file))
            }
            disks.append(disk)
        }
        for index in disks.indices where disks[index].role == .output {
            if let problem = outputProblem(disks[index], values: values) { disks[index].problems.append(problem) }
        }
    }

    /// An existing output: refused without its `force` parameter, and
    /// always when it is one of the job's inputs.
    func outputProblem(_ output: Disk, values: ParameterValues) -> Problem? {
        guard let status = output.status else { return nil }
        guard values.isOn(output.declaration.forceParameter) else { return .outputExists(path: output.path) }
        for input in disks where input.role != .output {
            if let other = input.status, other.isSameFile(as: status) {
                return .outputIsInput(path: output.path, role: input.given ? "--disk \(input.declaration.unit)" : "--\(input.declaration.parameter)")
            }
        }
        return nil
    }

    /// The problem the real run meets first: a template input's, an
    /// output's, then a `--disk`'s (the order disks are staged in).
    /// `withOutputs`: false for a dry run's boot, which makes no output.
    func firstProblem(withOutputs: Bool) -> Problem? {
        let outputs = withOutputs ? disks.filter { $0.role == .output } : []
        let order = disks.filter { $0.role != .output && !$0.given } + outputs + disks.filter(\.given)
        return general.first ?? order.lazy.compactMap(\.problems.first).first
    }
}
