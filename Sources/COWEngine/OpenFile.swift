#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

/// An open file descriptor that closes itself, with positional I/O that
/// loops over short transfers and names the file in every error. Calls go
/// through CorralSystem's ``systemCall(_:_:retryOnInterrupt:_:)``; a
/// failure leaves here as an ``EngineError`` (a full disk as
/// ``EngineError/noSpace(path:)``).
public final class OpenFile {
    public let path: String
    public let fd: Int32

    /// Opens `path`, which must be a regular file or a block device.
    ///
    /// The open itself never waits: O_NONBLOCK keeps a FIFO from blocking
    /// until a writer comes (and O_NOCTTY keeps a terminal from becoming
    /// ours), then fstat refuses anything that is not a disk before a byte
    /// is read. O_NONBLOCK is cleared again unless `flags` asked for it.
    public init(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(EngineError) {
        self.path = path
        let fd: Int32
        do {
            fd = try systemCall("open", path) { open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode) }
        } catch where error.errno == .noSuchAddressOrDevice {
            // A FIFO opened for writing without a reader.
            throw .notADiskFile(path: path, kind: "a FIFO")
        } catch {
            throw EngineError(error)
        }
        var raw = corral_stat()
        if corral_fstat(fd, &raw) == 0, let kind = FileStatus.nonDiskKind(mode: raw.mode) {
            close(fd)
            throw .notADiskFile(path: path, kind: kind)
        }
        if flags & O_NONBLOCK == 0 { _ = corral_set_nonblock(fd, 0) }
        self.fd = fd
    }

    /// A second descriptor for a file already open (`fcntl(F_DUPFD_CLOEXEC)`):
    /// for a file corral created and must not reopen by name.
    public init(duplicating other: Int32, path: String) throws(EngineError) {
        self.path = path
        self.fd = try EngineError.systemCall("dup", path) { corral_dup(other) }
    }

    deinit { close(fd) }

    public func status() throws(EngineError) -> FileStatus {
        var raw = corral_stat()
        try EngineError.systemCall("fstat", path) { corral_fstat(fd, &raw) }
        var status = FileStatus(raw)
        if status.isBlockDevice { status.size = try blockDeviceSize() }
        return status
    }

