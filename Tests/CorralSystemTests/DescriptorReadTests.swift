import CorralSystem
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `Descriptor.read(upTo:)`: everything up to end of file or the limit,
/// whatever the chunks, at a cost that follows the bytes, not the limit.
@Suite struct DescriptorReadTests {
    func file(_ bytes: [UInt8], in dir: Scratch) throws -> Descriptor {
        _ = FileManager.default.createFile(atPath: dir("data"), contents: Data(bytes))
        return try Descriptor(open: dir("data"), flags: O_RDONLY)
    }

    /// 200,003 bytes come back whole across the 64 KiB reads, and a limit
    /// below that stops exactly at the limit, mid-chunk.
    @Test func readsAcrossChunksUpToTheLimit() throws {
        let dir = try Scratch("read")
        let bytes = (0..<200_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        #expect(try file(bytes, in: dir).read(upTo: 1 << 20) == bytes)
        #expect(try file(bytes, in: dir).read(upTo: 70_001) == Array(bytes[0..<70_001]))
        #expect(try file(bytes, in: dir).read(upTo: 0) == [])
        #expect(try file([], in: dir).read(upTo: 64) == [])
    }

    /// A pipe whose writer sends in pieces is read to end of file.
    @Test func readsAPipeToEndOfFile() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let reader = Descriptor(owning: fds[0], name: "pipe")
        let writer = fds[1]
        let piece = [UInt8](repeating: 0x5a, count: 5_000)
        let thread = Thread {
            for _ in 0..<30 { Output.writeAll(writer, piece) }
            close(writer)
        }
        thread.start()
        #expect(try reader.read(upTo: 1 << 22).count == 30 * piece.count)
    }

    /// A limit far beyond what the host could allocate costs nothing: the
    /// old read allocated and zero-filled the whole limit first (and trapped
    /// on this one).
    @Test func aHugeLimitIsNotAllocated() throws {
        let dir = try Scratch("read")
        #expect(try file(Array("short message".utf8), in: dir).read(upTo: 1 << 44) == Array("short message".utf8))
    }
}
