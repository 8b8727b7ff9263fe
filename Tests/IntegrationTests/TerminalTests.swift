import Foundation
import TestSupport
import Testing

/// The CLI as a user at a terminal runs it: corral on a pty the test opened
/// (``TerminalSession``), where progress lines, colour and the interactive
/// console are live. Every other CLI test runs with pipes and never reaches
/// these paths; the progress clock crashed every long `cow` verb here and
/// nowhere else.
@Suite("corral at a terminal", .serialized)
struct TerminalTests {
    /// A 16 MiB backing with a pattern, an image that differs from it in a
    /// few places (whole pages and single sectors), a copy of the backing.
    private static func makeDisks(in dir: Scratch) async throws {
        try shell(#"""
            cd "$1"
            python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7) % 251 for i in range(1 << 20)) * 16)' > base.img
            cp base.img image.img
            printf 'guest data' | dd of=image.img bs=512 seek=9 conv=notrunc status=none
            head -c 65536 /dev/urandom | dd of=image.img bs=4096 seek=1000 conv=notrunc status=none
            head -c 512 /dev/urandom | dd of=image.img bs=512 seek=30001 conv=notrunc status=none
            cp -p base.img base2.img
            """#, dir.path)
    }

    /// No crash report, no half-written output left behind.
    private static func expectClean(_ r: ProcessResult, _ dir: Scratch, _ what: String) {
        #expect(r.status == 0, "\(what) on a terminal: \(r.plainText.suffix(2000))")
        #expect(!r.stdout.contains("Fatal error") && !r.stdout.contains("crashed"), "\(what): \(r.plainText.suffix(2000))")
        #expect(!dir.entries.contains { $0.contains(".corral-") }, "\(what) left \(dir.entries)")
    }

    @Test("every long cow verb runs on a terminal, shows its progress and erases it")
    func cowVerbsOnATerminal() async throws {
        let dir = try Scratch("corral-tty")
        try await Self.makeDisks(in: dir)
        let cow = dir.file("a.cow")

        let steps: [(label: String, arguments: [String])] = [
            ("from-image", ["cow", "from-image", "--backing", dir.file("base.img"), dir.file("image.img"), cow]),
            ("flatten", ["cow", "flatten", cow, dir.file("flat.img")]),
            ("compare", ["cow", "compare", dir.file("image.img"), dir.file("flat.img")]),
            ("normalize", ["cow", "normalize", cow]),
            ("rebase", ["cow", "rebase", "--backing", dir.file("base2.img"), cow]),
            ("commit", ["cow", "commit", cow]),
        ]
        for step in steps {
            let r = try runCorralOnTerminal(step.arguments, cwd: dir.path)
            Self.expectClean(r, dir, step.label)
            // The progress line was drawn (label and percentage) and erased
            // at the end (carriage return, erase to end of line).
            #expect(r.stdout.contains("\(step.label) ") && r.stdout.contains("%"), "\(step.label): \(r.stdout)")
            #expect(r.stdout.contains("\r\u{1B}[K"), "\(step.label): progress not erased: \(r.stdout.debugDescription)")
        }
        // The committed backing now holds the guest's disk.
        try shell(#"cmp "$1" "$2""#, dir.file("base2.img"), dir.file("image.img"))
    }

    @Test("boot: an interactive shell on the terminal, ended with Ctrl-] q", .needsKernel)
    func interactiveBootEndsWithTheEscape() throws {
        let session = try TerminalSession(TestPaths.corral, ["boot", "--timeout", "120"])
        // Typed once the console is attached (raw mode flushes earlier
        // input, as on a real terminal); the guest's shell runs it.
        try session.expect("Ctrl-] then q stops the guest", timeout: 60)
        try session.expect("# ", timeout: 60)
        session.send("echo tty-$((6 * 7))\r")
        try session.expect("tty-42", timeout: 60)
        session.send("\u{1D}q")
        let r = try session.finish(timeout: 60)
        #expect(r.status == 130, "\(r.plainText.suffix(2000))")
        #expect(r.plainText.contains("corral: you stopped the guest with Ctrl-] q"), "\(r.plainText.suffix(2000))")
        #expect(!r.plainText.contains("interrupted (signal"), "\(r.plainText.suffix(2000))")
    }

    @Test("boot --command and a maintenance job on the terminal", .needsKernel)
    func commandAndJobOnATerminal() async throws {
        let dir = try Scratch("corral-tty")
        try shell(#"cd "$1" && mkfs.ext4 -q -F base.img 32M && touch -d 2024-01-01 base.img"#, dir.path)
        let boot = try runCorralOnTerminal(["boot", "--timeout", "120", "--command", "test -t 0 && echo on-a-tty"])
        #expect(boot.status == 0, "\(boot.plainText.suffix(2000))")
        #expect(boot.plainText.contains("on-a-tty"), "\(boot.plainText.suffix(2000))")

        #expect(try runCorral(["cow", "create", dir.file("g.cow"), dir.file("base.img")]).status == 0)
        let job = try runCorralOnTerminal(["maint", "fsck", "--cow", dir.file("g.cow")], cwd: dir.path)
        #expect(job.status == 0, "\(job.plainText.suffix(2000))")
        #expect(!job.stdout.contains("Fatal error"), "\(job.plainText.suffix(2000))")
        // Each step's name and time while it runs, and a line when it ends.
        #expect(job.stdout.contains("fsck: e2fsck … "), "\(job.stdout.debugDescription.suffix(2000))")
        #expect(job.plainText.contains("fsck: e2fsck: ok in "), "\(job.plainText.suffix(2000))")
        let quiet = try runCorralOnTerminal(["maint", "fsck", "-q", "--cow", dir.file("g.cow")], cwd: dir.path)
        #expect(quiet.status == 0, "\(quiet.plainText.suffix(2000))")
        #expect(!quiet.plainText.contains("fsck: e2fsck"), "\(quiet.plainText.suffix(2000))")
        // On a pipe: only the summary.
        let piped = try runCorral(["maint", "fsck", "--cow", dir.file("g.cow")], cwd: dir.path)
        #expect(piped.status == 0 && !piped.stderr.contains("e2fsck: ok in") && !piped.stderr.contains("\u{1B}"), "\(piped.summary)")
    }

    @Test("with stderr on a pipe, no progress line and no escape codes")
    func noProgressOnAPipe() async throws {
        let dir = try Scratch("corral-tty")
        try await Self.makeDisks(in: dir)
        let r = try runCorral(["cow", "from-image", "--backing", dir.file("base.img"), dir.file("image.img"), dir.file("a.cow")])
        #expect(r.status == 0, "\(r.summary)")
        #expect(!r.stderr.contains("\r") && !r.stderr.contains("\u{1B}"), "\(r.stderr.debugDescription)")
        #expect(!r.stdout.contains("\r") && !r.stdout.contains("\u{1B}"), "\(r.stdout.debugDescription)")
    }
}

/// What a crashed run leaves (a hidden `.OUTPUT.corral-XXXXXX` of the whole
/// disk's size) is named and removed by the next run of the verb, and by
/// `cow check` in the COW's directory.
@Suite("leftovers of a crashed run")
struct LeftoverTests {
    @Test func theNextFlattenAndCheckRemoveThem() async throws {
        let dir = try Scratch("corral-left")
        try shell(#"cd "$1" && head -c 1048576 /dev/zero > base.img && touch -d 2024-01-01 base.img"#, dir.path)
        #expect(try runCorral(["cow", "create", dir.file("g.cow"), dir.file("base.img")]).status == 0)
        let leftover = dir.file(".flat.img.corral-9uXWV1")
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: leftover))
        let r = try runCorral(["cow", "flatten", dir.file("g.cow"), dir.file("flat.img")])
        #expect(r.status == 0, "\(r.summary)")
        #expect(r.stderr.contains("removed \(leftover) (1.0 MiB)"), "\(r.stderr)")
        #expect(dir.entries == ["base.img", "flat.img", "g.cow"])

        let other = dir.file(".old.img.corral-Q1w2E3")
        try Data(count: 4096).write(to: URL(fileURLWithPath: other))
        let c = try runCorral(["cow", "check", dir.file("g.cow")])
        #expect(c.status == 0, "\(c.summary)")
        #expect(c.stderr.contains("removed \(other)"), "\(c.stderr)")
        #expect(!FileManager.default.fileExists(atPath: other))
    }
}
