#if canImport(Glibc)
import Glibc
#endif

public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Enters the sandbox and replaces the current process with the kernel.
///
/// Called in the re-exec'd helper process, after it has set up its session
/// and controlling terminal. PLACEHOLDER until the sandbox issue lands: only
/// `.off` is honoured (plain execv).
public enum SandboxRunner {
    public static func execKernel(
        kernelPath: String, argv: [String], policy: SandboxPolicy
    ) throws -> Never {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        execv(kernelPath, &cArgs)
        throw SandboxError("execv(\(kernelPath)) failed: \(String(cString: strerror(errno)))")
    }

    /// Human-readable lines saying what the sandbox applies on this host.
    public static func report(policy: SandboxPolicy) -> [String] {
        ["sandbox: \(policy.mode.rawValue) (placeholder: nothing applied yet)"]
    }
}
