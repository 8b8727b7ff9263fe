import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// The kernel's private mount namespace: a read-only root of its own
/// (`JailRoot`) holding only what the kernel and a maintenance guest need,
/// with the writable paths (the read-write disk files, uml_dir) attached
/// as writable mounts, a private /dev/shm and devpts, and /etc/shadow and
/// friends read as empty. The host's root is detached (pivot_root), so
/// every host path UML opens on the guest's behalf, a fresh
/// `mount -t hostfs` included, is resolved in this root.
struct MountJail: Sendable {
    var writable: WritablePaths
    /// Attached read-only (and idmapped, when the writable paths are): the
    /// policy's readable paths, the kernel binary, its interpreter and its
    /// library directories.
    var readable: [String] = []
    /// Size of the private /dev/shm that holds UML's memory file
    /// (`KernelLimits.memoryFileBytes`); nil: as large as the host's RAM.
    var memoryFileBytes: UInt64? = nil

    /// The half of the jail that depends only on the host: mounts made
    /// private, then a root with the system trees, the host's /proc when
    /// `procFromHost`, the devices, the empty mount points and /dev/ptmx.
    /// Must run right after `unshare(CLONE_NEWNS)`; the helper runs it
    /// before its spec arrives (`PreparedJail`). ``apply(_:idmap:account:)``
    /// finishes it.
    static func begin(procFromHost: Bool) throws(SandboxError) -> JailRoot {
        // First, so that nothing below propagates back to the host.
        try SandboxError.systemCall("mount(/, MS_REC|MS_PRIVATE)", "") { corral_make_mounts_private() }
        var jail = try JailRoot()
        do throws(SandboxError) {
            for tree in JailRoot.systemTrees { try jail.bind(tree, .system, optional: true) }
            if procFromHost { try jail.bind("/proc", .system) }
            for device in JailRoot.devices { try jail.bind(device, .device, optional: true) }
            for path in JailRoot.mountPoints { try jail.directory(path) }
            try jail.emptyFile("/dev/ptmx")
        } catch {
            jail.closeAll()
            throw error
        }
        return jail
    }

    /// Finishes `jail` (from ``begin(procFromHost:)``) and makes it the
    /// root. With `idmap` (a user namespace fd mapping root to `account`),
    /// the writable and readable mounts are idmapped. One whose file system
    /// takes no idmapped mounts is bound as the host has it, if `account`
    /// can still work with it as a stranger; otherwise the boot is refused
    /// before the pivot, naming that path (`KernelAccount.refusal(unmapped:)`).
    /// Closes the jail's descriptors in any case.
    func apply(_ jail: JailRoot, idmap: Int32? = nil, account: KernelAccount? = nil) throws(SandboxError) {
        var jail = jail
        defer { jail.closeAll() }
        // The working directory, to re-enter inside the jail: a relative
        // disk path (`--disk 1=guest.cow`) resolves against it.
        var cwdBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let cwd: String? = getcwd(&cwdBuffer, cwdBuffer.count) != nil
            ? String(decoding: cwdBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        for path in readable { try jail.bind(path, .readOnly, idmap: idmap, optional: true) }
        for path in writable.requested where path != "/dev/shm" { try jail.bind(path, .writable, idmap: idmap) }
        if let cwd { try jail.directory(cwd) }
        if let account, let refusal = account.refusal(unmapped: jail.unmapped) { throw .ownUIDRefused(refusal) }
        // Any directory of the old root will do: it is detached below.
        let point = ["/tmp", "/mnt", "/media", "/srv"].first(where: WritablePaths.isDirectory) ?? "/"
        try jail.attach(at: point)
        try SandboxError.systemCall("mount(tmpfs)", "/dev/shm") { corral_mount_tmpfs(point + "/dev/shm", "mode=1777,size=\(memoryFileBytes.map(String.init) ?? "100%")", 0) }
        try SandboxError.systemCall("mount(devpts, newinstance)", "/dev/pts") {
            corral_mount_private_devpts(point + "/dev/pts", point + "/dev/ptmx")
        }
        for path in Self.emptied where access(point + path, F_OK) == 0 {
            try SandboxError.systemCall("mount(/dev/null, MS_BIND)", path) { corral_bind_null(point + path) }
        }
        try SandboxError.systemCall("mount_setattr(MOUNT_ATTR_RDONLY)", "jail root") { corral_set_mount_readonly(point) }
        try SandboxError.systemCall("pivot_root", "jail root") { corral_pivot_root(point) }
        if let cwd, chdir(cwd) != 0 { _ = chdir("/") }
    }

    /// Host files whose contents the kernel never needs, read as empty in
    /// its namespace (and so through any hostfs mount a guest makes).
    static let emptied = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"]
}
