#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

/// The parts of `stat` the engine relies on.
public struct FileStatus: Sendable, Equatable {
    /// Size in bytes; for a block device, its capacity (BLKGETSIZE64), as the kernel sees it.
    public var size: UInt64
    public var mtime: Int64
    public var mtimeNanoseconds: Int64
    public var device: UInt64
    public var inode: UInt64
    public var mode: UInt32
    /// Bytes actually allocated on disk.
    public var allocated: UInt64

    public var isRegular: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    public var isBlockDevice: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFBLK) }
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }

    init(_ raw: corral_stat) {
        size = UInt64(max(0, raw.size))
        mtime = raw.mtime_sec
        mtimeNanoseconds = raw.mtime_nsec
        device = raw.dev
        inode = raw.ino
        mode = raw.mode
        allocated = UInt64(max(0, raw.blocks)) * 512
    }

    /// stat(2), following symlinks. Nil when the path does not exist.
    public static func of(_ path: String) throws(EngineError) -> FileStatus? {
        var raw = corral_stat()
        do {
            try systemCall("stat", path) { corral_stat(path, &raw) }
        } catch where error.errno == .noSuchFileOrDirectory || error.errno == .notDirectory {
            return nil
        } catch {
            throw EngineError(error)
        }
        var status = FileStatus(raw)
        if status.isBlockDevice, let file = try? OpenFile(path, flags: O_RDONLY) {
            status.size = (try? file.blockDeviceSize()) ?? 0
        }
        return status
    }

    /// What a file of this `st_mode` is, in words, when it cannot hold a
    /// disk ("a FIFO", "a directory", ...); nil for a regular file or a
    /// block device.
    public static func nonDiskKind(mode: UInt32) -> String? {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG), UInt32(S_IFBLK): nil
        case UInt32(S_IFDIR): "a directory"
        case UInt32(S_IFIFO): "a FIFO"
        case UInt32(S_IFCHR): "a character device"
        case UInt32(S_IFSOCK): "a socket"
        default: "not a regular file"
        }
    }

    /// Same file (device and inode) as `other`.
    public func isSameFile(as other: FileStatus) -> Bool {
        device == other.device && inode == other.inode
    }
}
