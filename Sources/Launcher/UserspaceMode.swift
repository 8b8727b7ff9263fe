import Sandbox

/// How the kernel runs guest processes: traced by ptrace, or under UML's
/// seccomp userspace (`seccomp=on`).
///
/// Seccomp userspace runs guest code natively in its stub and traps guest
/// calls with a signal instead of a ptrace stop per call: 7.2 boots a
/// `--command true` guest about 19 % faster, and the jail's own filter,
/// which in ptrace mode runs on every one of the kernel's ~16,000 host
/// calls per boot, is then nearly free (README, sandbox cost).
///
/// Its price, which UML's own help for `seccomp=` states: guest processes
/// can reach the guest's physical memory and call the host through their
/// stub, so a guest process is as strong as the guest kernel. corral takes
/// that only where it gives nothing away:
/// - the guest runs corral's hostfs-init, so its processes are the user's
///   command, a job's script or a rescue shell, run as the guest's root,
///   who can already mount any host path the kernel reaches through hostfs;
/// - the jail, which is built to hold a hostile kernel, still bounds every
///   host call (the stubs run under it, and the profile lists theirs);
/// - a guest booting its own init (a disk root without `--command`, or
///   `--init`), whose users may not be trusted, keeps ptrace's separation.
///
/// The user's own `seccomp=` (`--kernel-arg seccomp=off`) always wins.
public enum UserspaceMode: String, Sendable, Equatable, Codable {
    case ptrace
    case seccomp

    /// The kernel argument that selects the mode, or nil for the kernel's
    /// default (ptrace in every Debian build).
    var kernelArgument: String? { self == .seccomp ? "seccomp=on" : nil }

    /// The mode for a boot of the `kernel` selected by build id: seccomp only
    /// for a build known to support it under its profile, corral's own init,
    /// no `seccomp=` from the user, and, when jailed, a host whose jail lets
    /// guest calls trap (``SeccompUserspace``).
    static func choose(_ kernel: KernelProfile.Selection, hostfsInit: Bool, sandbox: SandboxPolicy.Mode,
                       extraArguments: [String]) -> UserspaceMode {
        guard hostfsInit, userArgument(in: extraArguments) == nil,
              kernel.known, kernel.profile.seccompUserspace else { return .ptrace }
        if sandbox == .enforce, !SeccompUserspace.jailLetsGuestCallsTrap { return .ptrace }
        return .seccomp
    }

    /// The user's own `seccomp=` among the extra kernel arguments: the last
    /// one, which UML takes.
    static func userArgument(in extraArguments: [String]) -> String? {
        extraArguments.last { $0.hasPrefix("seccomp=") }
    }
}
