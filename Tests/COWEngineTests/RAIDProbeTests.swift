import Foundation
import Testing
import TestSupport
@testable import COWEngine

/// The signatures that keep the kernel's RAID-6 benchmark, found where each
/// format puts them, on raw images and through a COW's bitmap.
@Suite struct RAIDProbeTests {
    /// A 1 MiB zero image in a fresh directory, with `bytes` written at `offset`.
    func image(_ dir: URL, _ name: String, size: Int = 1 << 20, writing bytes: [UInt8] = [], at offset: Int = 0) throws -> String {
        var data = Data(count: size)
        data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    @Test func eachSignatureIsFoundWhereItsFormatPutsIt() throws {
        try Scratch.with("corral-raid") { dir in
            let md: [UInt8] = [0xfc, 0x4e, 0x2b, 0xa9]
            let size = (1 << 20) + 12345  // not 64 KiB aligned: the end superblocks round down
            let cases: [(String, [UInt8], Int, String)] = [
                ("md11", md, 0, "md RAID"),
                ("md12", md, 4096, "md RAID"),
                ("md10", md, (size - 8192) & ~4095, "md RAID"),
                ("md090", md, (size & ~65535) - 65536, "md RAID"),
                ("lvm", Array("LABELONE".utf8), 512, "LVM"),
                ("btrfs", Array("_BHRfS_M".utf8), 65536 + 64, "btrfs"),
                ("gpt", Array("EFI PART".utf8), 512, "GPT"),
                ("mbr", [0x55, 0xAA], 510, "MBR"),
            ]
            for (name, bytes, offset, expected) in cases {
                let path = try image(dir, name, size: size, writing: bytes, at: offset)
                let found = RAIDProbe.signature(path)
                #expect(found?.contains(expected) == true, "\(name): \(found ?? "nil")")
            }
            // Nothing: zeros, an ext4-like superblock, a magic one byte off.
            #expect(RAIDProbe.signature(try image(dir, "zero")) == nil)
            #expect(RAIDProbe.signature(try image(dir, "ext", writing: [0x53, 0xEF], at: 1024 + 56)) == nil)
            #expect(RAIDProbe.signature(try image(dir, "off", writing: Array("_BHRfS_M".utf8), at: 65536 + 65)) == nil)
            #expect(RAIDProbe.signature(try image(dir, "tiny", size: 100)) == nil)
            #expect(RAIDProbe.signature(dir.appendingPathComponent("missing").path) == nil)
        }
    }

    @Test func aCOWShowsItsBackingUnlessItsOwnSectorsCoverIt() throws {
        try Scratch.with("corral-raid") { dir in
            let backing = try image(dir, "base.img", writing: Array("_BHRfS_M".utf8), at: 65536 + 64)
            let cow = dir.appendingPathComponent("guest.cow").path
            _ = try Create.run(cow: cow, backing: backing, fingerprint: false)
            #expect(RAIDProbe.signature(cow)?.contains("btrfs") == true)

            // The guest overwrote sector 128 (zeros now): the COW hides the backing's superblock.
            let file = try COWFile(path: cow)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: cow))
            try handle.seek(toOffset: file.geometry.bitmapOffset + 128 / 8)
            try handle.write(contentsOf: Data([1 << (128 % 8)]))
            try handle.seek(toOffset: file.geometry.dataOffset + 128 * 512)
            try handle.write(contentsOf: Data(count: 512))
            try handle.close()
            #expect(RAIDProbe.signature(cow) == nil)
            let sectors = try GuestSectors(path: cow)
            #expect(sectors.sector(128) == [UInt8](repeating: 0, count: 512))
            #expect(sectors.sector(sectors.size / 512) == nil)
        }
    }
}
