import Foundation
import Testing
import TestSupport
@testable import COWEngine
import COWFormat

@Suite("rebase")
struct RebaseTests {
    /// Old backing A, new backing B differing in: a page the COW does not
    /// touch (sector 20), a mixed page where the differing sector is
    /// backing-held (sector 41; 40 in COW), a page the COW holds fully
    /// (48-55), and the partial last sector.
    static let size = 1_049_576
    static func setUp(_ t: Scratch) throws -> [UInt8] {
        let a = Fixture.pattern(size: size)
        var b = a
        for s in [20, 41, 50] { for i in (s * 512)..<(s * 512 + 100) { b[i] = 0x2A } }
        for i in (size - 7)..<size { b[i] = 0x2B }
        try Fixture.write(a, to: t("a.img"))
        try Fixture.write(b, to: t("b.img"), mtime: Fixture.mtime + 100)
        _ = try Create.run(cow: t("d.cow"), backing: t("a.img"))
        try Fixture.writeSector(cow: t("d.cow"), sector: 40, data: Array(repeating: 0x43, count: 512))
        for s in 48..<56 { try Fixture.writeSector(cow: t("d.cow"), sector: s, data: Array(repeating: 0x44, count: 512)) }
        return try Fixture.referenceMerge(cow: t("d.cow"), backing: t("a.img"))
    }

