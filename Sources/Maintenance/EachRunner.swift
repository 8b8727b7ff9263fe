import CorralSystem
import Foundation
import Launcher
import Synchronization

/// `--each`: the same job over many guests, at most `jobs` at a time.
///
/// Each guest's job runs in a worker process of its own, because a boot owns
/// process-wide state (the SIGCHLD signalfd, the subreaper role) that two
/// boots in one process would fight over. The worker is the executable's
/// internal ``entryPoint``: it is handed the guest's ``JobRequest`` itself,
/// as JSON on its stdin, and answers with a ``JobReport`` as JSON on its
/// stdout. So nothing here depends on the user-facing command line and its
/// flags, and a worker that cannot start is still reported under the job's
/// own name.
public enum EachRunner {
    /// The executable's hidden subcommand that runs one request (``serve(_:)``).
    public static let entryPoint = "_maint-job"

    /// One guest and its job.
    public struct Order: Sendable {
        public var guest: String
        public var request: JobRequest

        public init(guest: String, request: JobRequest) {
            self.guest = guest
            self.request = request
        }
    }

    /// Runs every order, each in its own `executable _maint-job`.
    /// - Parameter onResult: called as each guest finishes (from a worker thread).
    /// - Returns: the reports in the order of `orders`.
    public static func run(_ orders: [Order], jobs: Int, executable: String,
                           onResult: @escaping @Sendable (JobReport) -> Void) -> [JobReport] {
        let next = Mutex(0)
        let results = Mutex([JobReport?](repeating: nil, count: orders.count))
        let group = DispatchGroup()
        for _ in 0..<max(1, min(jobs, orders.count)) {
            group.enter()
            SignalMask.startThread {
                while true {
                    let index: Int? = next.withLock { value in
                        guard value < orders.count else { return nil }
                        defer { value += 1 }
                        return value
                    }
                    guard let index else { break }
                    let report = runOne(orders[index], executable: executable)
                    results.withLock { $0[index] = report }
                    onResult(report)
                }
                group.leave()
            }
        }
        group.wait()
        return results.withLock { $0.compactMap { $0 } }
    }

    /// The worker's side: runs `request` (a dry run when it says so) and
    /// returns its report, in which a preflight refusal's findings, not just
    /// "preflight failed", are the reason: the summary line is all an
    /// `--each` user sees of a guest.
    public static func serve(_ request: JobRequest) -> JobReport {
        var request = request
        let refusals = Mutex<[String]>([])
        request.settings.bootEvents = { event in
            if case .diagnostic(.preflight(let issue)) = event, issue.severity == .failure {
                refusals.withLock { $0.append(issue.line) }
            }
        }
        var report = request.dryRun ? DryRun.run(request) : Job.run(request)
        let refused = refusals.withLock { $0 }
        if !report.ok, !refused.isEmpty { report.reason = refused.joined(separator: "; ") }
        return report
    }

    static func runOne(_ order: Order, executable: String) -> JobReport {
        let job = order.request.template.name
        func failed(_ status: Int32, _ reason: String) -> JobReport {
            JobReport(job: job, guest: order.guest, ok: false, exitStatus: status, reason: reason)
        }
        let input: Data
        do {
            input = try JSONEncoder().encode(order.request)
        } catch {
            return failed(1, "cannot hand the job to a worker: \(error)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [entryPoint]
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            return failed(1, "cannot start \(executable) \(entryPoint): \(error)")
        }
        // Drain stderr concurrently so a chatty worker cannot block on a full pipe.
        let errorText = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        SignalMask.startThread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errorText.withLock { $0 = data }
            drained.signal()
        }
        // The request is small; a worker that died before reading it shows
        // as a missing report below, not as an error here.
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        drained.wait()
        if var report = try? JSONDecoder().decode(JobReport.self, from: data) {
            report.guest = order.guest
            return report
        }
        let stderrText = errorText.withLock { String(decoding: $0, as: UTF8.self) }
        let lastLine = stderrText.split(separator: "\n").last.map(String.init) ?? "the worker sent no report"
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return failed(status == 0 ? 1 : status, lastLine)
    }
}
