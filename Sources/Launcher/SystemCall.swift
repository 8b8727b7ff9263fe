#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine

/// The one place where a C call's -1/errno becomes a typed error, and where an
/// interrupted call is retried.
enum SystemCall {
    @discardableResult
    static func check<T: BinaryInteger>(
        _ call: String, _ object: String, retryOnInterrupt: Bool = true, _ body: () -> T
    ) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = corral_errno()
            if retryOnInterrupt && code == EINTR { continue }
            throw LauncherError.system(call: call, object: object, errno: code)
        }
    }

    /// The NUL-terminated text in a C buffer.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR; waits on
    /// EAGAIN so a non-blocking descriptor still gets everything.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
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

    static func writeAll(_ fd: Int32, _ text: String) {
        writeAll(fd, Array(text.utf8))
    }

    /// Monotonic seconds, for deadlines that must not jump with the wall clock.
    static func monotonicNow() -> Double {
        MonotonicClock.seconds()
    }
}
