import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

/// Data past the end of a truncated COW reads as zeros; every verb that
/// reads COW data (flatten, commit, normalize, rebase, compare, map) must
/// say so instead of treating the zeros as if they were the disk.
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
        let before = (try sha256(dir("t.cow")), try sha256(dir("base.img")))

        let flatten = try runCorral(["cow", "flatten", dir("t.cow"), dir("out.img")])
        #expect(flatten.status != 0, "\(flatten.summary)")
        #expect(flatten.stderr.contains("2 COW sector(s) from sector 1500"), "\(flatten.stderr)")
        #expect(flatten.stderr.contains("--force"))
        #expect(!FileManager.default.fileExists(atPath: dir("out.img")))

        let commit = try runCorral(["cow", "commit", dir("t.cow")])
        #expect(commit.status != 0, "\(commit.summary)")
        #expect(commit.stderr.contains("from sector 1500"), "\(commit.stderr)")
        #expect((try sha256(dir("t.cow")), try sha256(dir("base.img"))) == before)

        let forced = try runCorral(["cow", "flatten", "--force", dir("t.cow"), dir("out.img")])
        #expect(forced.status == 0, "\(forced.summary)")
    }

    @Test func normalizeRebaseCompareAndMapRefuseATruncatedCOWUnlessForced() throws {
        let dir = try Scratch("safe-trunc2")
        let size = 1 << 20
        try Fixture.write(Fixture.pattern(size: size), to: dir("base.img"))
        try Fixture.write(Fixture.pattern(size: size), to: dir("base2.img"))
        // Sector 1 makes page 0 mixed (work for normalize); 1500 and 1501 are cut off.
        try Fixture.makeCOW(dir("t.cow"), backing: dir("base.img"), size: UInt64(size), sectors: [1: 0x41, 1500: 0x42, 1501: 0x43])
        let header = try COWHeader.decode(Array(Fixture.read(dir("t.cow")).prefix(8192)))
        let g = try COWGeometry(header: header)
        #expect(truncate(dir("t.cow"), off_t(g.dataOffset + 1500 * 512 + 100)) == 0)
        let files = ["t.cow", "base.img", "base2.img"]
        func hashes() throws -> [String] { try files.map { try sha256(dir($0)) } }
        let before = try hashes()

        let verbs: [(String, [String])] = [
            ("normalize", ["cow", "normalize", dir("t.cow")]),
            ("rebase", ["cow", "rebase", "--backing", dir("base2.img"), dir("t.cow")]),
            ("compare", ["cow", "compare", dir("t.cow"), dir("base.img")]),
            ("map", ["cow", "map", dir("t.cow")]),
        ]
        for (verb, args) in verbs {
            let r = try runCorral(args)
            #expect(r.status != 0, "\(verb): \(r.summary)")
            #expect(r.stderr.contains("2 COW sector(s) from sector 1500") && r.stderr.contains("--force"), "\(verb): \(r.stderr)")
        }
        #expect(try hashes() == before, "a refused verb changed a file")

        // With --force the lost sectors are zeros, and each verb runs.
        let map = try runCorral(["cow", "map", "--force", dir("t.cow")])
        #expect(map.status == 0, "\(map.summary)")
        let compare = try runCorral(["cow", "compare", "--force", dir("t.cow"), dir("base.img")])
        #expect(compare.status == 1 && compare.stdout.contains("first difference at byte 512"), "\(compare.summary)")
        let normalize = try runCorral(["cow", "normalize", "--force", dir("t.cow")])
        #expect(normalize.status == 0, "\(normalize.summary)")
        let rebase = try runCorral(["cow", "rebase", "--force", "--backing", dir("base2.img"), dir("t.cow")])
        #expect(rebase.status == 0, "\(rebase.summary)")
    }
}
