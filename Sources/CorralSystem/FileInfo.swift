#if canImport(Glibc)
import Glibc
#endif

/// What `fstat`/`fstatat` say about one file: its type, owner and mode,
/// which the security checks compare (corral trusts only what it made).
public struct FileInfo: Equatable, Sendable {
    public let device: UInt64
    public let inode: UInt64
    /// Type and permission bits (`st_mode`).
    public let mode: UInt32
    public let owner: UInt32
    public let group: UInt32
    public let size: UInt64
    public let links: UInt64

    init(_ raw: stat) {
        device = UInt64(raw.st_dev)
        inode = UInt64(raw.st_ino)
        mode = UInt32(raw.st_mode)
        owner = UInt32(raw.st_uid)
        group = UInt32(raw.st_gid)
        size = UInt64(max(0, raw.st_size))
        links = UInt64(raw.st_nlink)
    }

    private var type: UInt32 { mode & UInt32(S_IFMT) }
    public var isRegular: Bool { type == UInt32(S_IFREG) }
    public var isDirectory: Bool { type == UInt32(S_IFDIR) }
    public var isSymbolicLink: Bool { type == UInt32(S_IFLNK) }
    public var isBlockDevice: Bool { type == UInt32(S_IFBLK) }
    public var isFIFO: Bool { type == UInt32(S_IFIFO) }
    /// The permission bits, set-id and sticky included (0o7777).
    public var permissions: UInt32 { mode & 0o7777 }

    /// Same file: device and inode.
    public func isSameFile(as other: FileInfo) -> Bool {
        device == other.device && inode == other.inode
    }
}

extension FileInfo {
    /// fstat of a descriptor corral does not own through a ``Descriptor``.
    public static func of(descriptor fd: Int32, name: String) throws(SystemError) -> FileInfo {
        var raw = stat()
        try systemCall("fstat", name) { fstat(fd, &raw) }
        return FileInfo(raw)
    }
}
