import Foundation
import Testing
import TestSupport
import COWEngine
import COWFormat

/// Random disks (odd sizes, scattered sectors) checked against independent
/// expectations: the reference merge, a byte-by-byte first difference, the bitmap.
@Suite("random disks against the reference")
struct RandomDiskPropertyTests {
    struct Rand {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(n))
        }
    }

    @Test(arguments: Array(UInt64(1)...12))
    func operationsAgreeWithTheReference(seed: UInt64) throws {
        var rng = Rand(state: 0x9E37_79B9_7F4A_7C15 &* seed)
        let t = try Scratch()
        let size = 65 * 512 + rng.next(300_000)
        let a = Fixture.pattern(size: size)
        try Fixture.write(a, to: t("a.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("a.img"))
        let sectors = (size + 511) / 512
        for _ in 0..<(1 + rng.next(40)) {
            let s = rng.next(sectors)
            try Fixture.writeSector(cow: t("d.cow"), sector: s, data: (0..<512).map { _ in UInt8(rng.next(3)) })
        }
        let view = try Fixture.referenceMerge(cow: t("d.cow"), backing: t("a.img"))
        try Fixture.write(view, to: t("view.img"))

        // compare: first difference found byte by byte
        let expectedDiff = zip(view, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        let outcome = try Compare.run(t("d.cow"), t("a.img")).outcome
        #expect(outcome == (expectedDiff.map { .contentDiffers(at: UInt64($0)) } ?? .identical))
        #expect(try Compare.run(t("d.cow"), t("view.img")).identical)

        // map: lengths add up; cow exactly where bits are set (the data is never a hole here)
        let cow = try COWFile(path: t("d.cow"))
        var bitmap = [UInt8](repeating: 0, count: Int(cow.geometry.bitmapLength))
        _ = try cow.file.read(into: &bitmap, at: cow.geometry.bitmapOffset)
        let map = try DiskMap.extents(cow: t("d.cow"))
        #expect(map.reduce(0) { $0 + $1.length } == UInt64(size))
        for x in map {
            for s in stride(from: Int(x.offset) / 512, to: (Int(x.end) + 511) / 512, by: 1) {
                let bit = bitmap[s / 8] >> (s % 8) & 1 == 1
                #expect(bit == (x.source == .cow), "sector \(s) in \(x)")
            }
        }

        // from-image over a.img reproduces the view with whole pages
        _ = try FromImage.run(image: t("view.img"), backing: t("a.img"), output: t("e.cow"))
        #expect(try Fixture.referenceMerge(cow: t("e.cow"), backing: t("a.img")) == view)
        #expect(try BitmapSurvey(COWFile(path: t("e.cow"))).mixedPages == 0)

        // safe rebase onto a randomly changed backing keeps the view
        var b = a
        for _ in 0..<(1 + rng.next(30)) { b[rng.next(size)] ^= 0xA5 }
        try Fixture.write(b, to: t("b.img"))
        _ = try Rebase.run(cow: t("d.cow"), newBacking: t("b.img"))
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("b.img")) == view)

        // normalize keeps it too, and leaves no mixed page
        _ = try Normalize.run(cow: t("d.cow"))
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("b.img")) == view)
        #expect(try BitmapSurvey(COWFile(path: t("d.cow"))).mixedPages == 0)
    }
}
