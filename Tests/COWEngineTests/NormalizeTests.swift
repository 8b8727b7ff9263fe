import Foundation
import Testing
import TestSupport
import COWEngine
import COWFormat

@Suite("normalize")
struct NormalizeTests {
    /// Mixed pages in the middle, on a page whose COW sector is last, and on
    /// a partial last page with a partial last sector (1 MiB + 1000 bytes).
    @Test func makesEveryPageWholeWithoutChangingTheView() throws {
        let t = try Scratch()
        let size = 1_049_576  // N = 2050 sectors: the last page has 2 sectors, the last one partial
        try Fixture.write(Fixture.pattern(size: size), to: t("back.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        for (sector, ch) in [(0, "A"), (9, "B"), (15, "C"), (100, "D"), (101, "E"), (2049, "Z")] {
            try Fixture.writeSector(cow: t("d.cow"), sector: sector, data: Array(repeating: Character(ch).asciiValue!, count: 512))
        }
        let before = try Fixture.referenceMerge(cow: t("d.cow"), backing: t("back.img"))
        #expect(try BitmapSurvey(COWFile(path: t("d.cow"))).mixedPages == 4)

        let r = try Normalize.run(cow: t("d.cow"))
        #expect(r.mixedPages == 4)
        // page 0: 7 copied; page 1: 9 and 15 set → 6; page 12: 100,101 → 6; last page: 2049 set → 1
        #expect(r.sectorsCopied == 7 + 6 + 6 + 1)
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("back.img")) == before)
        let cow = try COWFile(path: t("d.cow"))
        #expect(try BitmapSurvey(cow).mixedPages == 0)
        #expect(try cow.dirtySectorCount() == 8 + 8 + 8 + 2)
        // flatten (another reader) agrees
        _ = try Flatten.run(cow: t("d.cow"), output: t("flat.img"))
        #expect(try Fixture.read(t("flat.img")) == before)
        // idempotent
        #expect(try Normalize.run(cow: t("d.cow")).mixedPages == 0)
    }

    /// v2 with N % 8 != 0: the last page has no bits at all (spec §2.1), so it is
    /// never mixed and nothing is written past the short bitmap (it would be sector 0's data).
    @Test func v2ShortBitmapIsLeftAlone() throws {
        let t = try Scratch()
        let size = 3907 * 512
        try Fixture.write(Fixture.pattern(size: size), to: t("back.img"))
        let header = COWHeader(layout: .v2, mtime: UInt32(Fixture.mtime), size: UInt64(size), sectorSize: 512,
                               backingPath: Array(t("back.img").utf8))
        let g = try COWGeometry(header: header)
        var file = try header.encode()
        file += [UInt8](repeating: 0, count: Int(g.dataOffset + UInt64(size)) - file.count)
        // sector 1 in the COW (page 0 mixed)
        file[Int(g.bitmapOffset)] = 0b10
        for i in 0..<512 { file[Int(g.dataOffset) + 512 + i] = 0x41 }
        try Fixture.write(file, to: t("v2.cow"), mtime: nil)
        let r = try Normalize.run(cow: t("v2.cow"))
        #expect(r.mixedPages == 1)
        #expect(r.sectorsCopied == 7)
        #expect(!r.notes.isEmpty)
        let after = try Fixture.read(t("v2.cow"))
        #expect(after.count == file.count)
        #expect(after[Int(g.bitmapOffset)] == 0xFF)
        // header and the first data bytes (where a stray bitmap write would land) are intact
        #expect(Array(after[0..<4120]) == Array(file[0..<4120]))
        let back = try Fixture.read(t("back.img"))
        #expect(Array(after[Int(g.dataOffset)..<Int(g.dataOffset) + 512]) == Array(back[0..<512]))
        #expect(try BitmapSurvey(COWFile(path: t("v2.cow"))).mixedPages == 0)
    }

    @Test func refusesACOWHeldByAnotherProcess() throws {
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("back.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        try Fixture.writeSector(cow: t("d.cow"), sector: 3, data: Array(repeating: 0x51, count: 512))
        let hashes = (try sha256(t("d.cow")), try sha256(t("back.img")))
        let holder = try Fixture.holdLock(t("d.cow"))
        defer { Fixture.release(holder) }
        #expect(throws: EngineError.self) { try Normalize.run(cow: t("d.cow")) }
        let r = try runCorral(["cow", "normalize", t("d.cow")])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("corral: ") && r.stderr.contains("in use by process \(holder.processIdentifier)"))
        #expect(r.stderr.split(separator: "\n").first.map { !$0.isEmpty } == true)
        #expect((try sha256(t("d.cow")), try sha256(t("back.img"))) == hashes)
    }

    /// A real UML holding the disk open (its fcntl write lock, §4.2): refused, nothing written.
    @Test(.enabled(if: KernelUnderTest.enabled())) func refusesACOWUsedByARunningUML() throws {
        try KernelUnderTest.require()
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("back.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        try Fixture.writeSector(cow: t("d.cow"), sector: 3, data: Array(repeating: 0x51, count: 512))
        let hashes = (try sha256(t("d.cow")), try sha256(t("back.img")))
        let uml = try KernelGuest(GuestInit("""
            exec 3<>/dev/ubdb; touch \(t("ready"))
            n=0; while [ ! -e \(t("done")) ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
            exec 3>&-
            """), in: t.path, disks: ["ubd1=\(t("d.cow"))"], memory: "128M", launcher: KernelGuest.timeout(120))
        defer {
            _ = FileManager.default.createFile(atPath: t("done"), contents: nil)
            uml.waitUntilExit()
        }
        var waited = 0
        while !FileManager.default.fileExists(atPath: t("ready")) && waited < 300 {
            usleep(100_000)
            waited += 1
        }
        try #require(FileManager.default.fileExists(atPath: t("ready")), "the guest never opened the disk")
        #expect(throws: EngineError.self) { try Normalize.run(cow: t("d.cow")) }
        let r = try runCorral(["cow", "normalize", t("d.cow")])
        #expect(r.status == 1 && r.stderr.hasPrefix("corral: ") && r.stderr.contains("in use by process"))
        #expect((try sha256(t("d.cow")), try sha256(t("back.img"))) == hashes)
    }

    /// Spec §4.7-A with the real kernel: single-sector O_DIRECT writes make
    /// mixed pages; a buffered 64 KiB read in the guest returns wrong bytes
    /// before normalize and the correct merge after it.
    @Test(.enabled(if: KernelUnderTest.enabled())) func kernelReadsCorrectlyAfterNormalize() throws {
        try KernelUnderTest.require()
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 8 << 20), to: t("back.img"))
        try KernelGuest.boot(GuestInit("put A 0 1; put B 9 1; put C 100 3; put D 5000 1; put E 16383 1"), in: t.path, disks: ["ubd1=\(t("d.cow")),\(t("back.img"))"], memory: "128M", timeout: 120)
        let expected = try Fixture.referenceMerge(cow: t("d.cow"), backing: t("back.img"))
        #expect(try COWFile(path: t("d.cow")).dirtySectorCount() == 7)
        let read64k = "dd if=/dev/ubdb of=\(t("view.img")) bs=65536 2>/dev/null"

        try KernelGuest.boot(GuestInit(read64k), in: t.path, disks: ["ubd1r=\(t("d.cow"))"], memory: "128M", timeout: 120)
        let before = try Fixture.read(t("view.img"))
        #expect(before.count == expected.count)
        #expect(before != expected, "the 6.1 kernel should misread mixed pages (spec §4.7-A)")

        let r = try Normalize.run(cow: t("d.cow"))
        #expect(r.mixedPages == 5)
        try FileManager.default.removeItem(atPath: t("view.img"))
        try KernelGuest.boot(GuestInit(read64k), in: t.path, disks: ["ubd1r=\(t("d.cow"))"], memory: "128M", timeout: 120)
        #expect(try Fixture.read(t("view.img")) == expected)
    }
}
