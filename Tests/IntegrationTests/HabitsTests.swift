import Foundation
import TestSupport
import Testing

/// Habits users bring from virtme-ng and qemu-img: `boot -- CMD` runs CMD,
/// a usage mistake is always 64, and scripts get JSON with the output in it.
@Suite("habits from vng and qemu-img", .serialized)
struct HabitsTests {
    @Test(.needsKernel) func bootRunsTheCommandAfterTheTerminator() throws {
        let r = try runCorral(["boot", "--timeout", "60", "--", "sh", "-c", "echo from-$((40 + 2))"])
        #expect(r.status == 0, "\(r.summary)")
        #expect(r.stdout == "from-42\n", "\(r.summary)")
        // Raw kernel arguments have their own option now.
        let dry = try runCorral(["boot", "--dry-run", "--nonce", "ab", "--kernel-arg", "loglevel=4", "--", "ls", "/"])
        #expect(dry.status == 0, "\(dry.summary)")
        #expect(dry.stdout.contains("loglevel=4\n") && dry.stdout.contains("corral_cmd=ls\\0040/"), "\(dry.stdout)")
    }

    @Test func bootWithoutTheTerminatorGetsAHint() throws {
        let r = try runCorral(["boot", "ls", "/"])
        #expect(r.status == 64, "\(r.summary)")
        #expect(r.stderr.contains("hint: to run a command in the guest, put it after --: corral boot -- ls /"), "\(r.summary)")
    }

    @Test func usageMistakesExit64() throws {
        let cases: [[String]] = [
            ["boot", "--memory", "10X", "--command", "true"],
            // More than any test host's RAM: refused while parsing, not at preflight (240).
            ["boot", "--memory", "65536G", "--command", "true"],
            ["maint", "run", "--memory", "65536G", "--", "true"],
            ["boot", "--kernel", "/nonexistent/linux", "--command", "true"],
            ["boot", "--kernel", "no-such-kernel-on-path", "--command", "true"],
            ["boot", "--command", "true", "--", "false"],
            ["maint", "fsck", "--cow", "x.cow", "--memory", "10X"],
            ["maint", "fsck", "--cow", "x.cow", "--kernel", "/nonexistent/linux"],
            ["maint", "run", "--kernel", "no-such-kernel-on-path", "--", "true"],
            ["cow", "info", "--output", "yaml", "x.cow"],
        ]
        for arguments in cases {
            let r = try runCorral(arguments)
            #expect(r.status == 64, "\(arguments): \(r.summary)")
            #expect(r.stderr.split(separator: "\n").first?.hasPrefix("corral: ") == true, "\(arguments): \(r.summary)")
        }
        // Memory the host cannot back: one line that says what to give instead.
        let big = try runCorral(["boot", "--memory", "65536G", "--command", "true"])
        let lines = big.stderr.split(separator: "\n").filter { !$0.hasPrefix("hint: ") && !$0.isEmpty }
        #expect(lines.count == 1 && lines[0].contains("can back; give at most --memory "), "\(big.summary)")
    }

