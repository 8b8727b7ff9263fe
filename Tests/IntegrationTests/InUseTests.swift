import Foundation
import TestSupport
import Testing

/// "In use" is answered the same by every verb: while a real boot holds a
/// guest's COW, `cow info` (`inUseBy`), `cow check` and `cow normalize` say
/// so, and `cow flatten` refuses it without --force.
@Suite("a disk a running boot holds", .serialized, .needsKernel)
struct InUseTests {
    @Test func everyVerbSeesTheRunningBoot() async throws {
        let dir = try Scratch("corral-inuse")
        try shell(#"cd "$1" && mkfs.ext4 -q -F base.img 16M && touch -d 2024-01-01 base.img"#, dir.path)
        let cow = dir.file("g.cow")
        #expect(try runCorral(["cow", "create", cow, dir.file("base.img")]).status == 0)

        let boot = Process()
        boot.executableURL = URL(fileURLWithPath: TestPaths.corral)
        boot.arguments = ["boot", "--timeout", "60", "--disk", "1=\(cow)", "--", "sleep", "40"]
        boot.standardInput = FileHandle.nullDevice
        boot.standardOutput = FileHandle.nullDevice
        boot.standardError = FileHandle.nullDevice
        boot.environment = TestEnvironment.childEnvironment
        try boot.run()
        defer {
            if boot.isRunning { boot.interrupt() }
            boot.waitUntilExit()
        }
        var holder: Int?
        for _ in 0..<100 where holder == nil {
            let info = try runCorral(["cow", "info", "--json", cow])
            holder = (try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["inUseBy"] as? Int
            if holder == nil { usleep(100_000) }
        }
        #expect(holder != nil, "cow info never reported the boot's hold on \(cow)")

        let check = try runCorral(["cow", "check", "--json", cow])
        let findings = (try? JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])?["findings"] as? [[String: Any]] ?? []
        #expect(findings.contains { $0["code"] as? String == "in-use" }, "\(check.summary)")

        let normalize = try runCorral(["cow", "normalize", cow])
        #expect(normalize.status == 1 && normalize.stderr.contains("in use by process"), "\(normalize.summary)")

        let flatten = try runCorral(["cow", "flatten", cow, dir.file("flat.img")])
        #expect(flatten.status == 1 && flatten.stderr.contains("in use by process"), "\(flatten.summary)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("flat.img")))
        let forced = try runCorral(["cow", "flatten", "--force", cow, dir.file("flat.img")])
        #expect(forced.status == 0 && forced.stderr.contains("--force"), "\(forced.summary)")
    }
}
