import CCorralShim

/// Where the guest console's input comes from, as hostfs-init is told
/// (`corral_input=`). It decides what init must start before the command:
/// every program costs ~0.05–0.1 s under UML, loaded through hostfs.
public enum ConsoleInput: String, Sendable, Equatable, Codable {
    /// A person at a terminal: raw-mode passthrough, echo on, job control.
    case terminal = "tty"
    /// Piped or redirected input: echo off (`stty`), so what is typed into
    /// the guest is not copied into corral's output.
    case stream = "pipe"
    /// Nothing can be read (stdin is /dev/null or closed): no `stty`, no
    /// controlling terminal, the command runs in a subshell of init.
    case none = "none"

    /// What the caller's input descriptor is, given whether the console is interactive.
    public static func of(standardInput fd: Int32, interactive: Bool) -> ConsoleInput {
        if interactive { return .terminal }
        return corral_launch_reads_nothing(fd) == 1 ? .none : .stream
    }
}
