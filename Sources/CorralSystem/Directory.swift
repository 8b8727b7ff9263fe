#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import SystemPackage

/// An open directory that every operation is relative to: a name is one
/// path component, resolved with `openat`/`fstatat`/`unlinkat` against this
/// descriptor and never through a symbolic link. A directory that another
/// user can write may change under corral; holding the descriptor means a
/// swapped component cannot redirect what corral opens, stats or removes.
public final class Directory: @unchecked Sendable {
    public let descriptor: Descriptor
    public var fd: Int32 { descriptor.fd }
    /// For messages.
    public let path: String

    /// Opens `path` as a directory; a symbolic link as its last component is refused.
    public init(_ path: String) throws(SystemError) {
        self.descriptor = try Descriptor(open: path, flags: O_RDONLY | corral_o_directory, noFollow: true)
        self.path = path
    }

    /// Opens a directory the user named on the command line, following
    /// symbolic links anywhere in `path`, the last component included: the
    /// user chose that path (`/srv/images` may be a link to another disk),
    /// so its links are theirs to choose. Only this one open follows links;
    /// every name resolved inside the directory afterwards (``openFile``,
    /// ``status(of:)``, ``unlink(_:)``, ...) is one component and is never
    /// followed. Use ``init(_:)`` for directories corral itself made or
    /// expects, where a link is an attack rather than a choice.
    public init(namedByUser path: String) throws(SystemError) {
        self.descriptor = try Descriptor(open: path, flags: O_RDONLY | corral_o_directory, noFollow: false)
        self.path = path
    }

    init(descriptor: Descriptor, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    func child(_ name: String) -> String { path == "/" ? "/\(name)" : "\(path)/\(name)" }

    /// Whether `name` is one plain component (no '/', not "." or "..").
    public static func isComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    private func requireComponent(_ name: String, _ call: String) throws(SystemError) {
        if !Self.isComponent(name) { throw SystemError(call: call, object: child(name), errno: .invalidArgument) }
    }

    public func status() throws(SystemError) -> FileInfo { try descriptor.status() }

    /// fstatat(AT_SYMLINK_NOFOLLOW): a symbolic link is reported as one; nil when absent.
    public func status(of name: String) throws(SystemError) -> FileInfo? {
        try requireComponent(name, "fstatat")
        var raw = stat()
        if fstatat(fd, name, &raw, corral_at_symlink_nofollow) == 0 { return FileInfo(raw) }
        let code = corral_errno()
        if code == ENOENT { return nil }
        throw SystemError(call: "fstatat", object: child(name), errno: Errno(rawValue: code))
    }

    /// openat(O_DIRECTORY|O_NOFOLLOW).
    public func openDirectory(_ name: String) throws(SystemError) -> Directory {
        try requireComponent(name, "openat")
        let flags = O_RDONLY | corral_o_directory | corral_o_nofollow | O_CLOEXEC
        let fd = try systemCall("openat", child(name)) { corral_openat(self.fd, name, flags, 0) }
        return Directory(descriptor: Descriptor(owning: fd, name: child(name)), path: child(name))
    }

    /// openat with O_NOFOLLOW|O_CLOEXEC added: a symbolic link is never opened.
    public func openFile(_ name: String, flags: Int32, mode: mode_t = 0o600) throws(SystemError) -> Descriptor {
        try requireComponent(name, "openat")
        let all = flags | corral_o_nofollow | O_CLOEXEC
        let fd = try systemCall("openat", child(name)) { corral_openat(self.fd, name, all, UInt32(mode)) }
        return Descriptor(owning: fd, name: child(name))
    }

    /// A new directory `name` (mkdirat); EEXIST when the name is taken, whatever it is.
    public func makeDirectory(_ name: String, mode: mode_t) throws(SystemError) {
        try requireComponent(name, "mkdirat")
        try systemCall("mkdirat", child(name)) { mkdirat(fd, name, mode) }
    }

    public func unlink(_ name: String) throws(SystemError) {
        try requireComponent(name, "unlinkat")
        try systemCall("unlinkat", child(name)) { unlinkat(fd, name, 0) }
    }

    public func removeDirectory(_ name: String) throws(SystemError) {
        try requireComponent(name, "unlinkat")
        try systemCall("unlinkat", child(name)) { unlinkat(fd, name, corral_at_removedir) }
    }

    /// renameat2 within this directory; with `replace` false an existing
    /// `to` is an error (RENAME_NOREPLACE), never overwritten.
    public func rename(_ from: String, to: String, replace: Bool) throws(SystemError) {
        try requireComponent(from, "renameat2")
        try requireComponent(to, "renameat2")
        try systemCall("renameat2", child(to)) { corral_renameat2(fd, from, fd, to, replace ? 0 : 1) }
    }

    /// The names in the directory, "." and ".." left out.
    public func names() throws(SystemError) -> [String] {
        let copy = try systemCall("dup", path) { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
        guard let stream = fdopendir(copy) else {
            let code = corral_errno()
            close(copy)
            throw SystemError(call: "fdopendir", object: path, errno: Errno(rawValue: code))
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var result: [String] = []
        while let item = readdir(stream) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result
    }

    /// Removes `name` and, when it is a directory, everything below it,
    /// with descriptor-relative calls only: a symbolic link is removed as a
    /// link, never followed, and a component swapped for a link during the
    /// walk makes `openat(O_NOFOLLOW)` fail instead of leading elsewhere.
    /// Stays on this directory's file system (a mount point is left alone).
    public func removeTree(_ name: String) throws(SystemError) {
        guard let info = try status(of: name) else { return }
        if !info.isDirectory {
            try unlink(name)
            return
        }
        let here = try status()
        if info.device != here.device {
            throw SystemError(call: "removeTree", object: child(name), errno: .improperLink)
        }
        let sub = try openDirectory(name)
        // The directory opened is the one stat'ed: not swapped in between.
        guard try sub.status().isSameFile(as: info) else {
            throw SystemError(call: "removeTree", object: child(name), errno: .resourceBusy)
        }
        for entry in try sub.names() { try sub.removeTree(entry) }
        try removeDirectory(name)
    }

    /// fsync of the directory, so a rename or unlink in it is durable.
    public func sync() { _ = fsync(fd) }
}
