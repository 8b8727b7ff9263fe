import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

/// Data past the end of a truncated COW reads as zeros; flatten and commit
/// must say so instead of writing the zeros as if they were the disk.
@Suite struct TruncatedCOWTests {
    @Test func flattenAndCommitRefuseATruncatedCOWUnlessForced() throws {
        let dir = try Scratch("safe-trunc")
        let size = 1 << 20
        try Fixture.write(Fixture.pattern(size: size), to: dir("base.img"))
        try Fixture.makeCOW(dir("t.cow"), backing: dir("base.img"), size: UInt64(size), sectors: [2: 0x41, 1500: 0x42, 1501: 0x43])
        let header = try COWHeader.decode(Array(Fixture.read(dir("t.cow")).prefix(8192)))
        let g = try COWGeometry(header: header)
        // Cut the file inside sector 1500's data: 1500 and 1501 are lost.
        #expect(truncate(dir("t.cow"), off_t(g.dataOffset + 1500 * 512 + 100)) == 0)
        let before = (try Fixture.sha(dir("t.cow")), try Fixture.sha(dir("base.img")))

        let flatten = try Fixture.corral("cow", "flatten", dir("t.cow"), dir("out.img"))
        #expect(flatten.status != 0, "\(flatten.summary)")
        #expect(flatten.stderr.contains("2 COW sector(s) from sector 1500"), "\(flatten.stderr)")
        #expect(flatten.stderr.contains("--force"))
        #expect(!FileManager.default.fileExists(atPath: dir("out.img")))

        let commit = try Fixture.corral("cow", "commit", dir("t.cow"))
        #expect(commit.status != 0, "\(commit.summary)")
        #expect(commit.stderr.contains("from sector 1500"), "\(commit.stderr)")
        #expect((try Fixture.sha(dir("t.cow")), try Fixture.sha(dir("base.img"))) == before)

        let forced = try Fixture.corral("cow", "flatten", "--force", dir("t.cow"), dir("out.img"))
        #expect(forced.status == 0, "\(forced.summary)")
    }
}
