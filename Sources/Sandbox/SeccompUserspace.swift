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
/// profile covers it and a host that reports denials by notification.
public enum SeccompUserspace {
    /// True when a jailed `selection` kernel may run in seccomp userspace on this host.
    public static func jailAllows(_ selection: KernelProfile.Selection) -> Bool {
        selection.known && selection.profile.seccompUserspace && corral_seccomp_notify_available() != 0
    }
}
