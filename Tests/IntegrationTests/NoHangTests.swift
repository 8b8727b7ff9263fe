import Foundation
import TestSupport
import Testing

/// A FIFO, a character device or a directory where a disk belongs is
/// refused at once with a line naming what it is; opening a FIFO used to
/// wait for a writer forever, before any `--timeout` started.
@Suite("no hang on a non-disk file", .serialized)
struct NoHangTests {
    /// Runs corral under coreutils timeout: a hang shows as status 124.
    private static func corral(_ arguments: [String], cwd: String, limit: Int = 20) throws -> ProcessResult {
        try runProcess("/usr/bin/timeout", ["-k", "2", String(limit), TestPaths.corral] + arguments, cwd: cwd,
                       environment: TestEnvironment.childEnvironment)
    }

    @Test func cowVerbsRefuseAFIFOADeviceAndADirectory() async throws {
        let dir = try Scratch("corral-hang")
        try shell(#"cd "$1" && mkfifo fifo && mkdir adir && head -c 1048576 /dev/zero > base.img && touch -d 2024-01-01 base.img"#, dir.path)
        #expect(try runCorral(["cow", "create", dir.file("g.cow"), dir.file("base.img")]).status == 0)
        let cases: [(arguments: [String], named: String, kind: String)] = [
            (["cow", "info", "fifo"], "fifo", "a FIFO"),
            (["cow", "check", "fifo"], "fifo", "a FIFO"),
            (["cow", "map", "fifo"], "fifo", "a FIFO"),
            (["cow", "map", "--json", "fifo"], "fifo", "a FIFO"),
            (["cow", "compare", "fifo", "g.cow"], "fifo", "a FIFO"),
            (["cow", "flatten", "--backing", "fifo", "g.cow", "out.img"], "fifo", "a FIFO"),
            (["cow", "normalize", "--backing", "fifo", "g.cow"], "fifo", "a FIFO"),
            (["cow", "info", "/dev/zero"], "/dev/zero", "a character device"),
            (["cow", "info", "adir"], "adir", "a directory"),
            (["cow", "check", "--backing", "adir", "g.cow"], "adir", "a directory"),
        ]
        for c in cases {
            let r = try Self.corral(c.arguments, cwd: dir.path)
            #expect(r.status != 124 && r.status != 0, "\(c.arguments): \(r.summary)")
            #expect((r.stdout + r.stderr).contains("\(c.named): is \(c.kind), not a disk image or COW file"), "\(c.arguments): \(r.summary)")
            // Nothing on stdout but check's report of findings: no table
            // header (map printed one) before the error.
            #expect(c.arguments[1] == "check" || r.stdout.isEmpty, "\(c.arguments): \(r.summary)")
        }
        #expect(dir.entries == ["adir", "base.img", "fifo", "g.cow"])
    }

    @Test(.needsKernel) func bootAndMaintRefuseThemInPreflight() async throws {
        let dir = try Scratch("corral-hang")
        try shell(#"cd "$1" && mkfifo fifo && mkdir adir && head -c 1048576 /dev/zero > base.img && touch -d 2024-01-01 base.img"#, dir.path)
        #expect(try runCorral(["cow", "create", dir.file("g.cow"), dir.file("base.img")]).status == 0)
        let cases: [(arguments: [String], says: String)] = [
            (["boot", "--timeout", "5", "--disk", "1=fifo", "--command", "true"], "'fifo' is a FIFO"),
            (["boot", "--timeout", "5", "--disk", "1=/dev/zero", "--command", "true"], "'/dev/zero' is a character device"),
            (["boot", "--timeout", "5", "--disk", "1=adir", "--command", "true"], "'adir' is a directory"),
            (["boot", "--timeout", "5", "--disk", "1=g.cow,fifo", "--command", "true"], "backing 'fifo' is a FIFO"),
            (["boot", "--timeout", "5", "--disk", "1=new.cow,fifo", "--command", "true"], "backing 'fifo' is a FIFO"),
            (["maint", "fsck", "--cow", "fifo"], "is a FIFO"),
        ]
        for c in cases {
            let r = try Self.corral(c.arguments, cwd: dir.path)
            #expect(r.status == 240, "\(c.arguments): \(r.summary)")
            #expect(r.stderr.contains(c.says), "\(c.arguments): \(r.summary)")
        }
        // --each names each guest's real reason, in the summary and the JSON.
        let each = try Self.corral(["maint", "fsck", "--json", "--each", dir.file("fifo")], cwd: dir.path, limit: 60)
        #expect(each.status == 1, "\(each.summary)")
        let reports = try JSONSerialization.jsonObject(with: Data(each.stdout.utf8)) as? [[String: Any]] ?? []
        let reason = reports.first?["reason"] as? String ?? ""
        #expect(reason.contains("is a FIFO, not a disk image or COW file"), "\(each.summary)")
    }
}

/// As an unprivileged user (made here with useradd), the maint jobs that
/// still need root refuse at once with one line saying so, instead of a
/// guest that hangs silently after its init failed to mount /proc.
@Suite("as an unprivileged user", .serialized)
struct UnprivilegedTests {
    @Test(.enabled(if: geteuid() == 0, "needs root to create a user"), .needsKernel)
    func bootAndMaintRefuseAtOnce() async throws {
        let user = "corral-term-\(UInt32.random(in: 0..<1_000_000))"
        try shell(#"useradd -M -s /bin/sh "$1""#, user)
        defer { _ = system("userdel \(user) 2>/dev/null") }
        let dir = try Scratch("corral-user")
        try shell(#"chmod 755 "$1" && head -c 1048576 /dev/zero > "$1/base.img" && chown "$2" "$1/base.img""#, dir.path, user)

        // boot, maint run and maint fsck work for any user (JailRootTests
        // runs them as one); the other maint jobs do not yet.
        for arguments in ["maint flatten-rsync --cow \(dir.file("base.img")) --output \(dir.file("flat.img"))",
                          "maint shell --disk 0=\(dir.file("base.img"))"] {
            let start = Date()
            let r = try shellResult(#"cd "$1" && timeout -k 2 30 su "$2" -s /bin/sh -c "$3 $4""#,
                                 dir.path, user, TestPaths.corral, arguments)
            #expect(r.status == 240, "\(arguments): \(r.summary)")
            #expect(Date().timeIntervalSince(start) < 10, "\(arguments) took \(Date().timeIntervalSince(start)) s")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("needs root"), "\(arguments): \(r.summary)")
        }
        // A usage mistake is 64 for any user, not the root refusal.
        for arguments in ["maint job fsck", "boot --memory 10X --command id"] {
            let r = try shellResult(#"cd "$1" && timeout -k 2 30 su "$2" -s /bin/sh -c "$3 $4""#,
                                 dir.path, user, TestPaths.corral, arguments)
            #expect(r.status == 64, "\(arguments): \(r.summary)")
            #expect(!r.stderr.contains("needs root"), "\(arguments): \(r.summary)")
        }
        // What does not boot still works as any user.
        let dry = try shellResult(#"cd "$1" && su "$2" -s /bin/sh -c "$3 boot --dry-run --command id""#, dir.path, user, TestPaths.corral)
        #expect(dry.status == 0, "\(dry.summary)")
    }
}
