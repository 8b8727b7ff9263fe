import ArgumentParser
import Foundation
import Launcher
import Maintenance

/// Options every maintenance job takes (each job command adds only the
/// groups that work for it: ``InPlaceOption``, ``EachOptions``).
struct MaintJobOptions: ParsableArguments {
    @OptionGroup var source: TemplateOptions

    @Option(name: .long, help: ArgumentHelp("Keep the console transcript here.", valueName: "FILE"))
    var log: String?

    @Flag(name: .long, help: "Print a machine-readable report on stdout.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Limit for a step without its own (and for template code between steps).", valueName: "SECONDS"))
    var stepTimeout: Double = 600

    @OptionGroup var guest: GuestKernelOptions

    @Flag(name: [.short, .long], help: "No step progress on the terminal.")
    var quiet = false

    @Flag(name: .long, help: "Change nothing: say what the job would do (parameters, each disk's preflight, whether it would change a file).")
    var dryRun = false

    func validate() throws {
        if !(stepTimeout > 0) { throw ValidationError("--step-timeout must be a positive number of seconds") }
        try guest.check()
    }

    /// Runs `template` with `parameters` (plus `disks`), or, with --each, once
    /// per guest with the guest's COW as `guestParameter`; prints the
    /// summary or JSON and exits with the job's status.
    func run(template name: String, parameters: ParameterValues, disks: [DiskSpec] = [], passOutput: Bool = false,
             inPlace: Bool = false, each: EachOptions? = nil, guestParameter: String = "cow") throws -> Never {
        let library = try source.library()
        var request = JobRequest(template: try library.template(named: name))
        request.library = library
        request.parameters = parameters
        request.disks = disks
        request.inPlace = inPlace
        request.limits = StepMonitor.Limits(ready: 120, step: stepTimeout)
        request.settings.logPath = log
        request.passOutput = passOutput && !json
        guest.apply(to: &request.settings)
        request.dryRun = dryRun
        if let each, !each.each.isEmpty {
            try runEach(request, guests: each.each, jobs: each.j, guestParameter: guestParameter)
        }
        request.settings.bootEvents = BootEventPrinter.handler
        request.settings.streams = Console.streams
        if dryRun {
            let report = DryRun.run(request)
            if json {
                try Console.json(report)
            } else {
                if let plan = report.plan { Self.show(plan) }
                Console.error("corral: " + report.summary)
            }
            throw ExitCode(report.exitStatus)
        }
        let display = StepDisplay.make(job: name, quiet: quiet || (passOutput && !json))
        let captured = passOutput && json ? CapturedOutput() : nil
        request.events = { event in
            display?.handle(event)
            if case .output(let bytes) = event { captured?.append(bytes) }
        }
        let report = Job.run(request)
        // The failing step's last lines, unless they already went by on stdout.
        if !request.passOutput {
            for line in report.failedStepOutput { Console.write(2, "  | \(line)\n") }
        }
        display?.finish()
        if json {
            if let captured {
                try Console.json(report, adding: ["output": captured.text])
            } else {
                try Console.json(report)
            }
        } else {
            Console.error("corral: " + report.summary)
        }
        throw ExitCode(report.exitStatus)
    }
}

extension MaintJobOptions {
    /// `--each`: `request` once per guest, each in a worker process
    /// (``EachRunner``); a summary line per guest as it finishes, or all the
    /// reports as JSON; exit 1 if any guest failed.
    func runEach(_ request: JobRequest, guests: [String], jobs: Int, guestParameter: String) throws -> Never {
        let orders = guests.map { guest in
            var order = request
            order.parameters[guestParameter] = .text(guest)
            order.passOutput = false
            order.settings.logPath = log.map { "\($0).\((guest as NSString).lastPathComponent)" }
            return EachRunner.Order(guest: guest, request: order)
        }
        let json = self.json
        let reports = EachRunner.run(orders, jobs: jobs, executable: Resources.currentExecutable() ?? "/proc/self/exe",
                                     onResult: { report in if !json { Console.out(report.summary) } })
        if json { try Console.json(reports) }
        let failed = reports.filter { !$0.ok }.count
        if !json { Console.error("corral: \(request.template.name): \(reports.count - failed) of \(reports.count) guest(s) ok") }
        throw ExitCode(failed == 0 ? 0 : 1)
    }

    /// A dry run's plan for people: parameters, each disk and its preflight.
    static func show(_ plan: JobPlan) {
        Console.out("parameters:")
        for (name, value) in plan.parameters.sorted(by: { $0.key < $1.key }) { Console.out("  \(name)=\(value)") }
        Console.out("disks:")
        for disk in plan.disks {
            let what = disk.writes ? (disk.exists ? "written" : "created") : "read-only"
            let verdict = disk.preflight.isEmpty ? "preflight ok" : "preflight: " + disk.preflight.map { "\($0.severity.rawValue): \($0.message)" }.joined(separator: "; ")
            Console.out("  \(disk.unit) \(disk.device) \(disk.role.rawValue) '\(disk.path)' (\(what)): \(verdict)")
        }
        for finding in plan.preflight { Console.out("  \(finding.severity.rawValue): \(finding.message)") }
        let answer = plan.changed.map { $0 ? "yes" : "no" } ?? "unknown"
        Console.out("would change: \(answer) (\(plan.answeredBy.rawValue)): \(plan.reason)")
    }
}

/// `--in-place`, for the jobs that change an existing guest.
struct InPlaceOption: ParsableArguments {
    @Flag(name: .long, help: "Change the guest's COW directly instead of a copy renamed at the end (for COW files too large to copy).")
    var inPlace = false
}

/// `--each COW… [-j N]`, for the jobs that make sense once per guest.
struct EachOptions: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Run the job once per guest COW (replaces --cow); --log FILE then keeps FILE.<guest name> for each.", valueName: "COW"), completion: .file())
    var each: [String] = []

    @Option(name: .short, help: ArgumentHelp("With --each: guests at a time.", valueName: "N"))
    var j: Int = 1

    func validate() throws {
        if j < 1 { throw ValidationError("-j must be at least 1") }
    }
}

/// The command output `maint run --json` carries, kept as it arrives.
final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var dropped = 0

    func append(_ chunk: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        let room = max(0, OutputCapture.limit - bytes.count)
        bytes += chunk.prefix(room)
        dropped += max(0, chunk.count - room)
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        let body = String(decoding: bytes, as: UTF8.self)
        return dropped > 0 ? body + "\n[\(dropped) more bytes not kept]\n" : body
    }
}
