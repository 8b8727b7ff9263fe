import Foundation
import Testing
import TestSupport

/// `corral maint … --dry-run`: the plan (parameters, each disk's preflight,
/// changed true/false/null with its reason) while every file keeps its
/// inode, times and bytes. install-modules answers from a read-only boot.
/// 4 boots.
@Suite(.serialized, .bootsKernel) struct MaintDryRunTests {

    /// inode, mtime (ns), size and sha256: a file nobody wrote.
    func fingerprint(_ path: String) throws -> String {
        try shell(#"stat -c '%i %y %s' "$1""#, path) + " " + sha256(path)
    }

    func plan(_ result: ProcessResult) throws -> [String: Any] {
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        return report["plan"] as? [String: Any] ?? [:]
    }

    @Test func installModulesDryRunBeforeAndAfter() throws {
        let s = try Scratch("corral-dryrun")
        let (tree, release) = (HostModules.tree, HostModules.release)
        let few = try HostModules.few(3, in: s)
        let base = try DiskImage.make(in: s, size: "32M", blockSize: 4096)
        let cow = s("g.cow")
        #expect(try runCorral(["cow", "create", cow, base]).status == 0)
        let args = ["maint", "install-modules", "--cow", cow, "--modules", few]

        // Before: it would change, and says why; nothing was written.
        var before = try [fingerprint(cow), fingerprint(base)]
        let first = try runCorral(args + ["--dry-run", "--json"])
        #expect(first.status == 0, "\(first.summary)")
        var p = try plan(first)
        #expect(p["changed"] as? Bool == true, "\(first.stdout)")
        #expect(p["answeredBy"] as? String == "read-only boot")
        #expect((p["reason"] as? String)?.contains("would create /lib/modules/\(release)") == true, "\(first.stdout)")
        #expect((p["parameters"] as? [String: String])?["modules"] == few)
        let disks = p["disks"] as? [[String: Any]] ?? []
        #expect(disks.count == 1)
        #expect(disks.first?["path"] as? String == cow)
        #expect(disks.first?["writes"] as? Bool == true)
        #expect((disks.first?["preflight"] as? [Any])?.isEmpty == true)
        #expect(try [fingerprint(cow), fingerprint(base)] == before, "a dry run wrote a file")
        #expect(try s.leftovers().isEmpty)

        // The real run, then the dry run: nothing to do, still nothing written.
        #expect(try runCorral(args).status == 0)
        before = try [fingerprint(cow), fingerprint(base)]
        let again = try runCorral(args + ["--dry-run", "--json"])
        #expect(again.status == 0, "\(again.summary)")
        p = try plan(again)
        #expect(p["changed"] as? Bool == false, "\(again.stdout)")
        #expect((p["reason"] as? String)?.contains("already installed") == true)
        #expect(try [fingerprint(cow), fingerprint(base)] == before, "a dry run wrote a file")

        // One more module in the tree: it would write it (people's output).
        try shell(#"cd "$1" && find kernel -name '*.ko' | sort | sed -n 4p | xargs cp --parents -t "$2""#, tree, few)
        let more = try runCorral(args + ["--dry-run"])
        #expect(more.status == 0, "\(more.summary)")
        #expect(more.stdout.contains("would change: yes (read-only boot)"), "\(more.summary)")
        #expect(more.stdout.contains("1 ubdb target '\(cow)' (written): preflight ok"), "\(more.summary)")
        #expect(more.stdout.contains("would write"), "\(more.summary)")
        #expect(try [fingerprint(cow), fingerprint(base)] == before, "a dry run wrote a file")
        #expect(try s.leftovers().isEmpty)
    }

    /// No boot: fsck -n writes nothing; fsck --repair cannot be answered
    /// (null); a broken COW fails the preflight with the disk named; a
    /// flatten-rsync output that already is the source's disk has nothing
    /// to do, in the dry run and in the real job alike.
    @Test func answersWithoutABoot() throws {
        let s = try Scratch("corral-dryrun")
        let base = try DiskImage.make(in: s)
        let cow = s("g.cow")
        #expect(try runCorral(["cow", "create", cow, base]).status == 0)
        let before = try [fingerprint(cow), fingerprint(base)]

        let check = try runCorral(["maint", "fsck", "--cow", cow, "--dry-run", "--json"])
        #expect(check.status == 0, "\(check.summary)")
        #expect(try plan(check)["changed"] as? Bool == false)
        #expect(try plan(check)["answeredBy"] as? String == "preflight")

        let repair = try runCorral(["maint", "fsck", "--cow", cow, "--repair", "--dry-run", "--json"])
        #expect(repair.status == 0, "\(repair.summary)")
        let unknown = try plan(repair)
        #expect(unknown.keys.contains("changed") && unknown["changed"] is NSNull, "\(repair.stdout)")
        #expect((unknown["reason"] as? String)?.contains("cannot tell") == true)

        let flat = s("flat.img")
        #expect(try runCorral(["cow", "flatten", cow, flat]).status == 0)
        let flatBefore = try fingerprint(flat)
        let refused = try runCorral(["maint", "flatten-rsync", "--cow", cow, "--output", flat, "--dry-run", "--json"])
        #expect(refused.status == 1, "\(refused.summary)")
        let output = (try plan(refused)["disks"] as? [[String: Any]])?.first { $0["role"] as? String == "output" }
        #expect((output?["preflight"] as? [[String: Any]])?.first?["message"] as? String
                == "output '\(flat)' already exists; pass --force to reuse it, or choose another path")
        let same = try runCorral(["maint", "flatten-rsync", "--cow", cow, "--output", flat, "--force", "--dry-run", "--json"])
        #expect(same.status == 0, "\(same.summary)")
        #expect(try plan(same)["changed"] as? Bool == false, "\(same.stdout)")
        #expect(try plan(same)["answeredBy"] as? String == "compare")
        let real = try runCorral(["maint", "flatten-rsync", "--cow", cow, "--output", flat, "--force", "--json"])
        #expect(real.status == 0, "\(real.summary)")
        #expect(real.stdout.contains("\"changed\" : false"), "\(real.summary)")
        #expect(try fingerprint(flat) == flatBefore)

        // A COW version no kernel knows.
        let broken = s("broken.cow")
        #expect(try runCorral(["cow", "create", broken, base]).status == 0)
        try shell(#"printf '\117\117\117\115\000\000\000\143' | dd of="$1" conv=notrunc status=none"#, broken)
        let brokenBefore = try fingerprint(broken)
        let bad = try runCorral(["maint", "install-modules", "--cow", broken, "--modules", "/usr/lib/uml/modules/6.1.176",
                                 "--dry-run", "--json"])
        #expect(bad.status == 1, "\(bad.summary)")
        let disk = (try plan(bad)["disks"] as? [[String: Any]])?.first
        let finding = (disk?["preflight"] as? [[String: Any]])?.first
        #expect(finding?["severity"] as? String == "failure")
        #expect((finding?["message"] as? String)?.contains("unknown COW version 99") == true, "\(bad.stdout)")
        #expect(try fingerprint(broken) == brokenBefore)
        #expect(try [fingerprint(cow), fingerprint(base)] == before, "a dry run wrote a file")
        #expect(try s.leftovers().isEmpty)
    }
}
