// TEMPORARY root command for the launcher branch; the lead replaces this file.
import ArgumentParser

struct Corral: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corral",
        subcommands: [BootCommand.self, KernelExecCommand.self]
    )
}

Corral.main()
