#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import SystemPackage

/// One read(2) or write(2) on a stream that may be non-blocking (a pipe, a
/// pty, the user's terminal), for loops that poll first and must never wait
/// in the call itself. EINTR is retried here, through
/// ``systemCall(_:_:retryOnInterrupt:_:)``; EAGAIN is an answer, not an error.
/// Works on descriptors corral does not own (stdin, stdout) as well as on a
/// ``Descriptor``.
public enum StreamIO {
    /// What one read found.
    public enum Read: Equatable, Sendable {
        case bytes([UInt8])
        /// Nothing to read now (EAGAIN on a non-blocking descriptor).
        case wouldBlock
        /// End of file: the writer is gone.
        case end
    }

    /// Up to `limit` bytes, as one read(2).
    public static func read(_ fd: Int32, _ name: String, upTo limit: Int) throws(SystemError) -> Read {
        var buffer = [UInt8](repeating: 0, count: limit)
        do {
            let n = try systemCall("read", name) { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, limit) } }
            if n == 0 { return .end }
            buffer.removeSubrange(n...)
            return .bytes(buffer)
        } catch where error.errno == .resourceTemporarilyUnavailable {
            return .wouldBlock
        }
    }

    /// Writes what one write(2) takes of `bytes`: the count written, or nil
    /// when the descriptor has no room now (EAGAIN).
    public static func write(_ fd: Int32, _ name: String, _ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int? {
        do {
            return try systemCall("write", name) { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        } catch where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
    }
}

extension Descriptor {
    /// ``StreamIO/read(_:_:upTo:)`` on this descriptor.
    public func readAvailable(upTo limit: Int) throws(SystemError) -> StreamIO.Read {
        try StreamIO.read(fd, name, upTo: limit)
    }

    /// ``StreamIO/write(_:_:_:)`` on this descriptor.
    public func writeAvailable(_ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int? {
        try StreamIO.write(fd, name, bytes)
    }
}
