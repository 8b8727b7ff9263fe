import CorralSystem
import Foundation
import Testing

/// One read or write on a non-blocking stream: EAGAIN is an answer, end of
/// file is told apart from it, and a write takes what fits.
@Suite struct StreamIOTests {
    /// A pipe whose ends close themselves, both non-blocking.
    func pipe() throws -> (read: Descriptor, write: Descriptor) {
        var fds: [Int32] = [0, 0]
        try #require(Glibc.pipe(&fds) == 0)
        for fd in fds { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        return (Descriptor(owning: fds[0], name: "pipe"), Descriptor(owning: fds[1], name: "pipe"))
    }

    @Test func readsTellNothingYetFromBytesAndFromTheEnd() throws {
        var (reader, writer): (Descriptor, Descriptor?) = try pipe()
        #expect(try reader.readAvailable(upTo: 16) == .wouldBlock)
        #expect(try writer?.writeAvailable(Array("hello".utf8)[...]) == 5)
        #expect(try reader.readAvailable(upTo: 3) == .bytes(Array("hel".utf8)))
        #expect(try reader.readAvailable(upTo: 16) == .bytes(Array("lo".utf8)))
        writer = nil
        #expect(try reader.readAvailable(upTo: 16) == .end)
    }

    @Test func aFullPipeTakesWhatFitsThenNothing() throws {
        let (reader, writer) = try pipe()
        let chunk = [UInt8](repeating: 7, count: 1 << 20)
        let first = try writer.writeAvailable(chunk[...])
        #expect(first.map { $0 > 0 && $0 < chunk.count } == true)
        #expect(try writer.writeAvailable(chunk[...]) == nil)
        withExtendedLifetime(reader) {}
    }

    @Test func aWriteWithNoReaderLeftThrowsNamingTheCall() throws {
        signal(SIGPIPE, SIG_IGN)
        var (reader, writer): (Descriptor?, Descriptor) = try pipe()
        reader = nil
        _ = reader
        #expect(throws: SystemError(call: "write", object: "stdout", errno: .brokenPipe)) {
            _ = try StreamIO.write(writer.fd, "stdout", Array("x".utf8)[...])
        }
    }
}
