#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A failed system call: which call, on what (a path, a pid, a descriptor's
/// name), and the `Errno` it set. Every module below the CLI wraps this in
/// its own error type, so messages name the call and the object alike.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let object: String
    public let errno: Errno

    public init(call: String, object: String, errno: Errno) {
        self.call = call
        self.object = object
        self.errno = errno
    }

    /// `open(/x): No such file or directory`.
    public var description: String { "\(call)(\(object)): \(Self.describe(errno.rawValue))" }

    /// The C library's text for an errno value.
    public static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// A module's own error type, which carries a ``SystemError`` from this
/// layer in its own words. Each module above this one conforms its error
/// type, so a failed call leaves the module as that module's error and its
/// messages keep the module's shape; the EINTR retry and the errno reading
/// stay in ``systemCall(_:_:retryOnInterrupt:_:)`` alone.
public protocol SystemErrorWrapping: Error {
    init(_ error: SystemError)
}

extension SystemErrorWrapping {
    /// ``systemCall(_:_:retryOnInterrupt:_:)`` with a failure wrapped as
    /// `Self`: `try EngineError.systemCall("fsync", path) { fsync(fd) }`.
    @discardableResult
    @inline(__always)
    public static func systemCall<T: BinaryInteger>(
        _ call: String, _ object: String, retryOnInterrupt: Bool = true, _ body: () -> T
    ) throws(Self) -> T {
        do {
            return try CorralSystem.systemCall(call, object, retryOnInterrupt: retryOnInterrupt, body)
        } catch {
            throw Self(error)
        }
    }
}
