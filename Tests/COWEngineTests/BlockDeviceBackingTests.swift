import Foundation
import Testing
import TestSupport
@testable import COWEngine

/// Issue 13, item 4: only regular files are backings; a block device only
/// when the user names it and passes --allow-block-device. Tried with a
/// real block device: a loop device over a scratch file (as root).
@Suite(.serialized) struct BlockDeviceBackingTests {
    /// A loop device over an 8 MiB file of known bytes, detached at the end.
    final class LoopDevice {
        let path: String
        init(over file: String) throws {
            let r = try runProcess("/sbin/losetup", ["--find", "--show", file])
            let device = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard r.status == 0, device.hasPrefix("/dev/loop") else {
                throw TestFailure("losetup could not attach a loop device (needs root and loop devices): \(r.summary)")
            }
            path = device
        }
        deinit { _ = try? runProcess("/sbin/losetup", ["--detach", path]) }
    }

    @Test func everyVerbRefusesABlockDeviceBackingWithoutTheFlag() throws {
        let dir = try Scratch("blockdev")
        try Fixture.write(Array(repeating: 0x42, count: 8 << 20), to: dir("disk.img"))
        let loop = try LoopDevice(over: dir("disk.img"))
        let deviceBefore = try sha256(loop.path)

        // create: refused without the flag, no COW made.
        let refused = try runCorral(["cow", "create", dir("a.cow"), loop.path])
        #expect(refused.status != 0, "\(refused.summary)")
        #expect(refused.stderr.contains("--allow-block-device") && refused.stderr.split(separator: "\n").count == 1,
                "\(refused.summary)")
        #expect(!FileManager.default.fileExists(atPath: dir("a.cow")))

        // With the flag, the COW is made; it is the input for every other verb.
        let made = try runCorral(["cow", "create", "--allow-block-device", dir("a.cow"), loop.path])
        #expect(made.status == 0, "\(made.summary)")
        try Fixture.write(Array(repeating: 0x11, count: 8 << 20), to: dir("flat.img"))
        let cowBefore = try sha256(dir("a.cow"))

        let attempts: [[String]] = [
            ["cow", "info", "--backing", loop.path, dir("a.cow")],
            ["cow", "check", "--backing", loop.path, dir("a.cow")],
            ["cow", "flatten", "--backing", loop.path, dir("a.cow"), dir("out.img")],
            ["cow", "commit", "--backing", loop.path, dir("a.cow")],
            ["cow", "normalize", "--backing", loop.path, dir("a.cow")],
            ["cow", "map", "--backing", loop.path, dir("a.cow")],
            ["cow", "from-image", "--backing", loop.path, dir("flat.img"), dir("new.cow")],
            ["cow", "rebase", "--backing", loop.path, dir("a.cow")],
            ["boot", "--dry-run", "--disk", "0=\(dir("a.cow")),\(loop.path)"],
            ["maint", "run", "--disk", "0=\(dir("a.cow")),\(loop.path)", "--", "true"],
            ["maint", "shell", "--disk", "0=\(dir("a.cow")),\(loop.path)"],
            ["maint", "rebuild-cow", "--image", dir("flat.img"), "--backing", loop.path, "--output", dir("new.cow")],
        ]
        for args in attempts {
            let r = try runCorral(args)
            #expect(r.status != 0, "\(args.joined(separator: " ")): \(r.summary)")
            #expect(r.stderr.contains("\(loop.path) is a block device") && r.stderr.contains("--allow-block-device"),
                    "\(args.joined(separator: " ")): \(r.summary)")
        }
        #expect(try sha256(dir("a.cow")) == cowBefore, "a refused verb changed the COW")
        #expect(try sha256(loop.path) == deviceBefore, "a refused verb changed the device")
        #expect(!FileManager.default.fileExists(atPath: dir("out.img")))
        #expect(!FileManager.default.fileExists(atPath: dir("new.cow")))

        // The flag is all it takes: the same verbs then use the device.
        let check = try runCorral(["cow", "check", "--backing", loop.path, "--allow-block-device", dir("a.cow")])
        #expect(check.status == 0, "\(check.summary)")
        let flatten = try runCorral(["cow", "flatten", "--backing", loop.path, "--allow-block-device", dir("a.cow"), dir("out.img")])
        #expect(flatten.status == 0, "\(flatten.summary)")
        #expect(try sha256(dir("out.img")) == sha256(dir("disk.img")))
        let boot = try runCorral(["boot", "--dry-run", "--allow-block-device", "--disk", "0=\(dir("a.cow")),\(loop.path)"])
        #expect(boot.status == 0, "\(boot.summary)")

        // Named by the header alone, the device is refused, and check's fix names the flag.
        let header = try runCorral(["cow", "check", dir("a.cow")])
        #expect(header.status == 1 && header.stdout.contains("backing-refused")
                && header.stdout.contains("--backing \(loop.path) --allow-block-device"), "\(header.summary)")
    }
}
