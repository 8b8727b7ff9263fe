import Foundation
import TestSupport
import Testing

/// Errors in the user's words: what went wrong and the command that fixes
/// it, with no spec section the user does not have.
@Suite("errors in the user's language")
struct UserLanguageTests {
    private static func disks(_ dir: Scratch) async throws {
        try shell(#"""
            cd "$1"
            head -c 1048576 /dev/zero > base.img && touch -d 2024-01-01 base.img
            mkdir -p 6.1.0/kernel
            cp -p base.img image.img
            printf 'guest' | dd of=image.img bs=4096 seek=3 conv=notrunc status=none
            """#, dir.path)
    }

    @Test func typosSwapsAndPathsBootCannotTake() async throws {
        let dir = try Scratch("corral-words")
        try await Self.disks(dir)
        let cases: [(arguments: [String], status: Int32, says: String)] = [
            (["cow", "flaten", "a.cow", "b.img"], 64, "hint: did you mean 'corral cow flatten'?"),
            (["maint", "fsk", "--cow", "a.cow"], 64, "hint: did you mean 'corral maint fsck'?"),
            (["bot", "--", "true"], 64, "hint: did you mean 'corral boot'?"),
            (["cow", "create", "base.img", "new.cow"], 1, "the arguments look swapped"),
            (["cow", "create", "a:b.cow", "base.img"], 64, "a path with ':' cannot be given to the kernel"),
            (["cow", "create", "a,b.cow", "base.img"], 64, "a path with ',' cannot be given to the kernel"),
            (["cow", "info", "base.img"], 1, "base.img: not a UML COW file: it does not start with a COW header"),
            // Host-side inputs of a job, before any kernel starts.
            (["maint", "install-modules", "--cow", "g.cow", "--modules", "/nonexistent-modules"], 64, "is not a directory"),
            (["maint", "install-modules", "--cow", "g.cow", "--modules", "."], 64, "holds release directories (6.1.0), not modules"),
            (["maint", "run", "--disk", "1=base.img", "--mount", "1=/proc/x", "--", "true"], 64, "is its own kernel file system"),
            (["maint", "run", "--disk", "1=base.img", "--mount", "1=/nonexistent-dir/x", "--", "true"], 64, "cannot create /nonexistent-dir/x"),
            (["maint", "shell", "--disk", "1=base.img", "--mount", "1=/sys/x"], 64, "is its own kernel file system"),
        ]
        for c in cases {
            let r = try runCorral(c.arguments, cwd: dir.path)
            #expect(r.status == c.status, "\(c.arguments): \(r.summary)")
            #expect(r.stderr.contains(c.says), "\(c.arguments): \(r.summary)")
            #expect(!r.stderr.contains("§"), "\(c.arguments): \(r.summary)")
        }
        let swapped = try runCorral(["cow", "create", "base.img", "new.cow"], cwd: dir.path)
        #expect(swapped.stderr.contains("hint: the new COW comes first: corral cow create new.cow base.img"), "\(swapped.summary)")
        #expect(dir.entries == ["6.1.0", "base.img", "image.img"])
    }

    @Test func checkAfterCommitSaysCommitted() async throws {
        let dir = try Scratch("corral-words")
        try await Self.disks(dir)
        #expect(try runCorral(["cow", "from-image", "--backing", "base.img", "image.img", "g.cow"], cwd: dir.path).status == 0)
        #expect(try runCorral(["cow", "commit", "g.cow"], cwd: dir.path).status == 0)
        try shell(#"touch -d 2025-01-01 "$1/base.img""#, dir.path)  // the commit's new mtime, whatever second it ran in
        let r = try runCorral(["cow", "check", "g.cow"], cwd: dir.path)
        #expect(r.status == 1, "\(r.summary)")
        #expect(r.stdout.contains("[committed]") && r.stdout.contains("corral cow create NEW.cow"), "\(r.summary)")
        #expect(!r.stdout.contains("rebase --unsafe"), "\(r.summary)")
    }

    /// `maint shell` over a disk the guest cannot mount (no file system on
    /// it): no shell starts, the boot says which mount failed, the job
    /// fails, and the disk is byte for byte what it was.
    @Test(.needsKernel) func shellDoesNotStartOverAFailedMount() async throws {
        let dir = try Scratch("corral-shell-mount")
        try shell(#"cd "$1" && head -c 4194304 /dev/urandom > noise.img && sha256sum noise.img > before"#, dir.path)
        // The shell would read "echo shell-started" from stdin and run it.
        let input = dir.file("input")
        try "echo shell-started\nexit 0\n".write(toFile: input, atomically: true, encoding: .utf8)
        let r = try runCorral(["maint", "shell", "--disk", "1=\(dir.file("noise.img"))", "--mount", "1=/mnt"],
                              stdin: FileHandle(forReadingAtPath: input), mergeStderr: true)
        #expect(r.status == 1, "\(r.summary)")
        #expect(r.stdout.contains("corral: cannot mount /dev/ubdb on /mnt; no shell started"), "\(r.summary)")
        #expect(!r.stdout.contains("shell-started"), "\(r.summary)")
        #expect(r.stdout.contains("no shell started: a disk could not be mounted"), "\(r.summary)")
        #expect(!r.stdout.contains("the shell exited with status"), "\(r.summary)")
        #expect(try shell(#"cd "$1" && sha256sum -c --quiet before && echo same"#, dir.path) == "same")
    }
}
