import Foundation
import Testing
import TestSupport
import COWEngine
import COWFormat

@Suite("compare and map")
struct CompareMapTests {
    @Test func compareRawAndCOW() throws {
        let t = try Scratch()
        let size = 2 << 20
        try Fixture.write(Fixture.pattern(size: size), to: t("back.img"))
        try Fixture.write(Fixture.pattern(size: size), to: t("copy.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        #expect(try Compare.run(t("back.img"), t("copy.img")).outcome == .identical)
        #expect(try Compare.run(t("d.cow"), t("back.img")).outcome == .identical)
        // a COW sector with a one-byte change at 777 inside sector 3001
        var sector = Array(Fixture.pattern(size: size)[(3001 * 512)..<(3002 * 512)])
        sector[777 - 512] = 0
        try Fixture.writeSector(cow: t("d.cow"), sector: 3001, data: Array(sector.prefix(512)))
        let merged = try Fixture.referenceMerge(cow: t("d.cow"), backing: t("back.img"))
        let firstDiff = zip(merged, Fixture.pattern(size: size)).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(try Compare.run(t("d.cow"), t("copy.img")).outcome == .contentDiffers(at: UInt64(firstDiff ?? -1)))
        #expect(try Compare.run(t("copy.img"), t("d.cow")).outcome == .contentDiffers(at: UInt64(firstDiff ?? -1)))
        try Fixture.write(merged, to: t("merged.img"))
        #expect(try Compare.run(t("merged.img"), t("d.cow")).outcome == .identical)
        // two COWs over the same backing
        _ = try FromImage.run(image: t("merged.img"), backing: t("back.img"), output: t("e.cow"))
        #expect(try Compare.run(t("d.cow"), t("e.cow")).outcome == .identical)

        // sizes differ
        try Fixture.write(Fixture.pattern(size: size + 512), to: t("bigger.img"))
        #expect(try Compare.run(t("back.img"), t("bigger.img")).outcome == .sizesDiffer(UInt64(size), UInt64(size + 512)))

        // CLI: 0 same, 1 different (offset printed), 2 error
        var r = try runCorral(["cow", "compare", t("d.cow"), t("merged.img")])
        #expect(r.status == 0)
        r = try runCorral(["cow", "compare", t("d.cow"), t("copy.img")])
        #expect(r.status == 1 && r.stdout.contains("byte \(firstDiff ?? -1)"))
        r = try runCorral(["cow", "compare", t("back.img"), t("bigger.img")])
        #expect(r.status == 1 && r.stdout.contains("sizes differ"))
        r = try runCorral(["cow", "compare", t("d.cow"), t("missing.img")])
        #expect(r.status == 2 && r.stderr.hasPrefix("corral: "))
    }

    /// Two 20 GiB sparse disks are compared by their extents, not byte by byte.
    @Test func sparseCompareIsFast() throws {
        let t = try Scratch()
        let size: UInt64 = 20 << 30
        for f in ["a.img", "b.img"] {
            _ = FileManager.default.createFile(atPath: t(f), contents: nil)
            try FileHandle(forWritingTo: URL(fileURLWithPath: t(f))).truncate(atOffset: size)
            try Fixture.patch(t(f), at: 7 << 30, Array("same data".utf8))
        }
        try Fixture.setMtime(t("a.img"), Fixture.mtime)
        _ = try Create.run(cow: t("a.cow"), backing: t("a.img"))
        let start = Date()
        let r = try Compare.run(t("a.cow"), t("b.img"))
        #expect(r.identical)
        #expect(r.bytesCompared <= 16 << 20)
        #expect(Date().timeIntervalSince(start) < 5)
        try Fixture.patch(t("b.img"), at: (19 << 30) + 5, [1])
        #expect(try Compare.run(t("a.cow"), t("b.img")).outcome == .contentDiffers(at: (19 << 30) + 5))
    }

    @Test func mapCoversTheDiskWithTheRightSources() throws {
        let t = try Scratch()
        let size = 1_049_576
        var back = Fixture.pattern(size: size)
        for i in (256 << 10)..<(512 << 10) { back[i] = 0 }     // a hole in the backing
        try Fixture.write(back, to: t("dense.img"))
        _ = try runProcess("/bin/cp", ["--sparse=always", "-p", t("dense.img"), t("back.img")])
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        try Fixture.writeSector(cow: t("d.cow"), sector: 8, data: Array(repeating: 0x41, count: 512))
        try Fixture.writeSector(cow: t("d.cow"), sector: 9, data: Array(repeating: 0x42, count: 512))
        // a set bit over a hole in the COW data area (a discard): zero
        try Fixture.writeSector(cow: t("d.cow"), sector: 1024, data: [])
        let map = try DiskMap.extents(cow: t("d.cow"))
        #expect(map.reduce(0) { $0 + $1.length } == UInt64(size))
        for (a, b) in zip(map, map.dropFirst()) { #expect(a.end == b.offset && a.source != b.source) }
        func source(at offset: UInt64) -> ExtentSource? { map.first { $0.offset <= offset && offset < $0.end }?.source }
        #expect(source(at: 0) == .backing)
        #expect(source(at: 8 * 512) == .cow && source(at: 9 * 512 + 511) == .cow)
        #expect(source(at: 10 * 512) == .backing)
        #expect(source(at: 300 << 10) == .zero)
        #expect(source(at: 1024 * 512) == .zero)
        #expect(source(at: UInt64(size - 1)) == .backing)

        let r = try runCorral(["cow", "map", "--json", t("d.cow")])
        #expect(r.status == 0)
        let json = try JSONDecoder().decode([Extent].self, from: Data(r.stdout.utf8))
        #expect(json == map)
        let bad = try runCorral(["cow", "map", t("back.img")])
        #expect(bad.status == 1 && bad.stderr.contains("not a UML COW file"))
    }
}
