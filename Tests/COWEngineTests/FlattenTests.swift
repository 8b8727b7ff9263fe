import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

struct FlattenTests {
    @Test(arguments: [COWLayout.v1, .v2, .v3, .v3Broken])
    func mergesEveryLayoutLikeTheReference(_ layout: COWLayout) throws {
        let dir = try Scratch()
        let size = 1_049_576  // 1 MiB + 1000: a partial last sector (spec V2)
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
        let sectors: [UInt64: UInt8] = [0: 0x41, 5: 0x59, 9: 0, 100: 0x42, 101: 0x42, 1000: 0x43, 2040: 0x44]
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size),
                            layout: layout, alignment: 4096, sectors: sectors)
        let r = try Flatten.run(cow: dir.file("a.cow"), output: dir.file("out.img"))
        let got = try Fixture.read(dir.file("out.img"))
        #expect(got.count == size)
        #expect(got == Fixture.referenceMerge(backing: backing, size: size, sectors: sectors))
        #expect(r.cowBytes == UInt64(sectors.count * 512))
    }

    @Test func partialLastSectorIsKeptWhole() throws {
        // uml_moo drops the last 488 bytes here (§5.1 M1); the image is S bytes.
        let dir = try Scratch()
        let size = 1_049_576
        try Fixture.write(Fixture.pattern(size: size), to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size),
                            sectors: [2049: 0x5A])
        _ = try Flatten.run(cow: dir.file("a.cow"), output: dir.file("out.img"))
        let got = try Fixture.read(dir.file("out.img"))
        #expect(got.count == size)
        #expect(got.suffix(488).allSatisfy { $0 == 0x5A })
    }

    @Test func outputIsSparseWhereZero() throws {
        let dir = try Scratch()
        let size: UInt64 = 256 << 20
        #expect(truncate(dir.file("back.img"), off_t(size)) == 0 || FileManager.default.createFile(atPath: dir.file("back.img"), contents: nil))
        _ = truncate(dir.file("back.img"), off_t(size))
        try Fixture.setMtime(dir.file("back.img"), Fixture.mtime)
        // Set a zero sector and a data sector far apart.
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: size,
                            sectors: [10: 0, 300_000: 0x77])
        _ = try Flatten.run(cow: dir.file("a.cow"), output: dir.file("out.img"))
        let st = try #require(try FileStatus.of(dir.file("out.img")))
        #expect(st.size == size)
        #expect(st.allocated <= 64 * 1024)
    }

    @Test func randomBitmapsMatchReference() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<6 {
            let dir = try Scratch()
            let size = Int.random(in: 40_000...3_000_000, using: &rng)
            var backing = Fixture.pattern(size: size)
            // Zero stretches in the backing exercise hole and zero skipping.
            let z = Int.random(in: 0..<size / 2, using: &rng)
            for i in z..<min(size, z + 300_000) { backing[i] = 0 }
            try Fixture.write(backing, to: dir.file("back.img"))
            let n = UInt64((size + 511) / 512)
            var sectors: [UInt64: UInt8] = [:]
            for _ in 0..<Int.random(in: 0...400, using: &rng) {
                let start = UInt64.random(in: 0..<n, using: &rng)
                for s in start..<min(n, start + UInt64.random(in: 1...40, using: &rng)) {
                    sectors[s] = UInt8.random(in: 0...3, using: &rng) == 0 ? 0 : UInt8.random(in: 1...255, using: &rng)
                }
            }
            try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: sectors)
            _ = try Flatten.run(cow: dir.file("a.cow"), output: dir.file("out.img"))
            #expect(try Fixture.read(dir.file("out.img")) == Fixture.referenceMerge(backing: backing, size: size, sectors: sectors))
        }
    }

    @Test func commitWritesOnlyTheCOWSectors() throws {
        let dir = try Scratch()
        let size = 2 << 20
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
        let sectors: [UInt64: UInt8] = [3: 0x11, 4: 0, 4095: 0x22]
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: sectors)
        let cowBefore = try Fixture.read(dir.file("a.cow"))
        let r = try Commit.run(cow: dir.file("a.cow"))
        #expect(r.sectors == 3)
        #expect(try Fixture.read(dir.file("back.img")) == Fixture.referenceMerge(backing: backing, size: size, sectors: sectors))
        #expect(try Fixture.read(dir.file("a.cow")) == cowBefore)
        #expect(!dir.entries.contains { $0.hasSuffix(".corral-commit") })
    }

    @Test func commitRefusesWhenOtherCOWsShareTheBacking() throws {
        let dir = try Scratch()
        let size = 1 << 20
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: [1: 1])
        try Fixture.makeCOW(dir.file("b.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: [2: 2])
        #expect {
            try Commit.run(cow: dir.file("a.cow"))
        } throws: { error in
            guard case EngineError.otherCOWsOnBacking(_, let cows) = error else { return false }
            return cows == [dir.file("b.cow")]
        }
        #expect(try Fixture.read(dir.file("back.img")) == backing)
        let r = try Commit.run(cow: dir.file("a.cow"), force: true)
        #expect(r.invalidated == [dir.file("b.cow")])
    }

    @Test func interruptedCommitResumes() throws {
        let dir = try Scratch()
        let size = 1 << 20
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
        let sectors: [UInt64: UInt8] = [7: 0x33, 8: 0x34]
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: sectors)
        // State after a crash mid-commit: marker written, one sector done, mtime changed.
        let marker = CommitMarker(backing: dir.file("back.img"))
        try marker.write(cow: PathResolution.real(dir.file("a.cow")) ?? "")
        var partial = backing
        for k in 0..<512 { partial[7 * 512 + k] = 0x33 }
        try Fixture.write(partial, to: dir.file("back.img"), mtime: Fixture.mtime + 99)
        let r = try Commit.run(cow: dir.file("a.cow"))
        #expect(r.resumed)
        #expect(try Fixture.read(dir.file("back.img")) == Fixture.referenceMerge(backing: backing, size: size, sectors: sectors))
        #expect(marker.read() == nil)
    }
}