    @Test func safeRebaseKeepsTheGuestView() throws {
        let t = try Scratch()
        let view = try Self.setUp(t)
        let r = try Rebase.run(cow: t("d.cow"), newBacking: t("b.img"))
        // pages 2 (sector 20), 5 (41; 40 already COW) and the last page; page 6 is all COW
        #expect(r.pagesCopied == 3)
        #expect(r.sectorsCopied == 8 + 7 + 2)
        let cow = try COWFile(path: t("d.cow"))
        #expect(cow.header.backingPathString == t("b.img"))
        #expect(Int64(cow.header.mtime) == Fixture.mtime + 100)
        #expect(try BitmapSurvey(cow).mixedPages == 0)
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("b.img")) == view)
        #expect(try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true, deep: true).hasProblems == false)
        // again: nothing left to move
        #expect(try Rebase.run(cow: t("d.cow"), newBacking: t("b.img")).pagesCopied == 0)
    }

    /// Killed after data and bits but before the header: the header still
    /// names A, which still matches; re-running completes the job.
    @Test func resumesAfterACrashBeforeTheHeader() throws {
        let t = try Scratch()
        let view = try Self.setUp(t)
        do {
            let cow = try COWFile(path: t("d.cow"), writable: true)
            var fill = PageFill(cow: cow)
            let old = try OpenFile(t("a.img"), flags: O_RDONLY)
            let new = try OpenFile(t("b.img"), flags: O_RDONLY)
            try Rebase.moveDifferingPages(cow: cow, old: old, new: new, fill: &fill, progress: nil)
            try fill.flush()
        }
        #expect(try COWFile(path: t("d.cow")).header.backingPathString == t("a.img"))
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("a.img")) == view)
        let r = try Rebase.run(cow: t("d.cow"), newBacking: t("b.img"))
        #expect(r.pagesCopied == 0)
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("b.img")) == view)
    }

    @Test func unsafeProvesTheContentFirst() throws {
        let t = try Scratch()
        let view = try Self.setUp(t)
        // a copy without its mtime, at another path: compared with A
        _ = try runProcess("/bin/cp", [t("a.img"), t("copy.img")])
        var r = try Rebase.run(cow: t("d.cow"), newBacking: t("copy.img"), unsafe: true)
        #expect(r.verification == "compared" && r.pagesCopied == 0)
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("copy.img")) == view)

        // the header's own file re-touched: check suggests the re-stamp, the fingerprint proves it
        try Fixture.setMtime(t("copy.img"), Fixture.mtime + 5000)
        let report = try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true)
        let fix = report.findings.first { $0.code == .mtimeMismatch }?.hint
        #expect(fix == "if the backing's content did not change, re-stamp the header: corral cow rebase --unsafe --backing \(t("copy.img")) \(t("d.cow"))")
        r = try Rebase.run(cow: t("d.cow"), newBacking: t("copy.img"), unsafe: true)
        #expect(r.verification == "fingerprint")
        #expect(try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true).hasProblems == false)

        // the old backing gone: the fingerprint decides
        _ = try runProcess("/bin/cp", [t("copy.img"), t("moved.img")])
        try FileManager.default.removeItem(atPath: t("copy.img"))
        r = try Rebase.run(cow: t("d.cow"), newBacking: t("moved.img"), unsafe: true)
        #expect(r.verification == "fingerprint")
        try FileManager.default.copyItem(atPath: t("moved.img"), toPath: t("gone.img"))
        _ = try Rebase.run(cow: t("d.cow"), newBacking: t("gone.img"), unsafe: true)
        try FileManager.default.removeItem(atPath: t("gone.img"))
        try Fixture.write(try Fixture.read(t("b.img")), to: t("other.img"))
        let hash = try sha256(t("d.cow"))
        #expect(throws: EngineError.self) { try Rebase.run(cow: t("d.cow"), newBacking: t("other.img"), unsafe: true) }
        #expect(try sha256(t("d.cow")) == hash)
        #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("moved.img")) == view)
    }

    @Test func badInputLeavesEverythingUnchanged() throws {
        let t = try Scratch()
        _ = try Self.setUp(t)
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("small.img"))
        let files = ["a.img", "b.img", "d.cow", "small.img"]
        let hashes = try files.map { try sha256(t($0)) }
        let listing = t.entries
        func fails(_ args: String..., saying text: String) throws {
            let r = try runCorral(["cow", "rebase"] + args)
            #expect(r.status == 1, "\(args)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.first?.hasPrefix("corral: ") == true && lines.first?.contains(text) == true, "\(r.stderr)")
            #expect(lines.count <= 2)  // the error, and at most one hint
        }
        try fails("--backing", t("missing.img"), t("d.cow"), saying: "new backing file \(t("missing.img")) does not exist")
        try fails("--backing", t("small.img"), t("d.cow"), saying: "the size is part of the COW's geometry")
        try fails("--unsafe", "--backing", t("b.img"), t("d.cow"), saying: "differs from the current backing")
        let holder = try Fixture.holdLock(t("d.cow"))
        try fails("--backing", t("b.img"), t("d.cow"), saying: "in use by process \(holder.processIdentifier)")
        Fixture.release(holder)
        #expect(try files.map { try sha256(t($0)) } == hashes)
        #expect(t.entries == listing)
    }

    /// v2 stays v2 (the kernel's switch would make it v3 and corrupt it, §4.3);
    /// v1 refuses a path its 256-byte field cannot hold.
    @Test func oldLayoutsKeepTheirLayout() throws {
        let t = try Scratch()
        let size = 3907 * 512
        let a = Fixture.pattern(size: size)
        var b = a
        for i in 3000..<3100 { b[i] = 0 }
        try Fixture.write(a, to: t("a.img"))
        try Fixture.write(b, to: t("b.img"))
        for layout in [COWLayout.v2, .v1] {
            let header = COWHeader(layout: layout, mtime: UInt32(Fixture.mtime), size: UInt64(size), sectorSize: 512,
                                   backingPath: Array(t("a.img").utf8))
            let g = try COWGeometry(header: header)
            var file = try header.encode()
            file += [UInt8](repeating: 0, count: Int(g.dataOffset + UInt64(size)) - file.count)
            file[Int(g.bitmapOffset)] = 0b1
            for i in 0..<512 { file[Int(g.dataOffset) + i] = 0x41 }
            let name = "\(layout.rawValue).cow"
            try Fixture.write(file, to: t(name), mtime: nil)
            _ = try Flatten.run(cow: t(name), output: t("\(name).before"))
            let r = try Rebase.run(cow: t(name), newBacking: t("b.img"))
            #expect(r.pagesCopied == 1)
            let cow = try COWFile(path: t(name))
            #expect(cow.header.layout == layout && cow.header.backingPathString == t("b.img"))
            #expect(cow.geometry == g)
            _ = try Flatten.run(cow: t(name), output: t("\(name).after"))
            #expect(try Fixture.read(t("\(name).before")) == Fixture.read(t("\(name).after")))
        }
        let deep = t(String(repeating: "d", count: 200))
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        try Fixture.write(a, to: deep + "/" + String(repeating: "n", count: 80) + ".img")
        let hash = try sha256(t("v1.cow"))
        #expect(throws: EngineError.self) {
            try Rebase.run(cow: t("v1.cow"), newBacking: deep + "/" + String(repeating: "n", count: 80) + ".img", unsafe: true, force: true)
        }
        #expect(try sha256(t("v1.cow")) == hash)
    }

    /// The kernel accepts the rewritten headers (path, size, mtime; v3 with a
    /// fingerprint, v2 in its own layout) and shows the same disk.
    @Test(.enabled(if: KernelUnderTest.enabled())) func kernelAcceptsRebasedCOWs() throws {
        try KernelUnderTest.require()
        let t = try Scratch()
        let view = try Self.setUp(t)
        _ = try Rebase.run(cow: t("d.cow"), newBacking: t("b.img"))
        // v2 over a.img, re-stamped onto a copy without its mtime
        let header = COWHeader(layout: .v2, mtime: UInt32(Fixture.mtime), size: UInt64(Self.size), sectorSize: 512,
                               backingPath: Array(t("a.img").utf8))
        let g = try COWGeometry(header: header)
        var file = try header.encode()
        file += [UInt8](repeating: 0, count: Int(g.dataOffset) + Self.size - file.count)
        for s in 8..<16 {
            file[Int(g.bitmapOffset) + 1] = 0xFF
            for i in 0..<512 { file[Int(g.dataOffset) + s * 512 + i] = 0x56 }
        }
        try Fixture.write(file, to: t("v2.cow"), mtime: nil)
        var v2view = try Fixture.read(t("a.img"))
        for i in 4096..<8192 { v2view[i] = 0x56 }
        _ = try runProcess("/bin/cp", [t("a.img"), t("a2.img")])
        _ = try Rebase.run(cow: t("v2.cow"), newBacking: t("a2.img"), unsafe: true)
        #expect(try COWFile(path: t("v2.cow")).header.layout == .v2)

        let dump = "dd if=/dev/ubdb of=\(t("view.img")) bs=4096 iflag=direct 2>/dev/null; dd if=/dev/ubdc of=\(t("v2view.img")) bs=4096 iflag=direct 2>/dev/null"
        let console = try KernelGuest.boot(GuestInit(dump), in: t.path, disks: ["ubd1r=\(t("d.cow"))", "ubd2r=\(t("v2.cow"))"], memory: "128M", timeout: 120).console
        // the kernel's device is rounded up to whole sectors (§4.6): compare the disk's bytes
        let seen = Array(try Fixture.read(t("view.img")).prefix(Self.size))
        // v2's bitmap is floor(N/8) bytes long (spec §2.1): N = 2050 here, so the
        // kernel reads the bits of sectors 2048 and 2049 from past the end of its
        // vmalloc'd bitmap, memory it never initialised, and shows those two
        // sectors from the backing or from the COW at random (CI saw it once).
        // Only the sectors the bitmap covers have a defined view.
        let covered = Self.size / 512 / 8 * 8 * 512
        let seen2 = Array(try Fixture.read(t("v2view.img")).prefix(covered))
        #expect(seen == view, "v3 view: \(Fixture.firstDifference(seen, view)); console:\n\(console)")
        #expect(seen2 == Array(v2view.prefix(covered)), "v2 view: \(Fixture.firstDifference(seen2, Array(v2view.prefix(covered)))); console:\n\(console)")
    }
}
