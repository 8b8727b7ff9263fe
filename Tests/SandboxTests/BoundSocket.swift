import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A unix socket bound at a host path, or with `abstract` at that name in
/// the abstract namespace (no file: reachable by name from anywhere in the
/// binder's network namespace), for the tests that check a guest or a
/// stand-in kernel cannot reach it: returns the descriptor (the caller
/// closes it), or fails the test.
func boundSocket(_ path: String, type: Int32, abstract: Bool = false) throws -> Int32 {
    let fd = socket(AF_UNIX, type, 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    // An abstract name starts after a NUL and is as long as the address says.
    let offset = abstract ? 1 : 0
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in path.utf8.enumerated() { raw[i + offset] = byte }
    }
    let length = abstract ? socklen_t(MemoryLayout<sa_family_t>.size + 1 + path.utf8.count)
                          : socklen_t(MemoryLayout<sockaddr_un>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    if bound != 0 { close(fd) }
    try #require(bound == 0, "bind \(abstract ? "@" : "")\(path): \(errno)")
    return fd
}
