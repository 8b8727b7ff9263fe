import Foundation
import Testing
import TestSupport

/// `--log FILE` in a directory a user controls (attack 3 of issue 13): a
/// symlink there must not make root truncate its target, and a FIFO must
/// not hang the boot.
@Suite(.serialized, .enabled(if: KernelUnderTest.enabled(), "needs linux.uml"))
struct LogFileSafetyTests {
    @Test func logThroughASymlinkOrIntoAFIFOIsRefused() throws {
        try KernelUnderTest.require()
        let user = try TestUser("log")
        let dir = try Scratch("safe-log")
        try user.own(dir.path)
        let vault = try Scratch("safe-vault")
        try "root's data\n".write(toFile: vault("data"), atomically: false, encoding: .utf8)
        let planted = try user.shell("ln -s '\(vault("data"))' '\(dir("link"))' && mkfifo '\(dir("fifo"))'")
        try #require(planted.status == 0, "\(planted.summary)")

        for name in ["link", "fifo"] {
            let r = try shellResult("timeout 60 '\(TestPaths.corral)' boot --sandbox off --log '\(dir(name))' --command true 2>&1; echo status=$?", mergeStderr: true)
            #expect(!r.stdout.contains("status=0"), "\(name): \(r.stdout)")
            #expect(!r.stdout.contains("status=124"), "\(name): the boot hung on the log file")
            #expect(r.stdout.contains("--log"), "\(name): \(r.stdout)")
        }
        #expect(try String(contentsOfFile: vault("data"), encoding: .utf8) == "root's data\n")
    }
}
