import Foundation
import TestSupport
import Testing

/// What a user sees when something goes wrong, and from --version: the
/// messages the man pages promise.
@Suite struct CLIOutputTests {
    /// The environment of a user with a colour terminal type (but the
    /// output here is a file, not a terminal).
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "xterm-256color"
        env["NO_COLOR"] = nil
        return env.merging(extra) { $1 }
    }

    @Test func usageErrorIsOneLinePlusHint() throws {
        let r = try runProcess(TestPaths.corral, ["cow", "create"], environment: Self.environment())
        #expect(r.status == 64, "\(r.summary)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == """
            corral: missing expected argument '<cow>'
            hint: run 'corral cow create --help' for usage

            """, "\(r.summary)")
    }

    /// A command's help names only options it has: `--each` appears in the
    /// help of the jobs that take it and in no other.
    @Test func helpMentionsEachOnlyWhereItWorks() throws {
        for verb in ["fsck", "install-modules"] {
            let r = try runProcess(TestPaths.corral, ["maint", verb, "--help"], environment: Self.environment())
            #expect(r.status == 0 && r.stdout.contains("--each <COW>"), "\(verb): \(r.summary)")
            #expect(r.stdout.contains("FILE.<guest name>"), "\(verb): \(r.summary)")
        }
        for verb in ["run", "flatten-rsync", "rebuild-cow", "job"] {
            let r = try runProcess(TestPaths.corral, ["maint", verb, "--help"], environment: Self.environment())
            #expect(r.status == 0, "\(verb): \(r.summary)")
            #expect(!r.stdout.contains("--each") && !r.stdout.contains("guest name>"), "\(verb): \(r.stdout)")
        }
    }

    @Test func validationErrorNamesTheValue() throws {
        let r = try runProcess(TestPaths.corral, ["boot", "--disk", "x", "--dry-run"], environment: Self.environment())
        #expect(r.status == 64, "\(r.summary)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 2, "\(r.summary)")
        #expect(lines.first?.hasPrefix("corral: invalid --disk 'x': ") == true, "\(r.summary)")
        #expect(lines.last == "hint: run 'corral boot --help' for usage")
    }

    @Test func unknownOptionAtTheRoot() throws {
        let r = try runProcess(TestPaths.corral, ["--no-such-option"], environment: Self.environment())
        #expect(r.status == 64)
        #expect(r.stderr == "corral: unknown option '--no-such-option'\nhint: run 'corral --help' for usage\n", "\(r.summary)")
    }

    /// An engine failure: one line naming the file and why, and no trace of
    /// a Swift crash report.
    @Test func engineErrorIsOneLine() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/guest.cow"
        let r = try runProcess(TestPaths.corral, ["cow", "info", missing], environment: Self.environment())
        #expect(r.status == 1, "\(r.summary)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.summary)")
        #expect(lines.first?.hasPrefix("corral: ") == true && lines.first?.contains(missing) == true, "\(r.summary)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "\(r.summary)")
    }

    /// An engine failure with a fix: the hint line names the command.
    @Test func engineErrorCarriesItsHint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corral-doc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(FileManager.default.createFile(atPath: "\(dir)/base.img", contents: Data(count: 1 << 20)))
        try #require(FileManager.default.createFile(atPath: "\(dir)/out.img", contents: nil))
        let created = try runProcess(TestPaths.corral, ["cow", "create", "\(dir)/g.cow", "\(dir)/base.img"])
        #expect(created.status == 0, "\(created.summary)")
        let r = try runProcess(TestPaths.corral, ["cow", "flatten", "\(dir)/g.cow", "\(dir)/out.img"],
                               environment: Self.environment())
        #expect(r.status == 1, "\(r.summary)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 2, "\(r.summary)")
        #expect(lines.first == "corral: \(dir)/out.img: output already exists", "\(r.summary)")
        #expect(lines.last?.hasPrefix("hint: ") == true, "\(r.summary)")
    }

    /// A missing backing for a new COW: no hint about --backing, which is
    /// for a COW whose backing moved.
    @Test func createOverMissingBacking() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corral-doc-\(UUID().uuidString)").path
        let r = try runProcess(TestPaths.corral, ["cow", "create", "\(dir)/g.cow", "\(dir)/missing.img"],
                               environment: Self.environment())
        #expect(r.status == 1, "\(r.summary)")
        #expect(r.stderr == "corral: \(dir)/missing.img: backing file does not exist; a COW can only be made over an existing file\n",
                "\(r.summary)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/g.cow"))
    }

    /// Not a terminal: no escape sequences, whatever TERM says.
    @Test func noColourWhenNotATerminal() throws {
        let r = try runProcess(TestPaths.corral, ["cow", "bogus"], environment: Self.environment())
        #expect(r.status == 64)
        #expect(!r.stderr.contains("\u{1B}["), "\(r.summary)")
    }

    /// On a terminal, colour unless NO_COLOR; script(1) provides the pty.
    @Test(.enabled(if: TestEnvironment.which("script") != nil, "script(1) is not installed (util-linux)"))
    func colourOnlyOnATerminalAndNeverWithNoColor() throws {
        let script = try #require(TestEnvironment.which("script"))
        let command = "\(TestPaths.corral) cow bogus"
        let coloured = try runProcess(script, ["-qec", command, "/dev/null"], environment: Self.environment())
        #expect(coloured.stdout.contains("\u{1B}[1;31mcorral:\u{1B}[0m unexpected argument 'bogus'"), "\(coloured.summary)")
        let plain = try runProcess(script, ["-qec", command, "/dev/null"], environment: Self.environment(["NO_COLOR": "1"]))
        #expect(plain.stdout.contains("corral: unexpected argument 'bogus'"), "\(plain.summary)")
        #expect(!plain.stdout.contains("\u{1B}["), "\(plain.summary)")
    }

    /// `corral --version` names the commit the checkout is at: the binary
    /// under .build/ reads the checkout's .git by itself.
    @Test(.enabled(if: TestEnvironment.which("git") != nil && FileManager.default.fileExists(atPath: "\(TestPaths.packageRoot)/.git"),
                   "needs git and a git checkout"))
    func versionNamesTheCheckoutsCommit() throws {
        let git = try #require(TestEnvironment.which("git"))
        let head = try runProcess(git, ["-C", TestPaths.packageRoot, "rev-parse", "HEAD"])
        try #require(head.status == 0, "not a git checkout: \(head.summary)")
        let hash = head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try runProcess(TestPaths.corral, ["--version"], cwd: "/")
        #expect(r.status == 0)
        #expect(r.stdout == "corral 0.1.0 (commit \(hash.prefix(12)))\n", "\(r.summary)")
    }
}
