import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

struct CheckTests {
    static func mkfs(_ path: String, blockSize: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/mkfs.ext4")
        p.arguments = ["-q", "-F", "-b", String(blockSize), path, "8M"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        try Fixture.setMtime(path, Fixture.mtime)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4"), "needs mkfs.ext4"),
          arguments: [1024, 4096])
    func smallBlockFilesystemsAreFlagged(_ blockSize: Int) throws {
        let dir = try Scratch()
        try Self.mkfs(dir.file("back.img"), blockSize: blockSize)
        // Whole, aligned pages only: no mixed pages, so normalize has nothing to do.
        var sectors: [UInt64: UInt8] = [:]
        for s in 4096..<4104 { sectors[UInt64(s)] = 0x42 }
        try Fixture.makeCOW(dir.file("a.cow"), backing: dir.file("back.img"), size: 8 << 20, sectors: sectors)
        let r = try runCorral(["cow", "check", "--json", "a.cow"], cwd: dir.path)
        #expect(r.status == 0)
        #expect(!r.stdout.contains("mixed-pages"))
        #expect(r.stdout.contains("small-block-fs") == (blockSize < 4096), "\(r.stdout)")
        #expect(FilesystemProbe.extBlockSize(dir.file("a.cow")) == UInt32(blockSize))
    }
}
