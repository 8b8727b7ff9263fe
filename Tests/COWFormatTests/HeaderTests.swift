import Testing
@testable import COWFormat

struct HeaderTests {
    /// The first 48 bytes of a header the real 6.1 kernel wrote (spec §1.4).
    static let kernelHeaderPrefix: [UInt8] = [
        0x4f, 0x4f, 0x4f, 0x4d, 0x00, 0x00, 0x00, 0x03, 0x65, 0x92, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
    ] + Array("/tmp/research/co".utf8)

    @Test func decodesKernelWrittenV3() throws {
        var bytes = Self.kernelHeaderPrefix
        bytes += [UInt8](repeating: 0, count: 4128 - bytes.count)
        // Slab garbage after the NUL, as the kernel leaves it (§1.7).
        bytes[4097] = 0x60; bytes[4098] = 0x0a; bytes[4099] = 0x7c
        let h = try COWHeader.decode(bytes)
        #expect(h.layout == .v3)
        #expect(h.mtime == 1_704_067_200)
        #expect(h.size == 64 << 20)
        #expect(h.sectorSize == 512)
        #expect(h.alignment == 4096)
        #expect(h.backingPathString == "/tmp/research/co")
    }

    @Test(arguments: COWLayout.allCases)
    func roundTripsEveryLayout(_ layout: COWLayout) throws {
        let h = COWHeader(layout: layout, mtime: 0xDEAD_BEEF, size: 5_368_710_656,
                          sectorSize: 512, alignment: layout.hasAlignmentField ? 65536 : 512,
                          backingPath: Array("/srv/uml/backing.img".utf8))
        let bytes = try h.encode()
        #expect(bytes.count == layout.headerLength)
        let back = try COWHeader.decode(bytes)
        #expect(back.layout == layout)
        #expect(back.mtime == h.mtime)
        #expect(back.size == h.size)
        #expect(back.sectorSize == 512)
        #expect(back.alignment == h.alignment)
        #expect(back.backingPath == h.backingPath)
    }

    @Test func v1IsLittleEndianWithHostOrderMagic() throws {
        let h = COWHeader(layout: .v1, mtime: 1, size: 8_388_608, backingPath: Array("/b".utf8))
        let bytes = try h.encode()
        #expect(Array(bytes[0..<4]) == Array("MOOO".utf8))
        #expect(Array(bytes[268..<276]) == [0, 0, 0x80, 0, 0, 0, 0, 0])
    }

    @Test func bigEndianV1IsMisreadLikeTheKernel() throws {
        // A v1 written on a big-endian host: version reads as 1, fields as LE (§1.2).
        var bytes = [UInt8](repeating: 0, count: 280)
        bytes.replaceSubrange(0..<8, with: [0x4f, 0x4f, 0x4f, 0x4d, 0, 0, 0, 1])
        bytes[8] = UInt8(ascii: "/")
        bytes.replaceSubrange(268..<276, with: [0, 0, 0, 0, 0, 0x80, 0, 0])
        let h = try COWHeader.decode(bytes)
        #expect(h.layout == .v1)
        #expect(h.size == 140_737_488_355_328)
    }

    @Test func brokenV3IgnoresPaddingGarbage() throws {
        var bytes = try COWHeader(layout: .v3Broken, mtime: 1_704_067_200, size: 8_388_608,
                                  backingPath: Array("/b.img".utf8)).encode()
        bytes.replaceSubrange(12..<16, with: [0xDE, 0xAD, 0xBE, 0xEF])
        let h = try COWHeader.decode(bytes)
        #expect(h.layout == .v3Broken)
        #expect(h.mtime == 1_704_067_200)
        #expect(h.size == 8_388_608)
        #expect(h.backingPathString == "/b.img")
    }

    @Test func rejectsBadInput() throws {
        let good = try COWHeader(layout: .v3, mtime: 1, size: 1 << 20, backingPath: Array("/b".utf8)).encode()
        #expect(throws: COWFormatError.shortHeader(length: 0)) { try COWHeader.decode([]) }
        #expect(throws: COWFormatError.shortHeader(length: 7)) { try COWHeader.decode(good.prefix(7)) }
        #expect(throws: COWFormatError.truncatedHeader(layout: .v3, length: 100)) { try COWHeader.decode(good.prefix(100)) }
        var bad = good
        bad[0] = 0x7f
        #expect(throws: COWFormatError.badMagic(0x7f4f_4f4d)) { try COWHeader.decode(bad) }
        var v7 = good
        v7[7] = 7
        #expect(throws: COWFormatError.unknownVersion(7)) { try COWHeader.decode(v7) }
        var noNul = good
        for i in 32..<4128 { noNul[i] = UInt8(ascii: "a") }
        #expect(throws: COWFormatError.unterminatedPath(layout: .v3)) { try COWHeader.decode(noNul) }
        // A v2 header cut short of its 4120 bytes.
        let v2 = try COWHeader(layout: .v2, mtime: 1, size: 4096, backingPath: Array("/b".utf8)).encode()
        #expect(throws: COWFormatError.truncatedHeader(layout: .v2, length: 4119)) { try COWHeader.decode(v2.prefix(4119)) }
    }

    @Test func encodeRefusesPathsThatDoNotFit() {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
        #expect(throws: COWFormatError.pathTooLong(length: 4096, maximum: 4095)) {
            try COWHeader(layout: .v3, mtime: 0, size: 0, backingPath: long).encode()
        }
        let fits = [UInt8](repeating: UInt8(ascii: "a"), count: 4095)
        #expect(throws: Never.self) { try COWHeader(layout: .v3, mtime: 0, size: 0, backingPath: fits).encode() }
        #expect(throws: COWFormatError.pathTooLong(length: 256, maximum: 255)) {
            try COWHeader(layout: .v1, mtime: 0, size: 0, backingPath: Array(long.prefix(256))).encode()
        }
    }

    /// Mutated headers never crash or trap, whatever the fields say; geometry
    /// either succeeds with a bounded data offset or throws.
    @Test func randomMutationsNeverCrash() throws {
        var rng = SplitMix64(seed: 0xC0FFEE)
        var seeds: [[UInt8]] = []
        for layout in COWLayout.allCases {
            seeds.append(try COWHeader(layout: layout, mtime: 7, size: 1 << 30, backingPath: Array("/x/y".utf8)).encode())
        }
        for i in 0..<20_000 {
            var bytes = seeds[i % seeds.count]
            let edits = Int(rng.next() % 16) + 1
            for _ in 0..<edits {
                let at = Int(rng.next() % UInt64(min(bytes.count, 64 + Int(rng.next() % 4200))))
                if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            if rng.next() % 8 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1)))) }
            if let h = try? COWHeader.decode(bytes), let g = try? COWGeometry(header: h) {
                #expect(g.dataOffset <= COWGeometry.maximumDataOffset)
                #expect(g.bitmapOffset + g.bitmapLength <= g.dataOffset)
            }
        }
    }
}

/// Small deterministic generator so failures reproduce.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
