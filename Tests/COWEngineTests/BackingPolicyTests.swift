import Foundation
import Testing
import TestSupport
@testable import COWEngine

/// Attack 4 of issue 13: a crafted COW whose header names a host file
/// (/etc/shadow, or another file of root's with a known size and mtime).
@Suite(.serialized) struct BackingPolicyTests {
    static func mtime(_ path: String) -> UInt32 {
        var st = stat()
        stat(path, &st)
        return UInt32(truncatingIfNeeded: st.st_mtim.tv_sec)
    }

    static func size(_ path: String) -> UInt64 {
        var st = stat()
        stat(path, &st)
        return UInt64(st.st_size)
    }

    @Test func headerNamingAFileInEtcIsRefusedByCheckAndFlatten() throws {
        let user = try TestUser("cow")
        let dir = try Scratch("safe-cow")
        try user.own(dir.path)
        // A secret of root's in /etc, standing in for /etc/shadow with a size
        // the COW format can name exactly (the attacker reads size and mtime
        // with stat, which needs no permission on the file).
        let shadow = "/etc/corral-safe-secret-\(UInt32.random(in: 0..<1_000_000))"
        try Fixture.write(Array(repeating: 0x53, count: 1 << 20), to: shadow)
        chmod(shadow, 0o600)
        defer { unlink(shadow) }
        try Fixture.makeCOW(dir("evil.cow"), backing: shadow, size: Self.size(shadow),
                            sectors: [:], mtime: Self.mtime(shadow))
        try user.own(dir("evil.cow"))

        let check = try runCorral(["cow", "check", dir("evil.cow")])
        #expect(check.status != 0, "check passed a COW backed by /etc/shadow: \(check.summary)")
        #expect((check.stdout + check.stderr).contains("/etc"), "\(check.summary)")

        let flatten = try runCorral(["cow", "flatten", dir("evil.cow"), dir("out.img")])
        #expect(flatten.status != 0, "\(flatten.summary)")
        #expect(flatten.stderr.contains("--backing"), "\(flatten.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir("out.img")), "flatten wrote a copy of shadow")
    }

    /// A user's COW naming a root-owned file whose size and mtime are known:
    /// commit would write the COW's sectors into it.
    @Test func commitIntoAnotherUsersFileIsRefused() throws {
        let user = try TestUser("cmt")
        let dir = try Scratch("safe-cmt")
        try user.own(dir.path)
        let vault = try Scratch("safe-vault")
        let target = vault("root.db")
        try Fixture.write(Array(repeating: 0x52, count: 1 << 20), to: target)
        chmod(target, 0o644)
        try Fixture.makeCOW(dir("evil.cow"), backing: target, size: 1 << 20, sectors: [0: 0x41])
        try user.own(dir("evil.cow"))
        let before = try sha256(target)

        let r = try runCorral(["cow", "commit", dir("evil.cow")])
        #expect(r.status != 0, "\(r.summary)")
        #expect(r.stderr.contains("not to the COW's owner"), "\(r.stderr)")
        #expect(try sha256(target) == before, "commit wrote into root's file")

        // Named explicitly, the same backing is the user's (root's) own choice.
        let named = try runCorral(["cow", "check", "--backing", target, dir("evil.cow")])
        #expect(!named.stdout.contains("backing-refused") && !named.stderr.contains("backing-refused"), "\(named.summary)")
    }
}