    /// Every other mistake on a `boot` or `maint` command line that no host
    /// could fix: 64 with one `corral:` line, never the 240 of a preflight
    /// failure or the 1 of a failed job.
    @Test func commandLineMistakesOfBootAndMaintExit64() throws {
        let dir = try Scratch("corral-usage64")
        _ = FileManager.default.createFile(atPath: dir.file("d.img"), contents: Data(count: 4096))
        let img = dir.file("d.img")
        let cases: [(arguments: [String], says: String)] = [
            (["maint", "job", "fsck"], "template 'fsck' needs parameter 'cow'; give it with --set cow=VALUE"),
            (["maint", "job", "fsck", "--set", "cow="], "give its path with --set cow=FILE"),
            (["maint", "job", "fsck", "--set", "cow=\(img)", "--set", "bogus=1"], "template 'fsck' has no parameter 'bogus'"),
            (["maint", "job", "no-such-template"], "no template named 'no-such-template'"),
            (["maint", "show", "no-such-template"], "no template named 'no-such-template'"),
            (["maint", "list", "--templates", dir.file("no-such-dir")], "is not a directory"),
            (["maint", "run", "--disk", "1=\(img)", "--disk", "1=\(img)", "--", "true"], "ubd unit 1 is given twice"),
            (["maint", "shell", "--disk", "1=\(img)", "--disk", "1=\(img)"], "ubd unit 1 is given twice"),
            (["boot", "--root", "relative", "--command", "true"], "invalid --root 'relative'"),
            (["boot", "--root", "ubd3", "--command", "true"], "no --disk 3=FILE gives that unit"),
            (["boot", "--disk", "1=\(img)", "--disk", "1=\(img)", "--command", "true"], "ubd unit 1 is given twice"),
            (["boot", "--umid", "bad/id", "--command", "true"], "invalid --umid"),
            (["boot", "--init", "/bin/sh", "--command", "true"], "--command needs corral's hostfs-init"),
            (["boot", "--kernel-arg", "a b", "--command", "true"], "contains whitespace"),
            (["boot", "--disk", "1=\(dir.file("a b.img"))", "--command", "true"], "contains whitespace"),
            (["boot", "--command", ""], "--command is empty"),
            // A later init= would replace hostfs-init: the boot waited forever
            // for its command (--dry-run, so the old code printed instead of hanging).
            (["boot", "--dry-run", "--kernel-arg", "init=/bin/sh", "--command", "true"], "corral sets init= itself; use --init PATH"),
            (["boot", "--kernel-arg", "corral_cmd=x"], "hostfs-init's protocol"),
        ]
        for c in cases {
            let r = try runCorral(c.arguments, cwd: dir.path)
            #expect(r.status == 64, "\(c.arguments): \(r.summary)")
            #expect(r.stdout.isEmpty, "\(c.arguments): \(r.summary)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.first?.hasPrefix("corral: ") == true && lines.first?.contains(c.says) == true, "\(c.arguments): \(r.summary)")
            #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("hint: ") }, "\(c.arguments): \(r.summary)")
        }
        // The missing parameter is the whole message: one line, nothing else.
        let missing = try runCorral(["maint", "job", "fsck"], cwd: dir.path)
        #expect(missing.stderr == "corral: template 'fsck' needs parameter 'cow'; give it with --set cow=VALUE (see corral maint show fsck)\n", "\(missing.summary)")
    }

    @Test(.needsKernel) func jsonCarriesTheOutput() throws {
        let dir = try Scratch("corral-json")
        let boot = try runCorral(["boot", "--json", "--log", dir.file("boot.log"), "--", "sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(boot.status == 3, "\(boot.summary)")
        let b = try #require(try JSONSerialization.jsonObject(with: Data(boot.stdout.utf8)) as? [String: Any], "\(boot.stdout)")
        #expect(b["status"] as? Int == 3)
        #expect(b["output"] as? String == "out\nerr\n", "\(b)")
        #expect(b["transcript"] as? String == dir.file("boot.log"))
        #expect((b["duration"] as? Double).map { $0 > 0 } == true)
        #expect(b["changed"] as? Bool == false)
        #expect(b.keys.contains("reason"))

        let run = try runCorral(["maint", "run", "--json", "--", "echo kept-in-json"])
        #expect(run.status == 0, "\(run.summary)")
        let m = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        #expect(m["output"] as? String == "kept-in-json\n", "\(m)")

        let show = try runCorral(["maint", "show", "--output=json", "fsck"])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any], "\(show.summary)")
        #expect(s["name"] as? String == "fsck")
        let parameters = s["parameters"] as? [[String: Any]] ?? []
        #expect(parameters.first { $0["name"] as? String == "cow" }?["required"] as? Bool == true, "\(parameters)")
    }
}
