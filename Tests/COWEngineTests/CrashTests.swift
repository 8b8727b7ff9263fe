import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

/// SIGKILL at every write of a command, then run it again: the result must
/// be byte-identical to an uninterrupted run, and no half-written file may
/// sit under a final name.
@Suite(.serialized)
struct CrashTests {
    /// corral's exit status, or minus the signal that ended it.
    static func run(_ args: [String], cwd: String, killAfter: Int?) throws -> Int32 {
        var environment = TestEnvironment.childEnvironment
        if let killAfter { environment["CORRAL_FAULT_KILL_AFTER_WRITES"] = String(killAfter) }
        let r = try runCorral(args, cwd: cwd, environment: environment)
        return r.signaled ? -r.status : r.status
    }

    static func setUp(_ dir: Scratch, size: Int = 4 << 20) throws -> [UInt8] {
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
        var sectors: [UInt64: UInt8] = [:]
        // Scattered runs so the commit takes many separate writes.
        for i in 0..<40 { for s in 0..<3 { sectors[UInt64(i * 200 + s)] = UInt8(i + 1) } }
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: sectors)
        return Fixture.referenceMerge(backing: backing, size: size, sectors: sectors)
    }

    @Test func commitKilledAtEveryWriteFinishesOnRerun() throws {
        let clean = try Scratch()
        let expected = try Self.setUp(clean)
        #expect(try Self.run(["cow", "commit", "a.cow"], cwd: clean.path, killAfter: nil) == 0)
        #expect(try Fixture.read(clean.file("back.img")) == expected)

        var killed = 0
        for n in stride(from: 0, through: 41, by: 3) {
            let dir = try Scratch()
            _ = try Self.setUp(dir)
            let cowBefore = try Fixture.read(dir.file("a.cow"))
            let status = try Self.run(["cow", "commit", "a.cow"], cwd: dir.path, killAfter: n)
            if status == -SIGKILL { killed += 1 }
            #expect(try Self.run(["cow", "commit", "a.cow"], cwd: dir.path, killAfter: nil) == 0, "rerun after kill at write \(n)")
            #expect(try Fixture.read(dir.file("back.img")) == expected, "kill at write \(n)")
            #expect(try Fixture.read(dir.file("a.cow")) == cowBefore)
            #expect(dir.entries.allSatisfy { !$0.contains("corral") }, "leftovers: \(dir.entries)")
        }
        #expect(killed >= 10)
    }

    @Test func flattenKilledLeavesNoFinalName() throws {
        let dir = try Scratch()
        // 24 MiB: three 8 MiB windows, so a flatten makes at least three writes.
        let expected = try Self.setUp(dir, size: 24 << 20)
        for n in [0, 1, 2] {
            let status = try Self.run(["cow", "flatten", "a.cow", "out.img"], cwd: dir.path, killAfter: n)
            #expect(status == -SIGKILL)
            #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
        }
        // Only the temporary files of the killed runs remain, under hidden names.
        #expect(dir.entries.filter { $0.contains("corral") }.allSatisfy { $0.hasPrefix(".out.img.corral-") })
        #expect(try Self.run(["cow", "flatten", "a.cow", "out.img"], cwd: dir.path, killAfter: nil) == 0)
        #expect(try Fixture.read(dir.file("out.img")) == expected)
    }
}
