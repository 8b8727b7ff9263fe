import ArgumentParser
import Foundation
import Maintenance

/// `corral _maint-job`: one guest's job for `--each` (``EachRunner``). It
/// reads the ``JobRequest`` as JSON on stdin, runs it and prints its
/// ``JobReport`` as JSON on stdout, exiting with the job's status. Not for
/// people: the request is the library's typed value, not a command line.
struct MaintJobEntryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: EachRunner.entryPoint,
        abstract: "Internal: one guest's job for maint --each.",
        shouldDisplay: false
    )

    func run() throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        var request: JobRequest
        do {
            request = try JSONDecoder().decode(JobRequest.self, from: input)
        } catch {
            throw CLIError(message: "\(EachRunner.entryPoint): no job request on stdin (it is started by maint --each): \(error)", status: 64)
        }
        request.settings.environment = ProcessInfo.processInfo.environment
        let report = EachRunner.serve(request)
        try Console.json(report)
        throw ExitCode(report.exitStatus)
    }
}
