import ArgumentParser
import COWEngine
#if canImport(Glibc)
import Glibc
#endif

struct CorralCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corral",
        abstract: "Safe maintenance for User-Mode Linux guests: COW disks, checked boots, one-command jobs.",
        version: CorralVersion.text,
        subcommands: [COWCommand.self, BootCommand.self, MaintCommand.self, KernelExecCommand.self])

    /// Runs the command line, turning engine errors into one line plus a hint
    /// and a non-zero status (never a stack trace).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as EngineError {
            Console.error("corral: \(error)")
            if let hint = error.hint { Console.error("hint: \(hint)") }
            Glibc.exit(1)
        } catch let error as CLIError {
            Console.error("corral: \(error.message)")
            if let hint = error.hint { Console.error("hint: \(hint)") }
            Glibc.exit(error.status)
        } catch {
            exit(withError: error)
        }
    }
}

/// A CLI-level failure with its own exit status.
struct CLIError: Error {
    var message: String
    var hint: String?
    var status: Int32 = 1
}
