#if canImport(Glibc)
import Glibc
#endif
import CCorralShim

/// An open file descriptor that this value owns: it is closed exactly once,
/// when the value goes away. `name` is for messages only; nothing here
/// ever reopens a file by it.
public final class Descriptor: @unchecked Sendable {
    public let fd: Int32
    public let name: String

    /// Takes ownership of `fd`.
    public init(owning fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    /// open(2) with O_CLOEXEC; `noFollow` refuses a symbolic link as the last component.
    public convenience init(open path: String, flags: Int32, mode: mode_t = 0o600, noFollow: Bool = true) throws(SystemError) {
        let all = flags | O_CLOEXEC | (noFollow ? corral_o_nofollow : 0)
        let fd = try systemCall("open", path) { corral_openat(AT_FDCWD, path, all, UInt32(mode)) }
        self.init(owning: Int32(fd), name: path)
    }

    /// A second descriptor for an open file (`fcntl(F_DUPFD_CLOEXEC)`): the
    /// same open file description, so its flock locks are that file's.
    public convenience init(duplicating other: Int32, name: String) throws(SystemError) {
        self.init(owning: try systemCall("dup", name) { corral_dup(other) }, name: name)
    }

    deinit { close(fd) }

    public func status() throws(SystemError) -> FileInfo {
        var raw = stat()
        try systemCall("fstat", name) { fstat(fd, &raw) }
        return FileInfo(raw)
    }

    /// fchmod: on the descriptor, never through a name.
    public func setPermissions(_ mode: UInt32) throws(SystemError) {
        try systemCall("fchmod", name) { fchmod(fd, mode_t(mode)) }
    }

    /// fchown: on the descriptor, never through a name.
    public func setOwner(_ owner: UInt32, group: UInt32) throws(SystemError) {
        try systemCall("fchown", name) { fchown(fd, uid_t(owner), gid_t(group)) }
    }

    public func sync() throws(SystemError) {
        try systemCall("fsync", name) { fsync(fd) }
    }

    /// Writes all of `bytes` at the current position (short writes and EINTR retried).
    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = try systemCall("write", name) {
                bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            }
            if n == 0 { throw SystemError(call: "write", object: name, errno: .ioError) }
            offset += n
        }
    }

    /// Up to `limit` bytes from the current position (fewer at end of file).
    ///
    /// Read through one buffer of at most 64 KiB, so that what it costs
    /// follows what was there, not `limit`: a limit of 4 MiB for a message
    /// of 750 bytes used to be allocated and zero-filled first, 1,024 page
    /// faults (3 ms of the kernel helper's start, on the boot's path).
    public func read(upTo limit: Int) throws(SystemError) -> [UInt8] {
        guard limit > 0 else { return [] }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit, Self.readChunk))
        while result.count < limit {
            let want = min(chunk.count, limit - result.count)
            let n = try systemCall("read", name) {
                chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// The most ``read(upTo:)`` asks of the kernel at once.
    static let readChunk = 1 << 16
}

/// Writing to a descriptor corral does not own (stdout, stderr, a pty).
public enum Output {
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR, and
    /// waiting on EAGAIN so a non-blocking descriptor still gets everything.
    /// Best effort: a closed or broken descriptor ends the write silently
    /// (these are diagnostics to a terminal nobody may be reading).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n; continue }
            let code = corral_errno()
            if n < 0 && code == EINTR { continue }
            if n < 0 && code == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 1000)
                continue
            }
            return
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) {
        writeAll(fd, Array(text.utf8))
    }
}
