import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif

/// Enters new mount and PID namespaces (and a user namespace when not root).
///
/// After this, the helper's next child is PID 1 of the new PID namespace;
/// the helper itself stays outside, as the launcher's direct child.
enum Namespaces {
    static func enter(isRoot: Bool) throws(SandboxError) {
        let base = corral_clone_newns() | corral_clone_newpid()
        if isRoot {
            try syscall("unshare(CLONE_NEWNS|CLONE_NEWPID)") { corral_unshare(base) }
            return
        }
        // Unprivileged: map our own ids into a user namespace we own, which
        // grants the mount rights; the kernel keeps our host uid outside.
        let uid = getuid(), gid = getgid()
        try syscall("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID)") { corral_unshare(base | corral_clone_newuser()) }
        try syscall("write", "/proc/self/setgroups") { corral_write_proc_self("setgroups", "deny") }
        try syscall("write", "/proc/self/uid_map") { corral_write_proc_self("uid_map", "\(uid) \(uid) 1") }
        try syscall("write", "/proc/self/gid_map") { corral_write_proc_self("gid_map", "\(gid) \(gid) 1") }
    }
}
