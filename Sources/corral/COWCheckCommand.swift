import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

/// `corral cow check`
struct COWCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Find every reason the kernel would refuse or misread a COW disk.",
        discussion: "Exit status: 0 healthy (warnings allowed), 1 problems found, 2 could not check (qemu-img check says 0, 2 and 1 for these; see corral-cow(1)).")

    @OptionGroup var backingOptions: BackingOptions
    @OptionGroup var format: JSONOutputOptions
    @Flag(help: "Also verify the backing's content against the fingerprint corral recorded (reads its data).")
    var deep = false
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        let backing = try backingOptions.checked()
        LeftoverNotes.sweep(directory: PathResolution.split(cow).directory)
        let report: CheckReport
        do {
            report = try DiskCheck.check(path: cow, backing: backing, requireWritable: false, expectCOW: true, deep: deep)
        } catch {
            throw CLIError(message: "could not check: \(error)", hint: error.hint, status: 2)
        }
        if format.isJSON {
            try Console.json(report)
        } else if report.findings.isEmpty {
            Console.out("\(cow): ok (backing \(report.backingFile ?? "-") matches)")
        } else {
            for f in report.findings {
                var line = "\(cow): \(f.severity.rawValue): \(f.message) [\(f.code.rawValue)]"
                if let hint = f.hint { line += "\n    fix: \(hint)" }
                Console.out(line)
            }
        }
        if report.hasProblems { throw ExitCode(1) }
    }
}
