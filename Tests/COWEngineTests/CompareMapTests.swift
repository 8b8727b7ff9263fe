import Foundation
import Testing
import COWEngine
import COWFormat

@Suite("compare and map")
struct CompareMapTests {
    @Test func compareRawAndCOW() throws {
        let t = E2.TempDir()
        let size = 2 << 20
        try E2.write(E2.pattern(size: size), to: t("back.img"))
        try E2.write(E2.pattern(size: size), to: t("copy.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        #expect(try Compare.run(t("back.img"), t("copy.img")).outcome == .identical)
        #expect(try Compare.run(t("d.cow"), t("back.img")).outcome == .identical)
        // a COW sector with a one-byte change at 777 inside sector 3001
        var sector = Array(E2.pattern(size: size)[(3001 * 512)..<(3002 * 512)])
        sector[777 - 512] = 0
        try E2.writeSector(cow: t("d.cow"), sector: 3001, data: Array(sector.prefix(512)))
        let merged = try E2.referenceMerge(cow: t("d.cow"), backing: t("back.img"))
        let firstDiff = zip(merged, E2.pattern(size: size)).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(try Compare.run(t("d.cow"), t("copy.img")).outcome == .contentDiffers(at: UInt64(firstDiff ?? -1)))
        #expect(try Compare.run(t("copy.img"), t("d.cow")).outcome == .contentDiffers(at: UInt64(firstDiff ?? -1)))
        try E2.write(merged, to: t("merged.img"))
        #expect(try Compare.run(t("merged.img"), t("d.cow")).outcome == .identical)
        // two COWs over the same backing
        _ = try FromImage.run(image: t("merged.img"), backing: t("back.img"), output: t("e.cow"))
        #expect(try Compare.run(t("d.cow"), t("e.cow")).outcome == .identical)

        // sizes differ
        try E2.write(E2.pattern(size: size + 512), to: t("bigger.img"))
        #expect(try Compare.run(t("back.img"), t("bigger.img")).outcome == .sizesDiffer(UInt64(size), UInt64(size + 512)))

        // CLI: 0 same, 1 different (offset printed), 2 error
        var r = try E2.corral("cow", "compare", t("d.cow"), t("merged.img"))
        #expect(r.status == 0)
        r = try E2.corral("cow", "compare", t("d.cow"), t("copy.img"))
        #expect(r.status == 1 && r.out.contains("byte \(firstDiff ?? -1)"))
        r = try E2.corral("cow", "compare", t("back.img"), t("bigger.img"))
        #expect(r.status == 1 && r.out.contains("sizes differ"))
        r = try E2.corral("cow", "compare", t("d.cow"), t("missing.img"))
        #expect(r.status == 2 && r.err.hasPrefix("corral: "))
    }

    /// Two 20 GiB sparse disks are compared by their extents, not byte by byte.
    @Test func sparseCompareIsFast() throws {
        let t = E2.TempDir()
        let size: UInt64 = 20 << 30
        for f in ["a.img", "b.img"] {
            _ = FileManager.default.createFile(atPath: t(f), contents: nil)
            try FileHandle(forWritingTo: URL(fileURLWithPath: t(f))).truncate(atOffset: size)
            try E2.patch(t(f), at: 7 << 30, Array("same data".utf8))
        }
        try E2.setMtime(t("a.img"), E2.mtime)
        _ = try Create.run(cow: t("a.cow"), backing: t("a.img"))
        let start = Date()
        let r = try Compare.run(t("a.cow"), t("b.img"))
        #expect(r.identical)
        #expect(r.bytesCompared <= 16 << 20)
        #expect(Date().timeIntervalSince(start) < 5)
        try E2.patch(t("b.img"), at: (19 << 30) + 5, [1])
        #expect(try Compare.run(t("a.cow"), t("b.img")).outcome == .contentDiffers(at: (19 << 30) + 5))
    }

    @Test func mapCoversTheDiskWithTheRightSources() throws {
        let t = E2.TempDir()
        let size = 1_049_576
        var back = E2.pattern(size: size)
        for i in (256 << 10)..<(512 << 10) { back[i] = 0 }     // a hole in the backing
        try E2.write(back, to: t("dense.img"))
        _ = try E2.run(["/bin/cp", "--sparse=always", "-p", t("dense.img"), t("back.img")])
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        try E2.writeSector(cow: t("d.cow"), sector: 8, data: Array(repeating: 0x41, count: 512))
        try E2.writeSector(cow: t("d.cow"), sector: 9, data: Array(repeating: 0x42, count: 512))
        // a set bit over a hole in the COW data area (a discard): zero
        try E2.writeSector(cow: t("d.cow"), sector: 1024, data: [])
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

        let r = try E2.corral("cow", "map", "--json", t("d.cow"))
        #expect(r.status == 0)
        let json = try JSONDecoder().decode([Extent].self, from: Data(r.out.utf8))
        #expect(json == map)
        let bad = try E2.corral("cow", "map", t("back.img"))
        #expect(bad.status == 1 && bad.err.contains("not a COW file"))
    }
}
