#if canImport(Glibc)
import Glibc
#endif

/// `strings` as the NULL-terminated `char *[]` that execve and posix_spawn
/// take (argv, envp), alive for the duration of `body` only.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
