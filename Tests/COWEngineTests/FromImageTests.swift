import Foundation
import Testing
import TestSupport
import COWEngine
import COWFormat

@Suite("from-image")
struct FromImageTests {
    /// 1 MiB + 1000 bytes: changes inside one sector, a zeroed page, and the
    /// partial last page; everything else identical.
    static func makeImage(_ t: Scratch) throws -> [UInt8] {
        let size = 1_049_576
        let back = Fixture.pattern(size: size)
        try Fixture.write(back, to: t("back.img"))
        var image = back
        for i in 5000..<5005 { image[i] = 0x48 }                   // page 1, one sector
        for i in (100 * 4096)..<(102 * 4096) { image[i] = 0 }      // pages 100-101 zeroed
        for i in (size - 10)..<size { image[i] = 0x5A }            // partial last page / sector
        try Fixture.write(image, to: t("image.img"))
        return image
    }

    @Test func storesOnlyDifferingWholePages() throws {
        let t = try Scratch()
        let image = try Self.makeImage(t)
        let r = try FromImage.run(image: t("image.img"), backing: t("back.img"), output: t("d.cow"))
        #expect(r.pages == 4)
        #expect(r.sectors == 8 + 16 + 2)
        let cow = try COWFile(path: t("d.cow"))
        #expect(cow.header.layout == .v3 && cow.header.alignment == 4096 && cow.header.sectorSize == 512)
        #expect(cow.header.backingPathString == t("back.img"))
        #expect(Int64(cow.header.mtime) == Fixture.mtime && cow.header.size == UInt64(image.count))
        #expect(try BitmapSurvey(cow).mixedPages == 0)
        #expect(try cow.dirtySectorCount() == 26)
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("back.img")) == image)
        #expect(try Compare.run(t("d.cow"), t("image.img")).identical)
        if case .present = BackingFingerprint.state(of: cow.header) {} else { Issue.record("no fingerprint recorded") }
    }

    @Test func identicalImagesGiveAnEmptyCOW() throws {
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("back.img"))
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("same.img"))
        let r = try FromImage.run(image: t("same.img"), backing: t("back.img"), output: t("d.cow"))
        #expect(r.pages == 0)
        #expect(try COWFile(path: t("d.cow")).dirtySectorCount() == 0)
    }

    /// 4 GiB sparse with a little data: only data extents are read, and the
    /// output stays sparse.
    @Test func sparseImagesCostNothing() throws {
        let t = try Scratch()
        let size: UInt64 = 4 << 30
        for f in ["back.img", "image.img"] {
            _ = FileManager.default.createFile(atPath: t(f), contents: nil)
            try FileHandle(forWritingTo: URL(fileURLWithPath: t(f))).truncate(atOffset: size)
        }
        try Fixture.patch(t("back.img"), at: 3 << 30, Array("backing data".utf8))
        try Fixture.patch(t("image.img"), at: 1 << 30, Array("image data".utf8))
        try Fixture.setMtime(t("back.img"), Fixture.mtime)
        let start = Date()
        let r = try FromImage.run(image: t("image.img"), backing: t("back.img"), output: t("d.cow"))
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(r.pages == 2)
        #expect(r.allocatedBytes < 2 << 20)
        let c = try Compare.run(t("d.cow"), t("image.img"))
        #expect(c.identical)
        #expect(c.bytesCompared < 64 << 20)
    }

    @Test func badInputLeavesEverythingUnchanged() throws {
        let t = try Scratch()
        _ = try Self.makeImage(t)
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("small.img"))
        let files = ["back.img", "image.img", "small.img"]
        let hashes = try files.map { try sha256(t($0)) }
        let listing = t.entries

        // sizes differ
        #expect(throws: EngineError.self) { try FromImage.run(image: t("small.img"), backing: t("back.img"), output: t("x.cow")) }
        var r = try runCorral(["cow", "from-image", "--backing", t("back.img"), t("small.img"), t("x.cow")])
        #expect(r.status == 1 && r.stderr.hasPrefix("corral: ") && r.stderr.contains("a COW disk has exactly its backing's size"))
        // output is an input (even with --force)
        r = try runCorral(["cow", "from-image", "--force", "--backing", t("back.img"), t("image.img"), t("image.img")])
        #expect(r.status == 1 && r.stderr.contains("output is the image itself"))
        r = try runCorral(["cow", "from-image", "--force", "--backing", t("back.img"), t("image.img"), t("back.img")])
        #expect(r.status == 1 && r.stderr.contains("output is the backing file itself"))
        // missing backing
        r = try runCorral(["cow", "from-image", "--backing", t("nope.img"), t("image.img"), t("x.cow")])
        #expect(r.status == 1 && r.stderr.contains("does not exist"))

        #expect(try files.map { try sha256(t($0)) } == hashes)
        #expect(t.entries == listing)

        // --force never replaces a COW that a running UML holds
        _ = try FromImage.run(image: t("image.img"), backing: t("back.img"), output: t("held.cow"))
        let held = try sha256(t("held.cow"))
        let holder = try Fixture.holdLock(t("held.cow"))
        r = try runCorral(["cow", "from-image", "--force", "--backing", t("back.img"), t("small.img"), t("held.cow")])
        #expect(r.status == 1)
        r = try runCorral(["cow", "from-image", "--force", "--backing", t("back.img"), t("image.img"), t("held.cow")])
        #expect(r.status == 1 && r.stderr.contains("in use by process \(holder.processIdentifier)"))
        Fixture.release(holder)
        #expect(try sha256(t("held.cow")) == held)
        #expect(try files.map { try sha256(t($0)) } == hashes)
    }

    /// A full output filesystem: a clear error, the temporary file removed, inputs unchanged.
    @Test(.enabled(if: getuid() == 0)) func fullFilesystem() throws {
        let t = try Scratch()
        let image = try Self.makeImage(t)
        var different = image
        for i in stride(from: 0, to: different.count, by: 7) { different[i] ^= 0xFF }
        try Fixture.write(different, to: t("image.img"))
        let hashes = try ["back.img", "image.img"].map { try sha256(t($0)) }
        try FileManager.default.createDirectory(atPath: t("small"), withIntermediateDirectories: false)
        #expect(try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", t("small")]).status == 0)
        defer { _ = try? runProcess("/bin/umount", [t("small")]) }
        do {
            _ = try FromImage.run(image: t("image.img"), backing: t("back.img"), output: t("small/d.cow"))
            Issue.record("expected a full filesystem")
        } catch .noSpace {
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect((try FileManager.default.contentsOfDirectory(atPath: t("small"))).isEmpty)
        let r = try runCorral(["cow", "from-image", "--backing", t("back.img"), t("image.img"), t("small/d.cow")])
        #expect(r.status == 1 && r.stderr.contains("no space left on device"))
        #expect((try FileManager.default.contentsOfDirectory(atPath: t("small"))).isEmpty)
        #expect(try ["back.img", "image.img"].map { try sha256(t($0)) } == hashes)
    }

    /// The kernel boots the produced COW and sees IMAGE (O_DIRECT 4 KiB reads, §4.7-A).
    @Test(.enabled(if: KernelUnderTest.enabled())) func kernelSeesTheImage() throws {
        try KernelUnderTest.require()
        let t = try Scratch()
        let size = 8 << 20
        try Fixture.write(Fixture.pattern(size: size), to: t("back.img"))
        var image = Fixture.pattern(size: size)
        for i in 4096..<4100 { image[i] = 0x21 }
        for i in (1 << 20)..<((1 << 20) + 65536) { image[i] = 0 }
        for i in (size - 512)..<size { image[i] = 0x7E }
        try Fixture.write(image, to: t("image.img"))
        _ = try FromImage.run(image: t("image.img"), backing: t("back.img"), output: t("d.cow"))
        try KernelGuest.boot(GuestInit("dd if=/dev/ubdb of=\(t("view.img")) bs=4096 iflag=direct 2>/dev/null"), in: t.path, disks: ["ubd1=\(t("d.cow"))"], memory: "128M", timeout: 120)
        #expect(try Fixture.read(t("view.img")) == image)
    }
}
