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
        subcommands: [COWCommand.self, BootCommand.self, MaintCommand.self, KernelExecCommand.self, MaintJobEntryCommand.self])

    /// Runs the command line. Every failure ends here and leaves as one
    /// `corral: …` line, a hint when a command fixes it, and a non-zero
    /// status; never a stack trace. Help, `--version` and completion scripts
    /// go to stdout through the argument parser.
    static func main() {
        do {
            var command = try parseAsRoot()
            try (command as? any UsageCheck)?.checkUsage()
            try RootRequirement.check(command)
            try command.run()
        } catch {
            Glibc.exit(report(error))
        }
    }

    /// Prints what `error` means for the user and returns the exit status.
    static func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as EngineError:
            Console.failure("\(error)")
            if let hint = error.hint { Console.hint(hint) }
            return 1
        case let error as CLIError:
            Console.failure(error.message)
            if let hint = error.hint { Console.hint(hint) }
            return error.status
        case let code as ExitCode:
            // The command already said what happened; only the status is left.
            return code.rawValue
        default:
            let code = exitCode(for: error)
            guard code != .success else {
                // Help, --version, --generate-completion-script: the parser prints them.
                exit(withError: error)
            }
            guard code == .validationFailure else {
                // Another library's error (launcher, maintenance): its
                // description is already the one line.
                Console.failure("\(error)")
                return code.rawValue
            }
            let usage = UsageError(message: message(for: error), fullMessage: fullMessage(for: error))
            Console.failure(usage.line)
            Console.hint(usage.hint(arguments: Array(CommandLine.arguments.dropFirst())))
            return code.rawValue
        }
    }
}

/// A CLI-level failure with its own exit status.
struct CLIError: Error {
    var message: String
    var hint: String?
    var status: Int32 = 1
}

/// A command whose usage check needs more than the parser's `validate()`
/// can report (its own one-line ``CLIError``, exit 64): run after parsing,
/// before the root check and `run()`.
protocol UsageCheck {
    func checkUsage() throws
}
