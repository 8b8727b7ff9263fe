import Foundation
import Testing
import TestSupport
@testable import COWEngine

/// Attack 3 of issue 13: a user who can write an output's directory swaps
/// a name corral created for a symlink to a file of root's. corral must
/// never write, chmod or publish through it.
@Suite(.serialized) struct OutputRaceTests {
    @Test func swappedTemporaryNameIsNeverPublished() throws {
        let (user, dir) = try TestUser.withDirectory("out", scratch: "safe-out")
        let vault = try Scratch("safe-vault")
        let secret = vault("secret")
        try Fixture.write(Array("root only\n".utf8), to: secret, mtime: nil)
        chmod(secret, 0o600)

        let output = try AtomicOutput(path: dir("out"), replace: false, inputs: [])
        let swapped = try user.shell("rm -f '\(output.temporaryPath)' && ln -s '\(secret)' '\(output.temporaryPath)'")
        try #require(swapped.status == 0, "\(swapped.summary)")
        try output.file.write(Array("attacker bytes".utf8), at: 0)
        #expect(throws: EngineError.self) { try output.commit() }

        #expect(try Fixture.read(secret) == Array("root only\n".utf8))
        var st = stat()
        #expect(stat(secret, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(lstat(dir("out"), &st) != 0, "the swapped symlink was published as the output")
    }

    /// `.BACKING.corral-commit` planted as a symlink into root's directory:
    /// the commit refuses instead of creating root's file through it.
    @Test func commitMarkerIsNeverWrittenThroughASymlink() throws {
        let user = try TestUser("mark")
        let dir = try Scratch("safe-mark")
        let vault = try Scratch("safe-vault")
        let backing = dir("base.img")
        try Fixture.write(Fixture.pattern(size: 1 << 20), to: backing)
        try Fixture.makeCOW(dir("disk.cow"), backing: backing, size: 1 << 20, sectors: [3: 0x41])
        for path in [dir.path, backing, dir("disk.cow")] { try user.own(path) }
        let planted = try user.shell("ln -s '\(vault("created"))' '\(dir(".base.img.corral-commit"))'")
        try #require(planted.status == 0, "\(planted.summary)")
        let before = (try sha256(backing), try sha256(dir("disk.cow")))

        let r = try runCorral(["cow", "commit", dir("disk.cow")])
        #expect(r.status != 0, "\(r.summary)")
        #expect(r.stderr.contains("remove it"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: vault("created")), "root created a file through the user's symlink")
        #expect((try sha256(backing), try sha256(dir("disk.cow"))) == before)
    }
}
