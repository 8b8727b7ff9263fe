import ArgumentParser
import CorralHelper
import CorralSystem

/// `corral _kernel-exec`: the kernel helper (``KernelExec``) inside corral
/// itself, which `corral boot` runs when the small `corral-kernel-exec` is not
/// installed beside it. It makes a new session with the boot's pty as
/// controlling terminal, arms PR_SET_PDEATHSIG, enters the sandbox and execs
/// the kernel; its spec and go come on fds 4 and 5, setup errors go back on
/// fd 3. Not for people.
struct KernelExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_kernel-exec",
        abstract: "Internal: the kernel-starting helper of corral boot.",
        shouldDisplay: false
    )

    func run() throws {
        // Run by hand there is no error pipe: the one line goes to stderr.
        KernelExec.run(toPerson: { Output.writeAll(2, "corral: \($0)\n") })
    }
}
