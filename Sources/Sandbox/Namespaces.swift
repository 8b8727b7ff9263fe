import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Enters the kernel's namespaces: PID (for the reaper), IPC (SysV IPC out
/// of reach), network unless Landlock scopes abstract sockets
/// (`Landlock.scopesAbstractSockets`; UML without `ethN=` needs no
/// network, and the filter lets it open AF_UNIX sockets only, so abstract
/// ones are all a network namespace keeps from it; the mconsole socket is a
/// path and still works from outside), mount when the jail can be built,
/// and a user namespace when not root.
///
/// After this, the helper's next child is PID 1 of the new PID namespace;
/// the helper itself stays outside, as the launcher's direct child.
enum Namespaces {
    static func enter(isRoot: Bool, mount: Bool, network: Bool) throws(SandboxError) {
        var flags = corral_clone_newpid() | corral_clone_newipc()
        var names = "CLONE_NEWPID|CLONE_NEWIPC"
        if network {
            flags |= corral_clone_newnet()
            names += "|CLONE_NEWNET"
        }
        if mount {
            flags |= corral_clone_newns()
            names += "|CLONE_NEWNS"
        }
        if isRoot {
            try SandboxError.systemCall("unshare(\(names))", "") { corral_unshare(flags) }
            return
        }
        // Unprivileged: map our own ids into a user namespace we own, which
        // grants the mount rights; the kernel keeps our host uid outside.
        let uid = getuid(), gid = getgid()
        try SandboxError.systemCall("unshare(CLONE_NEWUSER|\(names))", "") { corral_unshare(flags | corral_clone_newuser()) }
        try SandboxError.systemCall("write", "/proc/self/setgroups") { corral_write_proc_self("setgroups", "deny") }
        try SandboxError.systemCall("write", "/proc/self/uid_map") { corral_write_proc_self("uid_map", "\(uid) \(uid) 1") }
        try SandboxError.systemCall("write", "/proc/self/gid_map") { corral_write_proc_self("gid_map", "\(gid) \(gid) 1") }
    }
}