    func blockDeviceSize() throws(EngineError) -> UInt64 {
        var size: UInt64 = 0
        try EngineError.systemCall("ioctl(BLKGETSIZE64)", path) { corral_block_device_size(fd, &size) }
        return size
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(EngineError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try EngineError.systemCall("pread", path) {
                pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    public func read(into array: inout [UInt8], at offset: UInt64) throws(EngineError) -> Int {
        var result: Result<Int, EngineError> = .success(0)
        array.withUnsafeMutableBytes { raw in
            result = Result { () throws(EngineError) -> Int in try read(into: raw, at: offset) }
        }
        return try result.get()
    }

    /// Reads exactly `buffer.count` bytes at `offset`, zero-filling past end
    /// of file, which is how the kernel treats COW data past EOF (§3.2).
    public func readZeroFilled(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(EngineError) {
        let n = try read(into: buffer, at: offset)
        if n < buffer.count {
            (buffer.baseAddress! + n).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - n)
        }
    }

    /// Reads a backing file as the guest sees it: `buffer.count` bytes at
    /// `offset`, zeros past `size`, the backing's end (a size mismatch
    /// forced with --force, where the disk is larger than its backing).
    func readBacking(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, size: UInt64) throws(EngineError) {
        if offset >= size {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return
        }
        try readZeroFilled(into: buffer, at: offset)
    }

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(EngineError) {
        FaultInjection.beforeWrite()
        var done = 0
        while done < buffer.count {
            let n = try EngineError.systemCall("pwrite", path) {
                pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            done += n
        }
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws(EngineError) {
        var result: Result<Void, EngineError> = .success(())
        bytes.withUnsafeBytes { raw in
            result = Result { () throws(EngineError) in try write(raw, at: offset) }
        }
        try result.get()
    }

    /// Starts writing a range back to disk without waiting (best effort).
    public func startWriteback(at offset: UInt64, length: UInt64) {
        _ = corral_start_writeback(fd, Int64(offset), Int64(length))
    }

    public func truncate(to length: UInt64) throws(EngineError) {
        try EngineError.systemCall("ftruncate", path) { ftruncate(fd, off_t(length)) }
    }

    public func sync() throws(EngineError) {
        try EngineError.systemCall("fsync", path) { fsync(fd) }
    }

    /// Next offset ≥ `offset` that holds data, or nil when only a hole
    /// remains. Filesystems without SEEK_DATA report everything as data.
    public func nextData(from offset: UInt64) throws(EngineError) -> UInt64? {
        do {
            return UInt64(try systemCall("lseek(SEEK_DATA)", path) { corral_seek_data(fd, Int64(offset)) })
        } catch where error.errno == .noSuchAddressOrDevice {
            return nil
        } catch where error.errno == .invalidArgument || error.errno == .notSupported {
            return offset
        } catch {
            throw EngineError(error)
        }
    }

    /// Next hole at or after `offset` (end of file counts as a hole).
    public func nextHole(from offset: UInt64) throws(EngineError) -> UInt64 {
        do {
            return UInt64(try systemCall("lseek(SEEK_HOLE)", path) { corral_seek_hole(fd, Int64(offset)) })
        } catch where error.errno == .noSuchAddressOrDevice {
            return offset
        } catch where error.errno == .invalidArgument || error.errno == .notSupported {
            return UInt64.max
        } catch {
            throw EngineError(error)
        }
    }

    /// Allocates blocks for a range without changing its content (holes
    /// become allocated zeros), so a full disk shows up before anything is
    /// written. False where the filesystem cannot preallocate.
    public func preallocate(at offset: UInt64, length: UInt64) throws(EngineError) -> Bool {
        try ifSupported("fallocate") { corral_fallocate(fd, Int64(offset), Int64(length)) }
    }

    /// Runs an fallocate-like call: false when the filesystem does not
    /// support it (EOPNOTSUPP, ENOSYS, EINVAL), an ``EngineError`` (a full
    /// disk as ``EngineError/noSpace(path:)``) for any other failure.
    private func ifSupported(_ call: String, _ body: () -> Int32) throws(EngineError) -> Bool {
        do {
            try systemCall(call, path, body)
            return true
        } catch where [.notSupported, .noFunction, .invalidArgument].contains(error.errno) {
            return false
        } catch {
            throw EngineError(error)
        }
    }

    /// Sets the file's mtime (seconds and nanoseconds).
    public func setModificationTime(seconds: Int64, nanoseconds: Int64) throws(EngineError) {
        try EngineError.systemCall("utimensat", path) { corral_set_mtime(path, seconds, nanoseconds) }
    }

    /// Deallocates a range (it reads as zeros). False when the filesystem cannot.
    public func punchHole(at offset: UInt64, length: UInt64) throws(EngineError) -> Bool {
        try ifSupported("fallocate(PUNCH_HOLE)") { corral_punch_hole(fd, Int64(offset), Int64(length)) }
    }

    /// Makes this file a reflink copy of `source`. False where the filesystem has no reflinks.
    public func cloneContents(of source: OpenFile) -> Bool {
        corral_ficlone(fd, source.fd) == 0
    }

    // MARK: Locks compatible with the kernel's (spec §4.2)

    public enum LockKind: Int32, Sendable { case read = 0, write = 1 }

    /// Takes a whole-file POSIX lock without waiting, plus a flock lease of
    /// the same kind. Throws ``EngineError/inUse(path:pid:)`` naming the
    /// holder when another process conflicts: a running UML holds fcntl
    /// locks while its guest has the device open (§4.2), and `corral boot`
    /// holds flock leases on its disks for the whole boot.
    public func lock(_ kind: LockKind) throws(EngineError) {
        do {
            try systemCall("fcntl(F_SETLK)", path) { corral_lock_whole(fd, kind.rawValue) }
        } catch where error.errno == .resourceTemporarilyUnavailable || error.errno == .permissionDenied {
            throw .inUse(path: path, pid: Int32(max(0, corral_lock_holder(fd, kind.rawValue))))
        } catch where error.errno.rawValue == ENOLCK || error.errno == .notSupported {
            // Filesystems without locking (some FUSE) do not stop us; nothing to honour there.
        } catch {
            throw EngineError(error)
        }
        do {
            try systemCall("flock", path) { flock(fd, (kind == .write ? LOCK_EX : LOCK_SH) | LOCK_NB) }
        } catch where error.errno == .wouldBlock {
            throw .inUse(path: path, pid: (try? status()).flatMap { Self.flockHolder(inode: $0.inode) } ?? 0)
        } catch {
            // Any other flock failure leaves the POSIX lock as the only guard, as before.
        }
    }

    /// Drops the locks ``lock(_:)`` took: this process's POSIX lock on the
    /// file and the flock of this open file. For a file the caller keeps
    /// open after a verb locked it through the same open file (a
    /// maintenance job's copy, normalized through its own descriptor).
    public func unlock() {
        _ = corral_lock_whole(fd, 2)
        _ = flock(fd, LOCK_UN)
    }

    /// The pid of a process holding a flock on `inode`, from /proc/locks;
    /// with `exclusiveOnly`, only an exclusive (WRITE) one. This process's
    /// own locks are not counted.
    static func flockHolder(inode: UInt64, exclusiveOnly: Bool = false) -> Int32? {
        guard let text = try? SmallTextFile.text("/proc/locks", limit: 1 << 20) else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
            guard f.count >= 6, f[1] == "FLOCK", let pid = Int32(f[4]), pid != getpid(),
                  !exclusiveOnly || f[3] == "WRITE",
                  let ino = f[5].split(separator: ":").last.flatMap({ UInt64($0) }), ino == inode
            else { continue }
            return pid
        }
        return nil
    }

    /// The pid holding a lock that conflicts with `kind`, or nil: a POSIX
    /// lock (the UML kernel's, while its guest has the disk open) or a flock
    /// lease (`corral boot`'s, for the whole boot), so every verb answers
    /// "in use" the same way.
    public func lockHolder(conflictingWith kind: LockKind) -> Int32? {
        let pid = corral_lock_holder(fd, kind.rawValue)
        if pid > 0 { return pid }
        guard let inode = try? status().inode else { return nil }
        return Self.flockHolder(inode: inode, exclusiveOnly: kind == .read)
    }
}
