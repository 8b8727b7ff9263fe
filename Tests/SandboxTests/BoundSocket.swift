import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A unix socket bound at a host path, for the tests that check a guest or
/// a stand-in kernel cannot reach it: returns the descriptor (the caller
/// closes it), or fails the test.
func boundSocket(_ path: String, type: Int32) throws -> Int32 {
    let fd = socket(AF_UNIX, type, 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if bound != 0 { close(fd) }
    try #require(bound == 0, "bind \(path): \(errno)")
    return fd
}


/// A datagram unix socket bound at `name` in the abstract namespace (no
/// file: reachable by name from anywhere in the binder's network
/// namespace), for the tests that check a stand-in kernel cannot send to
/// it. Returns the descriptor (the caller closes it), or fails the test.
func boundAbstractSocket(_ name: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in name.utf8.enumerated() { raw[i + 1] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.utf8.count)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    if bound != 0 { close(fd) }
    try #require(bound == 0, "bind @\(name): \(errno)")
    return fd
}
