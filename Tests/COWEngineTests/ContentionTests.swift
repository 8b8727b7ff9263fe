import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

/// Two corral processes, stale locks and a full disk under commit: nothing
/// is lost, and the loser is told who holds the file.
@Suite(.serialized)
struct ContentionTests {
    static func spawn(_ args: [String], cwd: String, env: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.corral)
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
        let dir = try Scratch()
        let size = 4 << 20
        try Fixture.write(Fixture.pattern(size: size), to: dir.file("back.img"))
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
        let before = try Fixture.read(dir.file("back.img"))
        let second = try runCorral(["cow", "commit", "a.cow"], cwd: dir.path)
        #expect(second.status == 1)
        #expect(second.stderr.contains("in use by process \(first.processIdentifier) (corral)"), "\(second.stderr)")
        #expect(try Fixture.read(dir.file("back.img")) == before)
    }

    @Test func lockOfAKilledProcessDoesNotBlock() throws {
        let dir = try Scratch()
        let size = 1 << 20
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
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
        let again = try runCorral(["cow", "commit", "a.cow"], cwd: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Fixture.read(dir.file("back.img")) == Fixture.referenceMerge(backing: backing, size: size, sectors: [5: 5]))
    }

    @Test(.enabled(if: isRoot, "mounts a small tmpfs: needs root"))
    func commitIntoAFullFilesystemChangesNothing() throws {
        let dir = try Scratch()
        let small = dir.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(mount("tmpfs", small, "tmpfs", 0, "size=512k") == 0)
        defer { umount(small) }
        // A sparse 8 MiB backing on a 512 KiB filesystem, and a COW (elsewhere)
        // that rewrites 2 MiB of it: the commit cannot fit.
        let backing = small + "/back.img"
        #expect(truncate(backing, 8 << 20) == 0 || FileManager.default.createFile(atPath: backing, contents: nil))
        _ = truncate(backing, 8 << 20)
        try Fixture.setMtime(backing, Fixture.mtime)
        var sectors: [UInt64: UInt8] = [:]
        for s in 0..<4096 { sectors[UInt64(s * 4)] = 0x5A }
        try Fixture.makeCOW(dir.file("a.cow"), backing: backing, size: 8 << 20, sectors: sectors)
        let cowBefore = try Fixture.read(dir.file("a.cow"))
        let r = try runCorral(["cow", "commit", "a.cow"], cwd: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("no space left on device"), "\(r.stderr)")
        let st = try #require(try FileStatus.of(backing))
        #expect(st.mtime == Fixture.mtime, "the backing's mtime must be restored")
        #expect(try Fixture.read(backing).allSatisfy { $0 == 0 })
        #expect(try Fixture.read(dir.file("a.cow")) == cowBefore)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: small)) ?? []) == ["back.img"])
        // The COW still works on its backing afterwards.
        let check = try runCorral(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.status == 0, "\(check.stdout)")
    }

    /// While `corral boot` runs a guest on a COW, the engine's writers are
    /// refused (the boot's lease), naming the boot, and readers only warn.
    @Test(.enabled(if: kernelTestsEnabled, "boots linux.uml: needs the kernel and root"))
    func writersAreRefusedWhileABootHoldsTheDisk() throws {
        let dir = try Scratch()
        let size = 1 << 20
        let backing = Fixture.pattern(size: size)
        try Fixture.write(backing, to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: [3: 3])
        let boot = try Self.spawn(["boot", "--timeout", "60", "--disk", "1=\(dir.file("a.cow"))", "--command", "sleep 6"], cwd: dir.path)
        defer { kill(boot.processIdentifier, SIGTERM); boot.waitUntilExit() }
        var leased = false
        for _ in 0..<250 where !leased {
            usleep(20_000)
            leased = OpenFile.flockHolder(inode: (try? FileStatus.of(dir.file("a.cow")))??.inode ?? 0) != nil
        }
        #expect(leased)
        // The boot holds its lease from before the kernel starts; once the
        // kernel has opened the disk it holds UML's own lock too, and the
        // engine may find either first. Either way the boot is named: itself,
        // or as the owner of its kernel.
        func namesTheBoot(_ stderr: String) -> Bool {
            stderr.contains("in use by process \(boot.processIdentifier) (corral)")
                || stderr.contains(", the kernel of corral process \(boot.processIdentifier))")
        }
        let before = try Fixture.read(dir.file("back.img"))
        for args in [["cow", "commit", "a.cow"], ["cow", "normalize", "a.cow"]] {
            let r = try runCorral(args, cwd: dir.path)
            #expect(r.status == 1, "\(args)")
            #expect(namesTheBoot(r.stderr), "\(args): \(r.stderr)")
        }
        // Flatten reads only, but what a running guest holds may be half-written: --force.
        let refused = try runCorral(["cow", "flatten", "a.cow", "out.img"], cwd: dir.path)
        #expect(refused.status == 1 && namesTheBoot(refused.stderr), "\(refused.stderr)")
        let flat = try runCorral(["cow", "flatten", "--force", "a.cow", "out.img"], cwd: dir.path)
        #expect(flat.status == 0)
        #expect(flat.stderr.contains("warning"))
        #expect(try Fixture.read(dir.file("back.img")) == before)
    }
}

/// Kernel tests run when linux.uml is installed and we are root; under
/// CORRAL_REQUIRE_UML=1 (CI) they always run, so a missing kernel fails.
var kernelTestsEnabled: Bool {
    ProcessInfo.processInfo.environment["CORRAL_REQUIRE_UML"] == "1"
        || (getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/linux.uml"))
}
