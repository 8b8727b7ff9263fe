import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's private mount namespace: the host's whole mount tree,
/// read-only (recursively: /proc, /proc/sys, /sys, /dev included), with the
/// writable paths attached back on top as writable copies.
///
/// Read-only *mounts* are what make `mount -o remount,rw /` or a fresh
/// `mount -t hostfs` in the guest useless: every host path UML opens on the
/// guest's behalf is resolved in this namespace.
struct MountJail: Sendable {
    var writable: WritablePaths

    /// Must run right after `unshare(CLONE_NEWNS)`.
    func apply() throws(SandboxError) {
        // First, so that nothing below propagates back to the host.
        try syscall("mount(/, MS_REC|MS_PRIVATE)") { corral_make_mounts_private() }
        // The working directory, to re-enter once the copies are attached:
        // the process's cwd keeps pointing into the mount underneath, so a
        // relative disk path (`--disk 1=guest.cow`) would resolve read-only.
        var cwdBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let cwd: String? = getcwd(&cwdBuffer, cwdBuffer.count) != nil
            ? String(decoding: cwdBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        // Detached writable copies, taken before the tree goes read-only.
        var clones: [(path: String, fd: Int32)] = []
        defer { for clone in clones { close(clone.fd) } }
        for path in writable.paths {
            let fd = try syscall("open_tree", path) { corral_clone_mount_tree(path) }
            clones.append((path, fd))
        }
        try syscall("mount_setattr(/, MOUNT_ATTR_RDONLY, AT_RECURSIVE)") { corral_set_tree_readonly("/") }
        for clone in clones {
            try syscall("move_mount", clone.path) { corral_attach_mount_tree(clone.fd, clone.path) }
        }
        if let cwd { try syscall("chdir", cwd) { chdir(cwd) } }
    }
}
