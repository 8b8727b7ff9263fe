import Foundation
import Testing
import TestSupport
import COWEngine
import COWFormat

/// SIGKILL before each write of normalize and rebase (the engine's
/// CORRAL_FAULT_KILL_AFTER_WRITES hook): at every kill point the guest's
/// view is unchanged, and running the command again finishes the job.
@Suite(.serialized)
struct NormalizeRebaseFromImageCrashTests {
    static func corral(_ args: [String], killAfter: Int?) throws -> Int32 {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.corral), "run swift build first")
        // Paths here are absolute, so any working directory will do.
        return try CrashTests.run(args, cwd: "/", killAfter: killAfter)
    }

    /// A COW over a.img with mixed pages spread out; b.img differs from a.img in
    /// backing-held sectors of several pages.
    static func setUp(_ t: Scratch) throws -> [UInt8] {
        let size = 2 << 20
        let a = Fixture.pattern(size: size)
        var b = a
        for s in stride(from: 3, to: 4000, by: 250) { for i in (s * 512)..<(s * 512 + 64) { b[i] ^= 0x55 } }
        try Fixture.write(a, to: t("a.img"))
        try Fixture.write(b, to: t("b.img"), mtime: Fixture.mtime + 1)
        _ = try Create.run(cow: t("d.cow"), backing: t("a.img"), fingerprint: false)
        for s in stride(from: 1, to: 4000, by: 125) {
            try Fixture.writeSector(cow: t("d.cow"), sector: s, data: Array(repeating: UInt8(s & 0x7F), count: 512))
        }
        return try Fixture.referenceMerge(cow: t("d.cow"), backing: t("a.img"))
    }

    @Test func normalizeKilledAtEveryWrite() throws {
        var killed = 0
        for n in stride(from: 0, through: 70, by: 5) {
            let t = try Scratch()
            let view = try Self.setUp(t)
            let status = try Self.corral(["cow", "normalize", t("d.cow")], killAfter: n)
            if status == -SIGKILL { killed += 1 }
            #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("a.img")) == view, "after kill at write \(n)")
            #expect(try Self.corral(["cow", "normalize", t("d.cow")], killAfter: nil) == 0)
            #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("a.img")) == view, "after rerun, kill at \(n)")
            #expect(try BitmapSurvey(COWFile(path: t("d.cow"))).mixedPages == 0)
        }
        #expect(killed >= 10)
    }

    @Test func rebaseKilledAtEveryWrite() throws {
        var killed = 0
        for n in stride(from: 0, through: 60, by: 4) {
            let t = try Scratch()
            let view = try Self.setUp(t)
            let status = try Self.corral(["cow", "rebase", "--backing", t("b.img"), t("d.cow")], killAfter: n)
            if status == -SIGKILL { killed += 1 }
            // Whatever the header names now gives the same view.
            let named = try COWFile(path: t("d.cow")).header.backingPathString
            #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: named) == view, "after kill at write \(n)")
            #expect(try Self.corral(["cow", "rebase", "--backing", t("b.img"), t("d.cow")], killAfter: nil) == 0)
            #expect(try COWFile(path: t("d.cow")).header.backingPathString == t("b.img"))
            #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("b.img")) == view, "after rerun, kill at \(n)")
        }
        #expect(killed >= 8)
    }

    @Test func unsafeRebaseKilledAtEveryWrite() throws {
        // a.img copied to c.img without its mtime: the re-stamp case.
        var killed = 0
        for n in 0...3 {
            let t = try Scratch()
            let view = try Self.setUp(t)
            try Fixture.write(Fixture.pattern(size: 2 << 20), to: t("c.img"), mtime: Fixture.mtime + 7)
            let status = try Self.corral(["cow", "rebase", "--unsafe", "--backing", t("c.img"), t("d.cow")], killAfter: n)
            if status == -SIGKILL { killed += 1 }
            let named = try COWFile(path: t("d.cow")).header.backingPathString
            #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: named) == view, "after kill at write \(n)")
            #expect(try Self.corral(["cow", "rebase", "--unsafe", "--backing", t("c.img"), t("d.cow")], killAfter: nil) == 0)
            #expect(try Fixture.referenceMerge(cow: t("d.cow"), backing: t("c.img")) == view)
            #expect(try DiskCheck.check(path: t("d.cow"), requireWritable: false).hasProblems == false)
        }
        #expect(killed >= 1)
    }

    @Test func fromImageKilledLeavesNoFinalNameAndRerunIsIdentical() throws {
        let t = try Scratch()
        let view = try Self.setUp(t)
        try Fixture.write(view, to: t("flat.img"))
        #expect(try Self.corral(["cow", "from-image", "--no-fingerprint", "--backing", t("a.img"), t("flat.img"), t("ref.cow")], killAfter: nil) == 0)
        let reference = try Fixture.referenceMerge(cow: t("ref.cow"), backing: t("a.img"))
        #expect(reference == view)
        var killed = 0
        for n in stride(from: 0, through: 40, by: 4) {
            let status = try Self.corral(["cow", "from-image", "--no-fingerprint", "--backing", t("a.img"), t("flat.img"), t("new.cow")], killAfter: n)
            if status == -SIGKILL {
                killed += 1
                #expect(!FileManager.default.fileExists(atPath: t("new.cow")), "a killed from-image left new.cow at write \(n)")
            } else {
                #expect(status == 0)
                try FileManager.default.removeItem(atPath: t("new.cow"))
            }
        }
        #expect(killed >= 3)
        #expect(try Self.corral(["cow", "from-image", "--no-fingerprint", "--backing", t("a.img"), t("flat.img"), t("new.cow")], killAfter: nil) == 0)
        #expect(try Fixture.referenceMerge(cow: t("new.cow"), backing: t("a.img")) == view)
        // Same bitmap and data as the uninterrupted run.
        #expect(try COWInfo.read(path: t("new.cow")).dirtySectors == COWInfo.read(path: t("ref.cow")).dirtySectors)
    }
}
