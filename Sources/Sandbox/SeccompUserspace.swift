import CSandboxShim

/// Whether the jail can hold a kernel that runs its guest processes under
/// UML's seccomp userspace (`seccomp=on`).
///
/// In that mode a stub runs guest code natively and its own filter traps the
/// guest's calls (SECCOMP_RET_TRAP). The host runs every filter a process
/// carries and keeps the strongest verdict: the jail's user-notification
/// default is weaker than a trap, so guest calls still reach UML's handler.
/// Where the host has no seccomp user notification the jail's default is
/// KILL_PROCESS, which outranks the trap: the first guest call the profile
/// does not list would kill its stub. So the mode needs a build whose
/// profile covers it (``KernelProfile/seccompUserspace``) and a host that
/// reports denials by notification: the probe `HostFeatures.seccompNotify`
/// and ``KernelFilter``'s choice of default action make.
public enum SeccompUserspace {
    /// True when the jail's filter on this host lets a stub's trap win over
    /// its default action.
    public static var jailLetsGuestCallsTrap: Bool { corral_seccomp_notify_available() != 0 }
}
