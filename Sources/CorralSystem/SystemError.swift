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
