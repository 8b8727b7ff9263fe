#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import SystemPackage

/// The one place a C call's -1/errno becomes a typed error: runs `body`,
/// retries it while it fails with EINTR (unless told not to, for calls
/// whose interruption the caller must see), and throws ``SystemError``
/// naming `call` and `object` otherwise.
@discardableResult
@inline(__always)
public func systemCall<T: BinaryInteger>(
    _ call: String, _ object: String, retryOnInterrupt: Bool = true, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = corral_errno()
        if retryOnInterrupt && code == EINTR { continue }
        throw SystemError(call: call, object: object, errno: Errno(rawValue: code))
    }
}

/// The calling thread's errno, through the shim (uniform on every path).
public var lastErrno: Int32 { corral_errno() }
