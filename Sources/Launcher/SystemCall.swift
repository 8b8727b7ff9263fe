#if canImport(Glibc)
import Glibc
#endif
import CorralSystem
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

    /// Writes all of `bytes` to `fd` (CorralSystem's one writer: short
    /// writes, EINTR and EAGAIN handled there).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        Output.writeAll(fd, bytes)
    }

    static func writeAll(_ fd: Int32, _ text: String) {
        Output.writeAll(fd, text)
    }
}
