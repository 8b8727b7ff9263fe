import Foundation
import Testing
@testable import COWEngine
@testable import COWFormat

/// Two corral processes, stale locks and a full disk under commit: nothing
/// is lost, and the loser is told who holds the file.
@Suite(.serialized)
struct ContentionTests {
    static func spawn(_ args: [String], cwd: String, env: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Corral.binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// The first commit is paused (SIGSTOP by the fault hook) at its first
    /// data write, holding its locks; a second commit must be refused.
    @Test func secondCommitIsRefusedNamingTheFirst() throws {
        let dir = Scratch()
        let size = 4 << 20
        Fixture.write(Fixture.pattern(size: size), to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: [1: 1, 4000: 2])
        // First commit: paused right after taking its locks, at its first write.
        let first = try Self.spawn(["cow", "commit", "a.cow"], cwd: dir.path, env: ["CORRAL_FAULT_STOP_AT_WRITE": "1"])
        defer { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() }
        // Wait until it has stopped itself.
        var stopped = false
        for _ in 0..<200 where !stopped {
            usleep(20_000)
            let stat = (try? String(contentsOfFile: "/proc/\(first.processIdentifier)/stat", encoding: .utf8)) ?? ""
            stopped = stat.split(separator: ")").last?.split(separator: " ").first == "T"
        }
        #expect(stopped)
        let before = Fixture.read(dir.file("back.img"))
        let second = try Corral.run(["cow", "commit", "a.cow"], cwd: dir.path)
        #expect(second.status == 1)
        #expect(second.stderr.contains("in use by process \(first.processIdentifier) (corral)"), "\(second.stderr)")
        #expect(Fixture.read(dir.file("back.img")) == before)
    }

    @Test func lockOfAKilledProcessDoesNotBlock() throws {
        let dir = Scratch()
        let size = 1 << 20
        let backing = Fixture.pattern(size: size)
        Fixture.write(backing, to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: [5: 5])
        let first = try Self.spawn(["cow", "commit", "a.cow"], cwd: dir.path, env: ["CORRAL_FAULT_STOP_AT_WRITE": "1"])
        var held = false
        for _ in 0..<200 where !held {
            usleep(20_000)
            held = (try? OpenFile(dir.file("back.img"), flags: O_RDONLY))?.lockHolder(conflictingWith: .read) == first.processIdentifier
        }
        #expect(held, "the first commit should hold a lock on the backing")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        // fcntl locks die with their process: nothing to clean up by hand.
        #expect((try? OpenFile(dir.file("back.img"), flags: O_RDONLY))?.lockHolder(conflictingWith: .write) == nil)
        let again = try Corral.run(["cow", "commit", "a.cow"], cwd: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Fixture.read(dir.file("back.img")) == Fixture.referenceMerge(backing: backing, size: size, sectors: [5: 5]))
    }

    @Test(.enabled(if: isRoot, "mounts a small tmpfs: needs root"))
    func commitIntoAFullFilesystemChangesNothing() throws {
        let dir = Scratch()
        let small = dir.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(mount("tmpfs", small, "tmpfs", 0, "size=512k") == 0)
        defer { umount(small) }
        // A sparse 8 MiB backing on a 512 KiB filesystem, and a COW (elsewhere)
        // that rewrites 2 MiB of it: the commit cannot fit.
        let backing = small + "/back.img"
        #expect(truncate(backing, 8 << 20) == 0 || FileManager.default.createFile(atPath: backing, contents: nil))
        _ = truncate(backing, 8 << 20)
        Fixture.setMtime(backing, Fixture.mtime)
        var sectors: [UInt64: UInt8] = [:]
        for s in 0..<4096 { sectors[UInt64(s * 4)] = 0x5A }
        try Fixture.makeCOW(dir.file("a.cow"), backing: backing, size: 8 << 20, sectors: sectors)
        let cowBefore = Fixture.read(dir.file("a.cow"))
        let r = try Corral.run(["cow", "commit", "a.cow"], cwd: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("no space left on device"), "\(r.stderr)")
        let st = try #require(try FileStatus.of(backing))
        #expect(st.mtime == Fixture.mtime, "the backing's mtime must be restored")
        #expect(Fixture.read(backing).allSatisfy { $0 == 0 })
        #expect(Fixture.read(dir.file("a.cow")) == cowBefore)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: small)) ?? []) == ["back.img"])
        // The COW still works on its backing afterwards.
        let check = try Corral.run(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.status == 0, "\(check.stdout)")
    }
}
