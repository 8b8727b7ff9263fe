import CCorralShim
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The kernel helper's descriptors land on 3, 4 and 5 whatever numbers the
/// launcher's pipes got. They are made while other launcher threads open
/// and close files (the cgroup threads), so a pipe can sit on 3 or 4 itself,
/// where a file action writing an earlier target overwrote it before it was
/// copied: the helper then read its spec from the error pipe ("read(the
/// launcher's pipe) failed", exit 241) or its go from the spec pipe (the
/// kernel never started, exit 0), about one boot in 25 under load. Fails on
/// the code before, which passed the numbers to posix_spawn as they were.
@Suite(.serialized)
struct HelperSpawnTests {
    /// The layout that failed: the error pipe's write end on 6 (for fd 3),
    /// the spec pipe's read end on 3 (for fd 4). A shell stands in for the
    /// helper: it copies a line from its fd 4 to its fd 3.
    @Test func aSourceOnATargetNumberStillReachesItsOwnTarget() throws {
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        try #require(pipe(&input) == 0 && pipe(&output) == 0)
        // Take fd 3 for the spec pipe's read end, keeping whatever was there.
        let saved = fcntl(3, F_DUPFD_CLOEXEC, 10)
        defer {
            if saved >= 0 { dup2(saved, 3); close(saved) } else { close(3) }
        }
        try #require(dup2(input[0], 3) == 3)
        close(input[0])
        let result = fcntl(output[1], F_DUPFD_CLOEXEC, 6)
        close(output[1])
        try #require(result >= 6)

        let words = ["/bin/sh", "-c", "read line <&4 && echo \"got $line\" >&3"]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        let err = argv.withUnsafeBufferPointer { a in
            envp.withUnsafeBufferPointer { e in
                corral_launch_spawn("/bin/sh", a.baseAddress, e.baseAddress, result, 3, -1, &pid)
            }
        }
        try #require(err == 0, "spawn failed: \(err)")
        close(result)
        _ = "spec\n".withCString { write(input[1], $0, 5) }
        close(input[1])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let got = FileHandle(fileDescriptor: output[0], closeOnDealloc: true).readDataToEndOfFile()
        #expect(String(decoding: got, as: UTF8.self) == "got spec\n", "the helper's fds 3 and 4 were crossed")
        #expect(status == 0)
    }
}
