import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

/// Every bad input gives one error line naming the file, a non-zero exit,
/// no output left behind, and inputs byte-for-byte (and mtime) unchanged.
/// Runs the real binary.
@Suite(.serialized)
struct BadInputTests {
    static let size = 1 << 20

    /// A healthy COW over a healthy backing in a fresh directory.
    static func setUp() throws -> Scratch {
        let dir = try Scratch()
        try Fixture.write(Fixture.pattern(size: size), to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(size), sectors: [1: 9, 700: 7])
        return dir
    }

    struct Snapshot: Equatable {
        var files: [String: [UInt8]]
        var mtimes: [String: Int64]

        init(_ dir: Scratch) {
            files = [:]
            mtimes = [:]
            for name in dir.entries {
                files[name] = (try? Fixture.read(dir.file(name))) ?? []
                mtimes[name] = (try? FileStatus.of(dir.file(name)))??.mtime ?? -1
            }
        }
    }

    /// Runs corral, expects failure with a one-line `corral:` error that
    /// contains `expect`, and the directory exactly as before.
    static func expectRefused(_ dir: Scratch, _ args: [String], status: Int32 = 1, mentions expect: String) throws {
        let before = Snapshot(dir)
        let r = try runCorral(args, cwd: dir.path)
        #expect(r.status == status, "\(args): status \(r.status), stderr: \(r.stderr)")
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("corral:") }
        #expect(lines.count == 1, "\(args): \(r.stderr)")
        #expect(r.stderr.contains(expect), "\(args): wanted '\(expect)' in: \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"))
        #expect(Snapshot(dir) == before, "\(args): inputs or outputs changed")
    }

    static func corrupt(_ dir: Scratch, _ edit: (inout [UInt8]) -> Void) {
        var bytes = (try? Fixture.read(dir.file("a.cow"))) ?? []
        edit(&bytes)
        _ = FileManager.default.createFile(atPath: dir.file("a.cow"), contents: Data(bytes))
    }

    static let verbs: [[String]] = [["cow", "flatten", "a.cow", "out.img"], ["cow", "commit", "a.cow"], ["cow", "info", "a.cow"]]

    @Test func emptyFile() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0 = [] }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "a.cow: not a UML COW file") }
    }

    @Test func truncatedHeader() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0 = Array($0.prefix(2000)) }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "truncated v3 header") }
    }

    @Test func badMagic() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0[0] = 0x7F }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "not a UML COW file: it does not start with a COW header") }
    }

    @Test func unknownVersion() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0[7] = 9 }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "unknown COW version 9") }
    }

    @Test func backingPathWithoutNUL() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { for i in 32..<4128 { $0[i] = UInt8(ascii: "x") } }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "no terminating NUL") }
    }

    @Test func absurdSize() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0.writeBE(UInt64(1) << 63, at: 12) }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "too large") }
    }

    @Test func alignmentZero() throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0.writeBE(UInt32(0), at: 24) }
        for v in Self.verbs { try Self.expectRefused(dir, v, mentions: "alignment is 0") }
    }

    @Test(arguments: [UInt32(0), 4096])
    func sectorSize(_ ss: UInt32) throws {
        let dir = try Self.setUp()
        Self.corrupt(dir) { $0.writeBE(ss, at: 20) }
        let expect = ss == 0 ? "sector size is 0" : "sector size 4096 is not supported"
        try Self.expectRefused(dir, ["cow", "flatten", "a.cow", "out.img"], mentions: expect)
        try Self.expectRefused(dir, ["cow", "commit", "a.cow"], mentions: expect)
        let check = try runCorral(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.status == 1)
        #expect(check.stdout.contains(ss == 0 ? "sector-size" : "[sector-size]"))
    }

    @Test func cowShorterThanItsGeometry() throws {
        let dir = try Self.setUp()
        // Cut inside the data of sector 700: its data is gone.
        Self.corrupt(dir) { $0 = Array($0.prefix(12288 + 700 * 512 + 100)) }
        let check = try runCorral(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.status == 1)
        #expect(check.stdout.contains("[data-truncated]"))
        // Flatten refuses, naming the lost sectors (issue 13) ...
        let refused = try runCorral(["cow", "flatten", "a.cow", "out.img"], cwd: dir.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("from sector 700"), "\(refused.stderr)")
        // ... and with --force follows the kernel: data past EOF reads as zeros (§3.2), no crash.
        let r = try runCorral(["cow", "flatten", "--force", "a.cow", "out.img"], cwd: dir.path)
        #expect(r.status == 0)
        let out = try Fixture.read(dir.file("out.img"))
        #expect(out.count == Self.size)
        #expect(out[700 * 512 + 100..<701 * 512].allSatisfy { $0 == 0 })
    }

    @Test func missingBacking() throws {
        let dir = try Self.setUp()
        try FileManager.default.removeItem(atPath: dir.file("back.img"))
        try Self.expectRefused(dir, ["cow", "flatten", "a.cow", "out.img"], mentions: "back.img does not exist")
        try Self.expectRefused(dir, ["cow", "commit", "a.cow"], mentions: "back.img does not exist")
        let check = try runCorral(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.status == 1)
        #expect(check.stdout.contains("[backing-missing]"))
    }

    @Test func backingChangedSinceTheCOWWasMade() throws {
        let dir = try Self.setUp()
        try Fixture.setMtime(dir.file("back.img"), Fixture.mtime + 3600)
        try Self.expectRefused(dir, ["cow", "flatten", "a.cow", "out.img"], mentions: "mtime is 1704070800 but the COW header says 1704067200")
        try Self.expectRefused(dir, ["cow", "commit", "a.cow"], mentions: "mtime")
        let check = try runCorral(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.status == 1)
        #expect(check.stdout.contains("[mtime-mismatch]"))
        // Grown backing: size mismatch.
        let dir2 = try Self.setUp()
        try Fixture.write(Fixture.pattern(size: Self.size + 512), to: dir2.file("back.img"))
        try Self.expectRefused(dir2, ["cow", "flatten", "a.cow", "out.img"], mentions: "1049088 bytes but the COW header says 1048576")
    }

    @Test func outputExists() throws {
        let dir = try Self.setUp()
        try Fixture.write([1, 2, 3], to: dir.file("out.img"))
        try Self.expectRefused(dir, ["cow", "flatten", "a.cow", "out.img"], mentions: "out.img: output already exists")
        try Self.expectRefused(dir, ["cow", "create", "a.cow", "back.img"], mentions: "a.cow: output already exists")
        let r = try runCorral(["cow", "flatten", "--force", "a.cow", "out.img"], cwd: dir.path)
        #expect(r.status == 0)
        #expect(try Fixture.read(dir.file("out.img")).count == Self.size)
    }

    @Test func outputIsAnInput() throws {
        let dir = try Self.setUp()
        try Self.expectRefused(dir, ["cow", "flatten", "--force", "a.cow", "a.cow"], mentions: "output is the COW file itself")
        try Self.expectRefused(dir, ["cow", "flatten", "--force", "a.cow", "back.img"], mentions: "output is the backing file itself")
        // Another spelling of the same file is caught too (device and inode).
        try FileManager.default.createSymbolicLink(atPath: dir.file("alias.img"), withDestinationPath: dir.file("back.img"))
        try Self.expectRefused(dir, ["cow", "flatten", "--force", "a.cow", "./alias.img"], mentions: "output is the backing file itself")
    }

    @Test func createRefusesUnrepresentableMtime() throws {
        let dir = try Scratch()
        try Fixture.write([UInt8](repeating: 1, count: 65536), to: dir.file("old.img"), mtime: -60)
        try Self.expectRefused(dir, ["cow", "create", "n.cow", "old.img"], mentions: "mtime -60 is outside")
        try Fixture.write([UInt8](repeating: 1, count: 65536), to: dir.file("future.img"), mtime: 4_417_977_600)
        try Self.expectRefused(dir, ["cow", "create", "n.cow", "future.img"], mentions: "mtime 4417977600 is outside")
    }

    @Test func createForceStartsEmpty() throws {
        let dir = try Self.setUp()
        let r = try runCorral(["cow", "create", "--force", "a.cow", "back.img"], cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let info = try COWInfo.read(path: dir.file("a.cow"))
        #expect(info.dirtySectors == 0)
        #expect(info.fileLength == 12288 + UInt64(Self.size))
        #expect(info.backingFile == PathResolution.real(dir.file("back.img")))
    }

    @Test(.enabled(if: isRoot, "mounts a 1 MiB tmpfs: needs root"))
    func fullOutputFilesystem() throws {
        let dir = try Scratch()
        // Random data so nothing can be left sparse.
        var rng = SystemRandomNumberGenerator()
        let data = (0..<(4 << 20)).map { _ in UInt8.random(in: 1...255, using: &rng) }
        try Fixture.write(data, to: dir.file("back.img"))
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: UInt64(data.count), sectors: [3: 3])
        let small = dir.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(mount("tmpfs", small, "tmpfs", 0, "size=1m") == 0)
        defer { umount(small) }
        let before = Snapshot(dir)
        let r = try runCorral(["cow", "flatten", "a.cow", "small/out.img"], cwd: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("no space left on device"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: small)) ?? ["?"]).isEmpty)
        #expect(Snapshot(dir).files["back.img"] == before.files["back.img"])
        #expect(Snapshot(dir).files["a.cow"] == before.files["a.cow"])
    }

    @Test func cowHeldByAnotherProcessIsNotCommitted() throws {
        let dir = try Self.setUp()
        // A POSIX write lock, the kind a running UML holds on its COW (§4.2).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import fcntl,sys,time; f=open(sys.argv[1],'r+b'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)", dir.file("a.cow")]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        _ = pipe.fileHandleForReading.availableData
        try Self.expectRefused(dir, ["cow", "commit", "a.cow"], mentions: "in use by process \(holder.processIdentifier) (python3)")
        let check = try runCorral(["cow", "check", "a.cow"], cwd: dir.path)
        #expect(check.stdout.contains("[in-use]"))
        // A running guest may be changing it: flatten refuses unless --force.
        let refused = try runCorral(["cow", "flatten", "a.cow", "out.img"], cwd: dir.path)
        #expect(refused.status == 1 && refused.stderr.contains("in use by process"), "\(refused.summary)")
        let flat = try runCorral(["cow", "flatten", "--force", "a.cow", "out.img"], cwd: dir.path)
        #expect(flat.status == 0)
        #expect(flat.stderr.contains("warning"))
    }
}

extension Array where Element == UInt8 {
    mutating func writeBE<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        let w = MemoryLayout<T>.size
        for i in 0..<w { self[offset + i] = UInt8(truncatingIfNeeded: v >> ((w - 1 - i) * 8)) }
    }
}
