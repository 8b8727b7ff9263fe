#if canImport(Glibc)
import Glibc
#endif

/// The one place where a C return value becomes a `SandboxError`.
///
/// `body` follows the C convention (-1 and `errno`); EINTR is retried.
@discardableResult
func syscall(
    _ name: String, _ object: String? = nil, _ body: () -> Int32
) throws(SandboxError) -> Int32 {
    while true {
        let rc = body()
        if rc != -1 { return rc }
        let code = errno
        if code == EINTR { continue }
        throw SandboxError.call(name, object, errno: code)
    }
}

/// libseccomp's convention: a negative errno as the return value.
func seccompCall(_ name: String, _ rc: Int32) throws(SandboxError) {
    if rc < 0 { throw SandboxError.call(name, errno: -rc) }
}
