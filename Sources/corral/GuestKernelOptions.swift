import ArgumentParser
import Foundation
import Launcher
import Maintenance

/// `--kernel`, `--memory` and `--verbose`: the guest every maintenance
/// command boots (the template jobs through ``MaintJobOptions``, and
/// `maint shell`). Each command calls ``check()`` from its own `validate()`,
/// in the order of its other checks.
struct GuestKernelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The UML kernel: a path or a name on PATH.", valueName: "PATH"))
    var kernel: String = Resources.defaultKernel

    @Option(name: .long, help: "Guest memory (mem=).")
    var memory: String = "256M"

    @Flag(name: .long, help: "Kernel messages on stderr.")
    var verbose = false

    /// A kernel that is not there, or memory the kernel or the host cannot
    /// give, is a usage error (exit 64) before anything is opened.
    func check() throws {
        try GuestOptionsCheck.validate(kernel: kernel, memory: memory)
    }

    /// Puts the kernel, memory and verbosity in `settings`, with corral's
    /// environment (a kernel named without a path is looked up on its PATH).
    func apply(to settings: inout GuestSettings) {
        settings.kernel = kernel
        settings.memory = memory
        settings.verbose = verbose
        settings.environment = ProcessInfo.processInfo.environment
    }
}
