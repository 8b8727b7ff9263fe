#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Why the sandbox could not be set up. One line, saying which call failed on
/// what; the launcher forwards `description` to the user unchanged.
public struct SandboxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }

    /// `call(object) failed: reason`, the shape every syscall failure takes.
    static func call(_ name: String, _ object: String? = nil, errno code: Int32) -> SandboxError {
        let target = object.map { "(\($0))" } ?? ""
        return SandboxError("\(name)\(target) failed: \(String(cString: strerror(code)))")
    }
}

extension SandboxError: SystemErrorWrapping {
    /// A failed call from CorralSystem: `call(object) failed: reason`, or
    /// `call failed: reason` when the call has no object.
    public init(_ error: SystemError) {
        self = .call(error.call, error.object.isEmpty ? nil : error.object, errno: error.errno.rawValue)
    }
}

/// libseccomp's convention: a negative errno as the return value (errno
/// itself is not set, so this is not a system call for ``systemCall``).
func seccompCall(_ name: String, _ rc: Int32) throws(SandboxError) {
    if rc < 0 { throw SandboxError.call(name, errno: -rc) }
}
