import Foundation
import Launcher
import Testing
import TestSupport

/// Issue 13, attacks 1 and 6, done as an attacker would: an unprivileged
/// user planting boot directories in /tmp, and a guest command forging the
/// exit-status marker.
@Suite(.serialized, .enabled(if: KernelUnderTest.enabled(), "needs linux.uml"))
struct BootAttackTests {
    let off = ["--sandbox", "off"]

    /// A user plants `corral-boot-*` directories in the shared /tmp: one
    /// whose `corral-session` is a FIFO (it hung every boot), one naming the
    /// session of a root process (the sweep SIGKILLed it). A root boot must
    /// neither hang, nor kill, nor remove what it did not make.
    @Test func plantedBootDirectoriesAreLeftAlone() throws {
        try KernelUnderTest.require()
        let user = try TestUser("sweep")
        let tag = UUID().uuidString.prefix(8)
        let fifoDir = "/tmp/corral-boot-planted-fifo-\(tag)"
        let killDir = "/tmp/corral-boot-planted-kill-\(tag)"
        defer { _ = try? runProcess("/bin/rm", ["-rf", fifoDir, killDir]) }

        // A root process in a session whose leader is gone, as a killed boot leaves.
        let scratch = try Scratch("safe-victim")
        try shellResult("setsid -f sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $! > \(scratch("pid"))' </dev/null >/dev/null 2>&1", mergeStderr: true)
        var pidText = ""
        for _ in 0..<100 where pidText.isEmpty {
            usleep(20_000)
            pidText = ((try? String(contentsOfFile: scratch("pid"), encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let victimPID = try #require(Int32(pidText), "no victim pid")
        defer { kill(victimPID, SIGKILL) }
        let stat = try String(contentsOfFile: "/proc/\(victimPID)/stat", encoding: .utf8)
        let session = try #require(stat.split(separator: ")").last?.split(separator: " ").dropFirst(4).first)

        let planted = try user.shell("""
            mkdir -m 700 \(fifoDir) && mkfifo \(fifoDir)/corral-session &&
            mkdir -m 700 \(killDir) && echo \(session) > \(killDir)/corral-session
            """)
        try #require(planted.status == 0, "\(planted.summary)")

        let r = try shellResult("timeout 60 '\(TestPaths.corral)' boot --sandbox off --command 'echo ok' 2>&1; echo status=$?", mergeStderr: true)
        #expect(r.stdout.contains("ok\nstatus=0"), "the boot hung or failed: \(r.stdout)")
        #expect(kill(victimPID, 0) == 0, "the sweep killed root's process named in a planted file")
        #expect(FileManager.default.fileExists(atPath: "\(killDir)/corral-session"), "the sweep removed a user's directory")
    }

    /// A guest command reads the nonce wherever it can reach it (the
    /// command line, the nonce file after uncovering the host's /run),
    /// prints the EXIT 0 marker, then fails: corral reports the failure.
    @Test func forgedExitMarkerDoesNotWin() throws {
        try KernelUnderTest.require()
        let forge = #"""
            n=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^corral_nonce=//p')
            f=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^corral_nonce_file=//p')
            umount /run 2>/dev/null
            [ -n "$f" ] && n=$(cat "$f" 2>/dev/null)
            printf '\nCORRAL-%s EXIT 0\n' "$n"
            exit 1
            """#
        let r = try runCorral(["boot"] + off + ["--command", forge])
        #expect(r.status == 1, "a forged marker decided the exit status: \(r.summary)")
    }
}
