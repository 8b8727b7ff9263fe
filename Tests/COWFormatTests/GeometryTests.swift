import Testing
@testable import COWFormat

/// The worked examples of spec §2.3, each verified there against files the
/// real kernel, uml_mkcow or the spec's independent crafter wrote.
struct GeometryTests {
    struct Case: Sendable, CustomStringConvertible {
        var layout: COWLayout
        var size: UInt64
        var alignment: UInt32
        var bitmapOffset: UInt64
        var bitmapLength: UInt64
        var dataOffset: UInt64
        var description: String { "\(layout.rawValue) size \(size) align \(alignment)" }
    }

    static let table: [Case] = [
        Case(layout: .v3, size: 67_108_864, alignment: 4096, bitmapOffset: 8192, bitmapLength: 16384, dataOffset: 24576),
        Case(layout: .v3, size: 67_108_864, alignment: 512, bitmapOffset: 4608, bitmapLength: 16384, dataOffset: 20992),
        Case(layout: .v3, size: 67_108_864, alignment: 65536, bitmapOffset: 65536, bitmapLength: 16384, dataOffset: 131_072),
        Case(layout: .v3Broken, size: 67_108_864, alignment: 4096, bitmapOffset: 8192, bitmapLength: 16384, dataOffset: 24576),
        Case(layout: .v2, size: 67_108_864, alignment: 512, bitmapOffset: 4120, bitmapLength: 16384, dataOffset: 20992),
        Case(layout: .v1, size: 67_108_864, alignment: 512, bitmapOffset: 280, bitmapLength: 16384, dataOffset: 16896),
        Case(layout: .v3, size: 8_388_608, alignment: 4096, bitmapOffset: 8192, bitmapLength: 2048, dataOffset: 12288),
        Case(layout: .v2, size: 8_388_608, alignment: 512, bitmapOffset: 4120, bitmapLength: 2048, dataOffset: 6656),
        Case(layout: .v1, size: 8_388_608, alignment: 512, bitmapOffset: 280, bitmapLength: 2048, dataOffset: 2560),
        Case(layout: .v3, size: 1_049_576, alignment: 4096, bitmapOffset: 8192, bitmapLength: 257, dataOffset: 12288),
        Case(layout: .v3, size: 5_368_710_656, alignment: 4096, bitmapOffset: 8192, bitmapLength: 1_310_721, dataOffset: 1_323_008),
        Case(layout: .v3, size: 2_199_023_256_576, alignment: 4096, bitmapOffset: 8192, bitmapLength: 536_870_913, dataOffset: 536_883_200),
        Case(layout: .v3, size: 100, alignment: 4096, bitmapOffset: 8192, bitmapLength: 1, dataOffset: 12288),
        Case(layout: .v3, size: 0, alignment: 4096, bitmapOffset: 8192, bitmapLength: 0, dataOffset: 8192),
        // The v1/v2 rounding quirk: 3907 sectors need 489 bytes but get 488 (§2.1).
        Case(layout: .v2, size: 2_000_384, alignment: 512, bitmapOffset: 4120, bitmapLength: 488, dataOffset: 4608),
        Case(layout: .v3, size: 32768, alignment: 4096, bitmapOffset: 8192, bitmapLength: 8, dataOffset: 12288),
    ]

    @Test(arguments: table)
    func matchesSpecTable(_ c: Case) throws {
        let header = COWHeader(layout: c.layout, mtime: 1_704_067_200, size: c.size,
                               sectorSize: 512, alignment: c.alignment, backingPath: Array("/b".utf8))
        let g = try COWGeometry(header: header)
        #expect(g.bitmapOffset == c.bitmapOffset)
        #expect(g.bitmapLength == c.bitmapLength)
        #expect(g.dataOffset == c.dataOffset)
        #expect(g.createdFileLength == c.dataOffset + c.size)
    }

    @Test func v1v2BitmapMissesTrailingSectors() throws {
        let header = COWHeader(layout: .v2, mtime: 0, size: 2_000_384, backingPath: Array("/b".utf8))
        let g = try COWGeometry(header: header)
        #expect(g.sectorCount == 3907)
        #expect(g.mappableSectors == 3904)
    }

    @Test func rejectsZeroAlignmentAndSectorSize() {
        var h = COWHeader(layout: .v3, mtime: 0, size: 4096, alignment: 0, backingPath: Array("/b".utf8))
        #expect(throws: COWFormatError.zeroAlignment) { try COWGeometry(header: h) }
        h.alignment = 4096
        h.sectorSize = 0
        #expect(throws: COWFormatError.zeroSectorSize) { try COWGeometry(header: h) }
    }

    @Test func refusesDataOffsetPast31Bits() throws {
        // ~8 TiB is where every implementation's int data_offset overflows (§2.2).
        let ok = COWHeader(layout: .v3, mtime: 0, size: 8 << 40 - (1 << 30), backingPath: Array("/b".utf8))
        _ = try COWGeometry(header: ok)
        let tooBig = COWHeader(layout: .v3, mtime: 0, size: 9 << 40, backingPath: Array("/b".utf8))
        #expect(throws: COWFormatError.geometryTooLarge(size: 9 << 40)) { try COWGeometry(header: tooBig) }
        let absurd = COWHeader(layout: .v3, mtime: 0, size: 1 << 63, backingPath: Array("/b".utf8))
        #expect(throws: COWFormatError.geometryTooLarge(size: 1 << 63)) { try COWGeometry(header: absurd) }
        let maxed = COWHeader(layout: .v1, mtime: 0, size: .max, backingPath: Array("/b".utf8))
        #expect(throws: COWFormatError.geometryTooLarge(size: .max)) { try COWGeometry(header: maxed) }
    }
}
