import Foundation
import Testing
import TestSupport
import COWEngine
import COWFormat

@Suite("backing fingerprint and check --deep")
struct FingerprintTests {
    static func digest(_ cow: String) throws -> [UInt8]? {
        if case .present(let fp) = BackingFingerprint.state(of: try COWFile(path: cow).header) { return fp.digest }
        return nil
    }

    /// The digest follows the content, not the storage: a dense file and its
    /// sparse copy agree; one changed byte does not.
    @Test func digestIgnoresSparsenessButNotContent() throws {
        let t = try Scratch()
        var bytes = Fixture.pattern(size: 3 << 20)
        for i in (1 << 20)..<(2 << 20) { bytes[i] = 0 }
        try Fixture.write(bytes, to: t("dense.img"))
        _ = try runProcess("/bin/cp", ["--sparse=always", t("dense.img"), t("sparse.img")])
        #expect(try FileStatus.of(t("sparse.img"))!.allocated < FileStatus.of(t("dense.img"))!.allocated)
        bytes[(3 << 20) - 1] ^= 1
        try Fixture.write(bytes, to: t("changed.img"))
        for f in ["dense", "sparse", "changed"] { _ = try Create.run(cow: t("\(f).cow"), backing: t("\(f).img")) }
        let d = try Self.digest(t("dense.cow"))
        #expect(d != nil)
        #expect(try Self.digest(t("sparse.cow")) == d)
        #expect(try Self.digest(t("changed.cow")) != d)
        _ = try Create.run(cow: t("none.cow"), backing: t("dense.img"), fingerprint: false)
        #expect(BackingFingerprint.state(of: try COWFile(path: t("none.cow")).header) == .absent)
    }

    @Test func deepCheckCatchesContentChangedUnderTheSameMtime() throws {
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 2 << 20), to: t("back.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        var report = try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true, deep: true)
        #expect(!report.hasProblems && report.findings.map(\.code) == [.backingVerified])

        // what the kernel cannot see (§4.7-I): same size, same mtime, other bytes
        try Fixture.patch(t("back.img"), at: 123_456, [0xEE])
        try Fixture.setMtime(t("back.img"), Fixture.mtime)
        #expect(try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true).hasProblems == false)
        report = try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true, deep: true)
        #expect(report.findings.first { $0.code == .backingChanged }?.severity == .problem)
        let r = try runCorral(["cow", "check", "--deep", t("d.cow")])
        #expect(r.status == 1 && r.stdout.contains("[backing-changed]"))
        // and the unsafe re-stamp refuses to bless it
        #expect(throws: EngineError.self) {
            try Fixture.setMtime(t("back.img"), Fixture.mtime + 1)
            _ = try Rebase.run(cow: t("d.cow"), newBacking: t("back.img"), unsafe: true)
        }
    }

    /// Kernel garbage after the NUL (§1.7) never reads as a fingerprint.
    @Test func garbageAfterTheNulIsNoFingerprint() throws {
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: t("back.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        let pathEnd = 32 + t("back.img").utf8.count + 1
        // damage one digest byte: the check bytes no longer match
        try Fixture.patch(t("d.cow"), at: UInt64(pathEnd + 30), [0x00])
        #expect(BackingFingerprint.state(of: try COWFile(path: t("d.cow")).header) == .absent)
        try Fixture.patch(t("d.cow"), at: UInt64(pathEnd), Array("CORRALFP1".utf8) + [1] + (0..<60).map { UInt8($0 * 37 & 0xFF) })
        #expect(BackingFingerprint.state(of: try COWFile(path: t("d.cow")).header) == .absent)
        let report = try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true, deep: true)
        #expect(!report.hasProblems && report.findings.map(\.code) == [.noFingerprint])
    }

    /// The real kernel accepts corral's fingerprinted headers (boot, write,
    /// dump), and after it rewrites the header on a backing switch (§4.3)
    /// corral reports "no fingerprint", never a false alarm.
    @Test(.enabled(if: KernelUnderTest.enabled())) func kernelAcceptsFingerprintedHeaders() throws {
        try KernelUnderTest.require()
        let t = try Scratch()
        try Fixture.write(Fixture.pattern(size: 8 << 20), to: t("back.img"))
        _ = try Create.run(cow: t("d.cow"), backing: t("back.img"))
        try FileManager.default.createDirectory(atPath: t("alt"), withIntermediateDirectories: false)
        try KernelGuest.boot(GuestInit("put Q 8 8; put R 4000 16; dd if=/dev/ubdb of=\(t("view.img")) bs=4096 iflag=direct 2>/dev/null"), in: t.path, disks: ["ubd1=\(t("d.cow"))"], memory: "128M", timeout: 120)
        let expected = try Fixture.referenceMerge(cow: t("d.cow"), backing: t("back.img"))
        #expect(try COWFile(path: t("d.cow")).dirtySectorCount() == 24)
        #expect(try Fixture.read(t("view.img")) == expected)
        #expect(try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true, deep: true).findings.map(\.code) == [.backingVerified])

        _ = try runProcess("/bin/cp", ["-p", t("back.img"), t("alt/copy.img")])
        let log = try KernelGuest.boot(GuestInit("dd if=/dev/ubdb of=\(t("view2.img")) bs=4096 iflag=direct 2>/dev/null"), in: t.path, disks: ["ubd1=\(t("d.cow")),\(t("alt/copy.img"))"], memory: "128M", timeout: 120).console
        #expect(log.contains("Switching backing file"))
        let cow = try COWFile(path: t("d.cow"))
        #expect(cow.header.backingPathString == t("alt/copy.img"))
        #expect(try Fixture.read(t("view2.img")) == expected)
        let report = try DiskCheck.check(path: t("d.cow"), requireWritable: false, expectCOW: true, deep: true)
        #expect(!report.hasProblems, "\(report.findings)")
        #expect(report.findings.contains { $0.code == .noFingerprint })
    }
}
