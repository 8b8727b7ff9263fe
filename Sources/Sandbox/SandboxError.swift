#if canImport(Glibc)
import Glibc
#endif

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
