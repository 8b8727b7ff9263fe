import Foundation
import TestSupport
import Testing

/// `corral cow create`, then the real kernel writes into the new COW, then corral
/// flattens it: the result must be what the guest read back with O_DIRECT.
@Suite("corral cow create + kernel writes", .serialized, .needsKernel)
struct CreateTests {
    @Test("a created COW (8 MiB and odd 1 MiB+1000 backings) is accepted and written by the kernel")
    func kernelWritesIntoCreatedCOW() async throws {
        let vectors = try await KernelVectors.shared.load()
        let dir = try Scratch("corral-it-create")
        defer { dir.remove() }
        let backA = dir.file("a_back.img"), backB = dir.file("b_back.img")
        let cowA = dir.file("a.cow"), cowB = dir.file("b.cow")
        try copyKeepingMtime(try vectors["v1"].backing, to: backA)   // 8 MiB pattern
        try copyKeepingMtime(try vectors["v2"].backing, to: backB)   // 1 MiB + 1000 pattern

        for (cow, back) in [(cowA, backA), (cowB, backB)] {
            let r = try await runCorralAsync(["cow", "create", cow, back])
            try #require(r.status == 0, "create \(cow): \(r.summary)")
        }
        // exact length data_offset + S, sparse (spec 3.3)
        #expect(try fileSize(cowA) == 12288 + 8_388_608)
        #expect(try fileSize(cowB) == 12288 + 1_049_576)
        #expect(try allocatedBytes(cowA) <= 64 << 10)

        let info = try await corralInfo(cowA)
        #expect(info.version == "v3")
        #expect(info.alignment == 4096)
        #expect(info.bitmapOffset == 8192 && info.bitmapLength == 2048 && info.dataOffset == 12288)
        #expect(info.dirtySectors == 0)
        #expect(info.backingFile == backA)
        #expect(info.backing.matches)

        // refuses to overwrite without --force; --force makes a fresh one
        let again = try await runCorralAsync(["cow", "create", cowA, backA])
        #expect(again.status != 0, "create over an existing file must fail: \(again.summary)")
        let forced = try await runCorralAsync(["cow", "create", "--force", cowA, backA])
        #expect(forced.status == 0, "\(forced.summary)")

        let viewA = dir.file("a_view.img"), viewB = dir.file("b_view.img")
        // the kernel creates k.cow over the same backing, for a header comparison
        let cowK = dir.file("k.cow")
        let guest = try await KernelGuest.bootAsync(GuestInit("""
            put A 0 1; put B 7 2; put C 4000 17; put zero 9000 3; put D 16383 1
            dd if=/dev/zero bs=65536 count=1 2>/dev/null | tr '\\0' Q |
              dd of=/dev/ubdb bs=65536 seek=32 count=1 iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
            dump '\(viewA)'
            put Y 3 1 /dev/ubdc; put Z 2049 1 /dev/ubdc
            dump '\(viewB)' /dev/ubdc
            blockdev --getsize64 /dev/ubdd >/dev/null
            """, reportsStatus: true), in: dir.path,
            disks: [GuestDisk(unit: 1, file: cowA, backing: backA), GuestDisk(unit: 2, file: cowB, backing: backB),
                    GuestDisk(unit: 3, file: cowK, backing: backA)].map(\.argument))
        try #require(guest.status == 0, "guest script failed; console:\n\(guest.console.suffix(3000))")

        // the writes reached the COW, not the backing
        #expect(try sha256(backA) == (try sha256(try vectors["v1"].backing)))
        #expect(try sha256(viewA) != (try sha256(backA)))
        #expect(try await corralInfo(cowA).dirtySectors == 1 + 2 + 17 + 3 + 1 + 128)
        #expect(try await corralInfo(cowB).dirtySectors == 2)

        for (cow, view, size) in [(cowA, viewA, UInt64(8_388_608)), (cowB, viewB, UInt64(1_049_576))] {
            let out = cow + ".flat"
            let r = try await runCorralAsync(["cow", "flatten", cow, out])
            try #require(r.status == 0, "\(r.summary)")
            #expect(try fileSize(out) == size)
            #expect(try sha256(out) == (try sha256(view, limit: size)), "flatten of \(cow)")
        }
        // corral's header is the kernel's: the same bytes up to the path's NUL (the kernel
        // leaves heap garbage after it, spec 1.7), the same length, the same sparseness
        let fresh = dir.file("fresh.cow")
        let made = try await runCorralAsync(["cow", "create", fresh, backA])
        try #require(made.status == 0, "\(made.summary)")
        let meaningful = String(32 + backA.utf8.count + 1)
        let same = try shellResult(#"cmp -n "$3" "$1" "$2""#, fresh, cowK, meaningful)
        #expect(same.status == 0, "header differs from the kernel's: \(same.summary)")
        #expect(try fileSize(fresh) == (try fileSize(cowK)))
        // after the NUL: corral's 66-byte backing fingerprint record (room the kernel ignores), then zeros
        let record = 32 + backA.utf8.count + 1
        let tag = try shell(#"tail -c +"$2" "$1" | head -c 9"#, fresh, String(record + 1))
        #expect(tag == "CORRALFP1", "corral records the backing's fingerprint after the path's NUL")
        let zeros = try shell(#"tail -c +"$2" "$1" | head -c $((8192 - $2 + 1)) | tr -d '\000' | wc -c"#, fresh, String(record + 66 + 1))
        #expect(zeros == "0", "corral's header padding must be zero")

        // uml_moo reads corral's header the same way (A has no partial sector)
        let moo = try runProcess("/usr/bin/uml_moo", [cowA, dir.file("a_moo.img")])
        #expect(moo.status == 0, "\(moo.summary)")
        #expect(try sha256(dir.file("a_moo.img")) == (try sha256(viewA)))
    }
}

/// What `check` calls a problem is what makes the kernel refuse the disk.
@Suite("corral cow check agrees with the kernel", .serialized, .needsKernel)
struct CheckAgainstKernelTests {
    @Test("healthy opens; touched backing (mtime-mismatch) and grown backing (size-mismatch) are refused")
    func checkPredictsKernelRefusal() async throws {
        let vectors = try await KernelVectors.shared.load()
        let dir = try Scratch("corral-it-refuse")
        defer { dir.remove() }
        let cases = ["ok", "touched", "grown"]
        for name in cases {
            try copyKeepingMtime(try vectors["v1"].backing, to: dir.file("\(name).img"))
            let r = try await runCorralAsync(["cow", "create", dir.file("\(name).cow"), dir.file("\(name).img")])
            try #require(r.status == 0, "\(r.summary)")
        }
        try shell(#"touch -d '2025-06-01 12:00:00 UTC' "$1""#, dir.file("touched.img"))
        try shell(#"truncate -s +4096 "$1" && touch -r "$2" "$1""#, dir.file("grown.img"), dir.file("ok.img"))

        let expected: [String: (status: Int32, code: String?)] = [
            "ok": (0, nil), "touched": (1, "mtime-mismatch"), "grown": (1, "size-mismatch"),
        ]
        for name in cases {
            let (r, report) = try await corralCheck(dir.file("\(name).cow"))
            let want = try #require(expected[name])
            #expect(r.status == want.status, "\(name): \(r.summary)")
            if let code = want.code {
                #expect(report.finding(code)?.severity == "problem", "\(name): \(report.findings.map(\.code))")
            } else {
                #expect(report.problems.isEmpty, "\(name): \(report.findings.map(\.code))")
            }
        }

        let disks = cases.enumerated().map { i, name in
            GuestDisk(unit: i + 1, file: dir.file("\(name).cow"), backing: dir.file("\(name).img"))
        }
        let outcome = dir.file("outcome.txt")
        let probe = disks.map { d in
            "if blockdev --getsize64 \(d.device) >/dev/null 2>&1; then echo opened; else echo refused; fi >> '\(outcome)'"
        }.joined(separator: "\n")
        let guest = try await KernelGuest.bootAsync(GuestInit(probe, reportsStatus: true), in: dir.path,
            disks: disks.map(\.argument))
        try #require(guest.status == 0, "\(guest.console.suffix(3000))")
        let seen = try String(contentsOfFile: outcome, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(seen == ["opened", "refused", "refused"], "kernel console:\n\(guest.console.suffix(3000))")
        #expect(guest.console.contains("mtime mismatch"))
        #expect(guest.console.contains("Size mismatch"))
    }
}

/// The kernel writes into V1's re-encodings (v1, v2, broken v3, other alignments):
/// corral must find the new sectors where the kernel put them (spec 7.2).
@Suite("kernel writes into old layouts", .serialized, .needsKernel)
struct OldLayoutWriteTests {
    @Test("after kernel writes, flatten of every layout == the guest's O_DIRECT view")
    func kernelWritesOldLayouts() async throws {
        let vectors = try await KernelVectors.shared.load()
        let dir = try Scratch("corral-it-layouts")
        defer { dir.remove() }
        var disks: [GuestDisk] = []
        var script: [String] = []
        for (i, name) in COWVectorTests.reencodings.enumerated() {
            let v = try vectors[name]
            let cow = dir.file("\(name).cow")
            try shell(#"cp --sparse=always "$1" "$2""#, v.cow, cow)
            // the header names V1's backing, which the kernel opens read-only
            let disk = GuestDisk(unit: i + 1, file: cow)
            disks.append(disk)
            script.append("put S 12000 2 \(disk.device); put T 16383 1 \(disk.device); put U 7 1 \(disk.device)")
            script.append("dump '\(dir.file("\(name).view"))' \(disk.device)")
        }
        let guest = try await KernelGuest.bootAsync(GuestInit(script.joined(separator: "\n"), reportsStatus: true), in: dir.path,
            disks: disks.map(\.argument))
        try #require(guest.status == 0, "\(guest.console.suffix(3000))")

        var views: Set<String> = []
        for name in COWVectorTests.reencodings {
            let cow = dir.file("\(name).cow"), view = dir.file("\(name).view"), out = dir.file("\(name).flat")
            views.insert(try sha256(view))
            let info = try await corralInfo(cow)
            #expect(info.version == (try vectors[name]).layout, "the kernel must not rewrite the header")
            #expect(info.dirtySectors == 76 + 2 + 1, "\(name)")   // 16383 was already set
            let r = try await runCorralAsync(["cow", "flatten", cow, out])
            try #require(r.status == 0, "\(r.summary)")
            #expect(try sha256(out) == (try sha256(view)), "\(name)")
        }
        #expect(views.count == 1, "every layout must show the guest the same disk")
        #expect(!views.contains(try vectors["v1"].expectedSHA256), "the writes must show")
    }
}

/// Output safety (spec 6.24, M5) and refusal of a mismatching backing.
@Suite("corral cow flatten/commit safety", .serialized, .needsKernel)
struct SafetyTests {
    @Test("flatten never overwrites its backing, and replaces an existing output only with --force")
    func flattenOutputSafety() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let dir = try Scratch("corral-it-safety")
        defer { dir.remove() }
        let backing = dir.file("back.img")
        try copyKeepingMtime(v.backing, to: backing)
        let before = try sha256(backing)
        for force in [[], ["--force"]] {
            let r = try await runCorralAsync(["cow", "flatten", "--backing", backing] + force + [v.cow, backing])
            #expect(r.status != 0, "flatten onto its own backing must fail \(force): \(r.summary)")
            #expect(try sha256(backing) == before)
        }
        // the same file under another name (hard link) is still the backing
        try shell(#"ln "$1" "$2""#, backing, dir.file("alias.img"))
        let alias = try await runCorralAsync(["cow", "flatten", "--backing", backing, "--force", v.cow, dir.file("alias.img")])
        #expect(alias.status != 0, "\(alias.summary)")
        #expect(try sha256(backing) == before)

        let out = dir.file("out.img")
        try "keep me".write(toFile: out, atomically: true, encoding: .utf8)
        let refused = try await runCorralAsync(["cow", "flatten", v.cow, out])
        #expect(refused.status != 0, "\(refused.summary)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "keep me")
        let forced = try await runCorralAsync(["cow", "flatten", "--force", v.cow, out])
        #expect(forced.status == 0, "\(forced.summary)")
        #expect(try sha256(out) == v.expectedSHA256)
    }

    @Test("flatten --backing: a same-mtime copy works; a touched one needs --force; a missing one leaves no output")
    func flattenBackingOverride() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let dir = try Scratch("corral-it-override")
        defer { dir.remove() }
        let copy = dir.file("copy.img"), touched = dir.file("touched.img")
        try copyKeepingMtime(v.backing, to: copy)
        try copyKeepingMtime(v.backing, to: touched)
        try shell(#"touch "$1""#, touched)

        let ok = try await runCorralAsync(["cow", "flatten", "--backing", copy, v.cow, dir.file("a.img")])
        try #require(ok.status == 0, "\(ok.summary)")
        #expect(try sha256(dir.file("a.img")) == v.expectedSHA256)

        let refused = try await runCorralAsync(["cow", "flatten", "--backing", touched, v.cow, dir.file("b.img")])
        #expect(refused.status != 0, "a backing with another mtime must be refused: \(refused.summary)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("b.img")))
        let forced = try await runCorralAsync(["cow", "flatten", "--force", "--backing", touched, v.cow, dir.file("b.img")])
        #expect(forced.status == 0, "\(forced.summary)")
        #expect(try sha256(dir.file("b.img")) == v.expectedSHA256)

        let missing = try await runCorralAsync(["cow", "flatten", "--backing", dir.file("gone.img"), v.cow, dir.file("c.img")])
        #expect(missing.status != 0, "\(missing.summary)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("c.img")), "no partial output after a failure")
    }

    @Test("commit refuses a backing whose mtime differs from the header, and leaves it alone")
    func commitRefusesMismatch() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let dir = try Scratch("corral-it-commit-refuse")
        defer { dir.remove() }
        let cow = dir.file("disk.cow"), backing = dir.file("back.img")
        try shell(#"cp --sparse=always "$1" "$2""#, v.cow, cow)
        try copyKeepingMtime(v.backing, to: backing)
        try shell(#"touch "$1""#, backing)
        let before = try sha256(backing)
        let r = try await runCorralAsync(["cow", "commit", "--backing", backing, cow])
        #expect(r.status != 0, "\(r.summary)")
        #expect(try sha256(backing) == before)
    }
}
