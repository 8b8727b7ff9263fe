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
