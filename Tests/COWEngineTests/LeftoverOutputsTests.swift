import Foundation
import Testing
import TestSupport
@testable import COWEngine
#if canImport(Glibc)
import Glibc
#endif

/// ``LeftoverOutputs`` removes the `.NAME.corral-XXXXXX` files a crashed run
/// left, and nothing else: not a symlink planted under that name (nor what it
/// points to), not a FIFO (without blocking on it), not another user's file,
/// not the file of a run still writing (it holds the lock).
struct LeftoverOutputsTests {
    @Test func namePattern() {
        #expect(LeftoverOutputs.outputName(ofLeftover: ".flat.img.corral-9uXWV1") == "flat.img")
        #expect(LeftoverOutputs.outputName(ofLeftover: ".flat.img.corral-0123456789ab") == "flat.img")
        #expect(LeftoverOutputs.outputName(ofLeftover: ".flat.img.corral-0123456789aB") == nil)
        #expect(LeftoverOutputs.outputName(ofLeftover: ".g.cow.corral-copy-0123456789ab") == nil)
        #expect(LeftoverOutputs.outputName(ofLeftover: "..corral-9uXWV1") == nil)
        #expect(LeftoverOutputs.outputName(ofLeftover: ".flat.img.corral-9uXWV") == nil)
        #expect(LeftoverOutputs.outputName(ofLeftover: ".flat.img.corral-9uX-V1") == nil)
        #expect(LeftoverOutputs.outputName(ofLeftover: "flat.img.corral-9uXWV1") == nil)
        // StagedDisk's tagged scratch files belong to a maintenance job, not here.
        #expect(LeftoverOutputs.outputName(ofLeftover: ".g.cow.corral-copy-9uXWV1") == nil)
        #expect(LeftoverOutputs.outputName(ofLeftover: ".flat.img.corral-commit") == nil)
    }

    @Test func removesOnlyDeadRegularFilesOfTheCaller() throws {
        let dir = try Scratch()
        let outside = try Scratch()
        let victim = outside.file("victim")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: victim))

        try Data(count: 70_000).write(to: URL(fileURLWithPath: dir.file(".out.img.corral-AbC123")))
        try Data(count: 10).write(to: URL(fileURLWithPath: dir.file(".other.img.corral-Zz9999")))
        #expect(symlink(victim, dir.file(".out.img.corral-Sym111")) == 0)
        #expect(mkfifo(dir.file(".out.img.corral-Fifo11"), 0o600) == 0)
        #expect(mkdir(dir.file(".out.img.corral-Dir111"), 0o700) == 0)
        // A live writer: another process has it open (a run still writing,
        // or the kernel a maintenance job booted on it).
        try Data(count: 10).write(to: URL(fileURLWithPath: dir.file(".out.img.corral-Live11")))
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sleep")
        holder.arguments = ["30"]
        holder.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir.file(".out.img.corral-Live11")))
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        // Another user's file (only meaningful as root, where chown works).
        try Data(count: 10).write(to: URL(fileURLWithPath: dir.file(".out.img.corral-Them11")))
        let chowned = chown(dir.file(".out.img.corral-Them11"), 65534, 65534) == 0

        let removed = LeftoverOutputs.sweep(output: dir.file("out.img"))
        #expect(removed.map(\.path) == [dir.file(".out.img.corral-AbC123")])
        #expect(removed.first?.size == 70_000 && removed.first?.removed == true)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
        var expected = [".other.img.corral-Zz9999", ".out.img.corral-Dir111", ".out.img.corral-Fifo11",
                        ".out.img.corral-Live11", ".out.img.corral-Sym111"]
        if chowned { expected.append(".out.img.corral-Them11") }
        #expect(dir.entries == expected.sorted())

        // The whole directory: the other output's leftover goes too.
        #expect(LeftoverOutputs.sweep(directory: dir.path).map(\.path) == [dir.file(".other.img.corral-Zz9999")])
    }

    /// An output path through a symlinked directory (`/srv/images` linking
    /// to another disk) is swept in the directory it leads to; a link planted
    /// inside under a leftover's name is still left alone.
    @Test func sweepsThroughALinkedDirectoryButNotThroughALinkedEntry() throws {
        let real = try Scratch()
        let outside = try Scratch()
        let linked = outside.file("images")
        #expect(symlink(real.path, linked) == 0)
        let victim = outside.file("victim")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: victim))
        try Data(count: 100).write(to: URL(fileURLWithPath: real.file(".out.img.corral-AbC123")))
        #expect(symlink(victim, real.file(".out.img.corral-Sym111")) == 0)

        let removed = LeftoverOutputs.sweep(output: linked + "/out.img")
        #expect(removed.map(\.path) == [linked + "/.out.img.corral-AbC123"])
        #expect(removed.first?.removed == true)
        #expect(real.entries == [".out.img.corral-Sym111"])
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
    }

    @Test func anAtomicOutputInProgressIsNotALeftover() throws {
        let dir = try Scratch()
        let out = try AtomicOutput(path: dir.file("new.img"), replace: false, inputs: [])
        #expect(LeftoverOutputs.sweep(output: dir.file("new.img")).isEmpty)
        #expect(FileManager.default.fileExists(atPath: out.temporaryPath))
        try out.commit()
        #expect(dir.entries == ["new.img"])
    }
}
