import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// The kernel's private mount namespace: the host's whole mount tree,
/// read-only (recursively: /proc, /proc/sys, /sys, /dev included), with the
/// writable paths attached back on top as writable copies.
///
/// Read-only *mounts* are what make `mount -o remount,rw /` or a fresh
/// `mount -t hostfs` in the guest useless: every host path UML opens on the
/// guest's behalf is resolved in this namespace.
struct MountJail: Sendable {
    var writable: WritablePaths
    /// Attached read-only and idmapped, only when the writable paths are idmapped.
    var readable: [String] = []
    /// Size of the private /dev/shm that holds UML's memory file
    /// (`KernelLimits.memoryFileBytes`); nil: as large as the host's RAM.
    var memoryFileBytes: UInt64? = nil

    /// Must run right after `unshare(CLONE_NEWNS)`. With `idmap` (a user
    /// namespace fd, `KernelAccount`), the writable copies are idmapped
    /// mounts; returns false when one could not be (its filesystem lacks
    /// idmapped mounts): then none is, so that one owner fits them all.
    @discardableResult
    func apply(idmap: Int32? = nil) throws(SandboxError) -> Bool {
        var idmapped = idmap != nil
        // First, so that nothing below propagates back to the host.
        try SandboxError.systemCall("mount(/, MS_REC|MS_PRIVATE)", "") { corral_make_mounts_private() }
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
            let fd = try SandboxError.systemCall("open_tree", path) { corral_clone_mount_tree(path) }
            clones.append((path, fd))
            if let idmap, idmapped, corral_idmap_mount_tree(fd, idmap) != 0 { idmapped = false }
        }
        if idmap != nil && !idmapped {
            for clone in clones { close(clone.fd) }
            clones = []
            for path in writable.paths {
                let fd = try SandboxError.systemCall("open_tree", path) { corral_clone_mount_tree(path) }
                clones.append((path, fd))
            }
        }
        try SandboxError.systemCall("mount_setattr(/, MOUNT_ATTR_RDONLY, AT_RECURSIVE)", "") { corral_set_tree_readonly("/") }
        for clone in clones {
            try SandboxError.systemCall("move_mount", clone.path) { corral_attach_mount_tree(clone.fd, clone.path) }
        }
        if let idmap, idmapped {
            // One inside a writable path is idmapped (and writable) already.
            for path in readable where !writable.paths.contains(where: { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }) {
                let fd = try SandboxError.systemCall("open_tree", path) { corral_clone_mount_tree(path) }
                defer { close(fd) }
                try SandboxError.systemCall("mount_setattr(MOUNT_ATTR_IDMAP)", path) { corral_idmap_mount_tree(fd, idmap) }
                try SandboxError.systemCall("mount_setattr(MOUNT_ATTR_RDONLY)", path) { corral_set_detached_readonly(fd) }
                try SandboxError.systemCall("move_mount", path) { corral_attach_mount_tree(fd, path) }
            }
        }
        try hideHostSecrets()
        if let cwd { try SandboxError.systemCall("chdir", cwd) { chdir(cwd) } }
        return idmapped
    }

    /// Host files whose contents the kernel never needs, read as empty in
    /// its namespace (and so through any hostfs mount a guest makes).
    static let emptied = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/dev/kmsg"]

    /// What the kernel's namespace replaces on top of the read-only host tree:
    /// - a private tmpfs on /dev/shm: UML's memory file lands there, not in
    ///   the host's /dev/shm, where a guest could plant files for others;
    /// - /etc/shadow and friends and /dev/kmsg read as empty;
    /// - a new devpts instance on /dev/pts (and its ptmx on /dev/ptmx): no
    ///   other user's terminal can be opened; the console pty is already on
    ///   fds 0-2 and UML's SIGIO self-test gets a pty of its own.
    /// (/proc is replaced by the reaper, inside the new PID namespace.)
    func hideHostSecrets() throws(SandboxError) {
        if WritablePaths.isDirectory("/dev/shm") {
            try SandboxError.systemCall("mount(tmpfs)", "/dev/shm") { corral_mount_tmpfs("/dev/shm", "mode=1777,size=\(memoryFileBytes.map(String.init) ?? "100%")", 0) }
        }
        for path in Self.emptied where access(path, F_OK) == 0 {
            try SandboxError.systemCall("mount(/dev/null, MS_BIND)", path) { corral_bind_null(path) }
        }
        if WritablePaths.isDirectory("/dev/pts") && access("/dev/ptmx", F_OK) == 0 {
            try SandboxError.systemCall("mount(devpts, newinstance)", "/dev/pts") { corral_mount_private_devpts("/dev/pts", "/dev/ptmx") }
        }
    }
}
