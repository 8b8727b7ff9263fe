import Foundation
import Synchronization

/// `--each`: the same job over many guests, at most `jobs` at a time.
///
/// Each guest runs in its own `corral maint … --json` process, because a
/// boot owns process-wide state (the SIGCHLD signalfd, the subreaper role)
/// that two boots in one process would fight over.
public enum EachRunner {
    /// - Parameters:
    ///   - arguments: the child's argv (after the executable) for one guest;
    ///     it must ask for `--json`.
    ///   - onResult: called as each guest finishes (from a worker thread).
    public static func run(guests: [String], jobs: Int, executable: String,
                           arguments: @escaping @Sendable (String) -> [String],
                           onResult: @escaping @Sendable (JobReport) -> Void) -> [JobReport] {
        let next = Mutex(0)
        let results = Mutex([JobReport?](repeating: nil, count: guests.count))
        let group = DispatchGroup()
        for _ in 0..<max(1, min(jobs, guests.count)) {
            group.enter()
            Thread.detachNewThread {
                while true {
                    let index: Int? = next.withLock { value in
                        guard value < guests.count else { return nil }
                        defer { value += 1 }
                        return value
                    }
                    guard let index else { break }
                    let report = runOne(guest: guests[index], executable: executable, arguments: arguments(guests[index]))
                    results.withLock { $0[index] = report }
                    onResult(report)
                }
                group.leave()
            }
        }
        group.wait()
        return results.withLock { $0.compactMap { $0 } }
    }

    static func runOne(guest: String, executable: String, arguments: [String]) -> JobReport {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return JobReport(job: arguments.first ?? "job", guest: guest, ok: false, exitStatus: 1,
                             reason: "cannot start \(executable): \(error)")
        }
        // Drain stderr concurrently so a chatty child cannot block on a full pipe.
        let errorText = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errorText.withLock { $0 = data }
            drained.signal()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        drained.wait()
        let stderrText = errorText.withLock { String(decoding: $0, as: UTF8.self) }
        if var report = try? JSONDecoder().decode(JobReport.self, from: data) {
            report.guest = guest
            // "preflight failed" says only that something was refused; the
            // child's preflight lines say what ("... does not exist").
            let refused = stderrText.split(separator: "\n").filter { $0.hasPrefix("corral: preflight: ") }
            if !report.ok, !refused.isEmpty {
                report.reason = refused.map { String($0.dropFirst("corral: ".count)) }.joined(separator: "; ")
            }
            return report
        }
        let lastLine = stderrText.split(separator: "\n").last.map(String.init) ?? "no report"
        return JobReport(job: arguments.first ?? "job", guest: guest, ok: false,
                         exitStatus: process.terminationStatus, reason: lastLine)
    }
}
