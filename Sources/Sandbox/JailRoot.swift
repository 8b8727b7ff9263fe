import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// The kernel's root directory: a small read-only tmpfs that holds, at the
/// same absolute paths as on the host (so no path on the kernel's command
/// line or in a guest's `mount -t hostfs` needs translating), only
/// - the system trees a kernel and a maintenance guest run programs from
///   (`systemTrees`: /usr, /etc, and /bin, /lib… or their merged-usr
///   symlinks), read-only;
/// - the readable paths (the kernel binary, its interpreter and library
///   directories, hostfs-init, a hostfs root, `:r` disks and backing files,
///   a job's script directory), read-only;
/// - the writable paths (the read-write disk files themselves, uml_dir);
/// - a minimal /dev (`devices`, a private devpts and /dev/shm);
/// - empty directories where the guest mounts its own file systems
///   (`mountPoints`), and the directories leading to the paths above.
///
/// Everything else of the host (homes, /root, /tmp, /var, /run, /srv, /mnt,
/// /media and their sockets) does not exist in the kernel's mount namespace,
/// so neither the kernel nor a guest's fresh `mount -t hostfs none X -o /`
/// can reach it.
///
/// Built in a detached tmpfs through descriptors: every directory on the way
/// to a path is opened `O_NOFOLLOW`, and a host symlink on the way is
/// recreated as the same symlink (so `/bin -> usr/bin` and a disk reached
/// through a symlinked directory resolve as on the host) while the walk
/// follows its target on the host side, never inside the jail.
struct JailRoot {
    static let systemTrees = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
    static let mountPoints = ["/tmp", "/var", "/run", "/home", "/root", "/mnt", "/media", "/srv", "/opt",
                              "/boot", "/sys", "/proc", "/dev", "/dev/pts", "/dev/shm"]
    static let devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]

    enum Access: Equatable { case system, readOnly, writable, device }

    struct Bind {
        /// Symlink-free host path, and where it appears in the jail.
        var path: String
        var access: Access
        var fd: Int32
    }

    private let root: Int32
    /// The jail's directories opened so far, by symlink-free path ("" is
    /// the root itself, which `root` holds): each is opened once, from its
    /// parent, instead of walking from the root for every name made in it
    /// (a walk per component cost a jailed boot some 600 system calls).
    private var directories: [String: Int32] = [:]
    private(set) var binds: [Bind] = []
    /// Binds asked to be idmapped whose file system takes no idmapped
    /// mounts (NFS, squashfs, ramfs, hostfs, ...): left with the host's
    /// owners. Whether the kernel's uid can still work with them is the
    /// caller's to judge (`KernelAccount.refusal(unmapped:)`).
    private(set) var unmapped: [Bind] = []

    init() throws(SandboxError) {
        root = try SandboxError.systemCall("fsmount(tmpfs)", "jail root") { corral_detached_tmpfs() }
    }

    func closeAll() {
        for bind in binds { close(bind.fd) }
        for fd in directories.values { close(fd) }
        close(root)
    }

    /// The bind a symlink-free path lies in (itself or a parent), if any.
    private func covering(_ path: String) -> Bind? {
        binds.last { HostPath.lies(path, within: $0.path) }
    }

    /// An empty directory in the jail (and its parents), for the guest's own mounts.
    mutating func directory(_ path: String) throws(SandboxError) {
        let components = path.split(separator: "/").map(String.init)
        for depth in components.indices {
            let parent = try jailDirectory(Array(components[..<depth]))
            if mkdirat(parent, components[depth], 0o755) != 0 && errno != EEXIST {
                throw SandboxError.call("mkdir", "jail \(path)", errno: errno)
            }
        }
    }

    /// An empty file in the jail, to mount a file on.
    mutating func emptyFile(_ path: String) throws(SandboxError) {
        var components = path.split(separator: "/").map(String.init)
        guard let last = components.popLast() else { return }
        let parent = try jailDirectory(components)
        let fd = openat(parent, last, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SandboxError.call("create", "jail \(path)", errno: errno) }
        close(fd)
    }

    /// Attaches the host's `path` at the same path in the jail (a recursive
    /// clone of its mounts: read-only unless `.writable` or a device, never
    /// set-uid) and, when `idmap` is given, with its owners mapped
    /// (`KernelAccount`; where its file system cannot, it is bound as the
    /// host has it and listed in `unmapped`). Returns false when the host has no such path (an
    /// optional one) or it is already visible through an earlier read-only
    /// bind.
    @discardableResult
    mutating func bind(_ path: String, _ access: Access, idmap: Int32? = nil,
                       optional: Bool = false) throws(SandboxError) -> Bool {
        guard let resolved = try mirror(path, optional: optional) else { return false }
        if access == .readOnly || access == .system, let cover = covering(resolved),
           cover.access == .system || cover.access == .readOnly {
            // Already visible, read-only: nothing to add (an idmapped view
            // is only needed where a stranger is refused, never in /usr).
            return false
        }
        let fd = try SandboxError.systemCall("open_tree", resolved) { corral_clone_mount_tree(resolved) }
        let bind = Bind(path: resolved, access: access, fd: fd)
        binds.append(bind)
        if let idmap, corral_idmap_mount_tree(fd, idmap) != 0 { unmapped.append(bind) }
        var attributes = corral_mount_attr_nosuid()
        switch access {
        case .system, .readOnly: attributes |= corral_mount_attr_rdonly() | corral_mount_attr_nodev()
        // No noexec: hostfs asks the host whether a guest may execute a file
        // (access X_OK), so it would stop guest programs there; Landlock keeps
        // the kernel's own tree from executing host files.
        case .writable: attributes |= corral_mount_attr_nodev()
        case .device: break
        }
        try SandboxError.systemCall("mount_setattr", resolved) { corral_set_detached_attrs(fd, attributes) }
        return true
    }

    /// Attaches the jail at `mountPoint`, moves every bind into it (parents
    /// first).
    func attach(at mountPoint: String) throws(SandboxError) {
        try SandboxError.systemCall("move_mount", "jail root on \(mountPoint)") { corral_attach_mount_tree(root, mountPoint) }
        let ordered = binds.enumerated().sorted {
            let a = $0.element.path.split(separator: "/").count, b = $1.element.path.split(separator: "/").count
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        for bind in ordered {
            let target = mountPoint + bind.path
            try SandboxError.systemCall("move_mount", bind.path) { corral_attach_mount_tree(bind.fd, target) }
        }
    }

    /// Host path → its symlink-free form, making the directories and symlinks
    /// on the way in the jail and, at the end, an empty directory or file to
    /// mount on. nil: missing and `optional`.
    private mutating func mirror(_ path: String, optional: Bool) throws(SandboxError) -> String? {
        var pending = path.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let name = pending.removeFirst()
            if name == "." { continue }
            if name == ".." { _ = resolved.popLast(); continue }
            let host = "/" + (resolved + [name]).joined(separator: "/")
            let inside = covering("/" + resolved.joined(separator: "/")) != nil
            var st = stat()
            guard lstat(host, &st) == 0 else {
                if optional && errno == ENOENT { return nil }
                throw SandboxError.call("lstat", host, errno: errno)
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                hops += 1
                guard hops <= 40 else { throw SandboxError.call("resolve", path, errno: ELOOP) }
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(host, &buffer, buffer.count - 1)
                guard n > 0 else { throw SandboxError.call("readlink", host, errno: errno) }
                let target = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !inside {
                    let parent = try jailDirectory(resolved)
                    if symlinkat(target, parent, name) != 0 && errno != EEXIST {
                        throw SandboxError.call("symlink", "jail \(host)", errno: errno)
                    }
                }
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
            case S_IFDIR:
                resolved.append(name)
                if !inside {
                    let parent = try jailDirectory(Array(resolved.dropLast()))
                    if mkdirat(parent, name, 0o755) != 0 && errno != EEXIST {
                        throw SandboxError.call("mkdir", "jail \(host)", errno: errno)
                    }
                }
            default:
                guard pending.isEmpty else { throw SandboxError.call("resolve", host, errno: ENOTDIR) }
                resolved.append(name)
                if !inside {
                    let parent = try jailDirectory(Array(resolved.dropLast()))
                    let fd = openat(parent, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
                    if fd < 0 && errno != EEXIST { throw SandboxError.call("create", "jail \(host)", errno: errno) }
                    if fd >= 0 { close(fd) }
                }
            }
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// The jail's directory at `components` (symlink-free), opened without
    /// following any link: from the deepest one already open, each further
    /// name `O_NOFOLLOW` from its parent. The descriptor stays the jail's
    /// (closed by `closeAll`); callers must not close it.
    private mutating func jailDirectory(_ components: [String]) throws(SandboxError) -> Int32 {
        var known = components.count, fd = root
        while known > 0 {
            if let open = directories[components[..<known].joined(separator: "/")] { fd = open; break }
            known -= 1
        }
        for depth in known..<components.count {
            let next = corral_open_directory_nofollow(fd, components[depth])
            let code = errno
            guard next >= 0 else { throw SandboxError.call("open", "jail /\(components.joined(separator: "/"))", errno: code) }
            directories[components[...depth].joined(separator: "/")] = next
            fd = next
        }
        return fd
    }
}
