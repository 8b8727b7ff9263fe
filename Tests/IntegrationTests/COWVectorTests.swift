import Foundation
import TestSupport
import Testing

/// `corral cow` against COW files the real kernel wrote (and re-encodings the kernel
/// read back). Expected bytes come from the guest's O_DIRECT view or the spec's fixed
/// hashes (cow-format.md section 7), never from corral's own reader.
@Suite("corral cow on kernel vectors", .serialized, .needsKernel)
struct COWVectorTests {
    /// V1 re-encoded by Tests/Fixtures/craft-cow.py (spec 7.2).
    static let reencodings = ["v1_v1_a512", "v1_v2_a512", "v1_v3broken_a4096", "v1_v3_a512", "v1_v3_a65536"]

    struct Geometry: Sendable {
        var version: String
        var alignment: UInt64
        var bitmapOffset: UInt64
        var bitmapLength: UInt64
        var dataOffset: UInt64
        /// nil where the kernel's choice is not reproducible (V5's ext4 writes).
        var dirtySectors: UInt64?
    }

    /// cow-format.md 2.3 and 7.1.
    static let geometry: [String: Geometry] = [
        "v1": Geometry(version: "v3", alignment: 4096, bitmapOffset: 8192, bitmapLength: 2048, dataOffset: 12288, dirtySectors: 76),
        "v2": Geometry(version: "v3", alignment: 4096, bitmapOffset: 8192, bitmapLength: 257, dataOffset: 12288, dirtySectors: 2),
        "v3": Geometry(version: "v3", alignment: 4096, bitmapOffset: 8192, bitmapLength: 2048, dataOffset: 12288, dirtySectors: 256),
        "v4": Geometry(version: "v3", alignment: 4096, bitmapOffset: 8192, bitmapLength: 1_310_721, dataOffset: 1_323_008, dirtySectors: 10),
        "v5": Geometry(version: "v3", alignment: 4096, bitmapOffset: 8192, bitmapLength: 16384, dataOffset: 24576, dirtySectors: nil),
        "v1_v1_a512": Geometry(version: "v1", alignment: 512, bitmapOffset: 280, bitmapLength: 2048, dataOffset: 2560, dirtySectors: 76),
        "v1_v2_a512": Geometry(version: "v2", alignment: 512, bitmapOffset: 4120, bitmapLength: 2048, dataOffset: 6656, dirtySectors: 76),
        "v1_v3broken_a4096": Geometry(version: "v3-broken", alignment: 4096, bitmapOffset: 8192, bitmapLength: 2048, dataOffset: 12288, dirtySectors: 76),
        "v1_v3_a512": Geometry(version: "v3", alignment: 512, bitmapOffset: 4608, bitmapLength: 2048, dataOffset: 6656, dirtySectors: 76),
        "v1_v3_a65536": Geometry(version: "v3", alignment: 65536, bitmapOffset: 65536, bitmapLength: 2048, dataOffset: 131072, dirtySectors: 76),
    ]

    static let mtime2024: Int64 = 1_704_067_200

    @Test("flatten == the kernel's guest view == the spec hash", arguments: ["v1", "v2", "v3", "v5"] + reencodings)
    func flattenMatchesGuestView(name: String) async throws {
        let v = try await KernelVectors.shared.load()[name]
        let dir = try Scratch("corral-it-flatten-\(name)")
        defer { dir.remove() }
        let out = dir.file("flat.img")
        let r = try await runCorralAsync(["cow", "flatten", v.cow, out])
        try #require(r.status == 0, "\(r.summary)")
        #expect(try fileSize(out) == v.size)
        let flat = try sha256(out)
        #expect(flat == v.expectedSHA256)
        let view = try #require(v.guestView)
        #expect(flat == (try sha256(view, limit: v.size)), "flatten differs from what the guest read")
    }

    @Test("info --json reports the spec geometry", arguments: ["v1", "v2", "v3", "v4", "v5"] + reencodings)
    func infoGeometry(name: String) async throws {
        let v = try await KernelVectors.shared.load()[name]
        let want = try #require(Self.geometry[name])
        let info = try await corralInfo(v.cow)
        #expect(info.version == want.version)
        #expect(info.size == v.size)
        #expect(info.sectorSize == 512)
        #expect(info.alignment == want.alignment)
        #expect(info.bitmapOffset == want.bitmapOffset)
        #expect(info.bitmapLength == want.bitmapLength)
        #expect(info.dataOffset == want.dataOffset)
        #expect(info.mtime == Self.mtime2024)
        #expect(info.backingFile == v.backing)
        if let dirty = want.dirtySectors {
            #expect(info.dirtySectors == dirty)
        } else {
            #expect(info.dirtySectors > 0)
        }
        if v.size % 512 == 0 {
            #expect(info.dirtyBytes == info.dirtySectors * 512)
        }
        #expect(info.backing.path == v.backing)
        #expect(info.backing.exists)
        #expect(info.backing.actualSize == v.size)
        #expect(info.backing.actualMtime == Self.mtime2024)
        #expect(info.backing.matches)
    }

    @Test("V5: the flattened ext4 image is a clean filesystem holding the guest's files")
    func v5Filesystem() async throws {
        let v = try await KernelVectors.shared.load()["v5"]
        let dir = try Scratch("corral-it-v5")
        defer { dir.remove() }
        let out = dir.file("flat.img")
        let r = try await runCorralAsync(["cow", "flatten", v.cow, out])
        try #require(r.status == 0, "\(r.summary)")
        let fsck = try runProcess("/sbin/e2fsck", ["-fn", out])
        #expect(fsck.status == 0, "\(fsck.summary)")
        #expect(try shell(#"debugfs -R 'cat /hello.txt' "$1" 2>/dev/null"#, out) == "hello")
        let stat = try shell(#"debugfs -R 'stat /rand.bin' "$1" 2>/dev/null | grep -o 'Size: [0-9]*' | head -1"#, out)
        #expect(stat == "Size: 307200")
    }

    @Test("V2: flatten keeps the partial last sector (1,049,576 B); uml_moo drops it (1,049,088 B)")
    func v2PartialSector() async throws {
        let v = try await KernelVectors.shared.load()["v2"]
        let dir = try Scratch("corral-it-v2")
        defer { dir.remove() }
        let out = dir.file("flat.img")
        let r = try await runCorralAsync(["cow", "flatten", v.cow, out])
        try #require(r.status == 0, "\(r.summary)")
        #expect(try fileSize(out) == 1_049_576)
        let moo = try #require(v.moo)
        #expect(try fileSize(moo) == 1_049_088)
        // uml_moo is right up to where it stops (spec 5.1, M1)
        #expect(try sha256(out, limit: 1_049_088) == (try sha256(moo)))
        // the guest's 'Z' sector 2049: its first 488 bytes are the image's tail
        let tail = try shell(#"tail -c 488 "$1" | tr -d Z | wc -c"#, out)
        #expect(tail == "0")
    }

    @Test("V4 (5 GiB + 1536): flatten matches the spec hash and the guest's pages, and stays sparse")
    func v4BigSparse() async throws {
        let set = try await KernelVectors.shared.load()
        let v = try set["v4"]
        let dir = try Scratch("corral-it-v4")
        defer { dir.remove() }
        let out = dir.file("flat.img")
        let r = try await runCorralAsync(["cow", "flatten", v.cow, out])
        try #require(r.status == 0, "\(r.summary)")
        #expect(try fileSize(out) == 5_368_710_656)
        let allocated = try allocatedBytes(out)
        #expect(allocated <= 16 << 20, "flatten of a sparse 5 GiB image allocated \(allocated) bytes")
        for region in set.v4Regions {
            let got = try shell(
                #"dd if="$1" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none | sha256sum"#,
                out, String(region.offset), String(region.length))
            #expect(String(got.prefix(64)) == (try sha256(region.file)), "bytes at \(region.offset)")
        }
        #expect(try sha256(out) == v.expectedSHA256)
        if let moo = v.moo { #expect(try sha256(moo) == v.expectedSHA256) }
    }

    @Test("commit into a copy of the backing == guest view == uml_moo -d",
          arguments: ["v1", "v2", "v3", "v1_v1_a512", "v1_v2_a512", "v1_v3broken_a4096", "v1_v3_a65536"])
    func commitIntoBackingCopy(name: String) async throws {
        let v = try await KernelVectors.shared.load()[name]
        let dir = try Scratch("corral-it-commit-\(name)")
        defer { dir.remove() }
        // work on copies: commit must not touch the shared vectors
        let cow = dir.file("disk.cow"), ours = dir.file("ours.img"), moos = dir.file("moo.img")
        try shell(#"cp --sparse=always "$1" "$2""#, v.cow, cow)
        try copyKeepingMtime(v.backing, to: ours)
        try copyKeepingMtime(v.backing, to: moos)

        let r = try await runCorralAsync(["cow", "commit", "--backing", ours, cow])
        try #require(r.status == 0, "\(r.summary)")
        #expect(try fileSize(ours) == v.size)
        let committed = try sha256(ours)
        #expect(committed == v.expectedSHA256)
        if let view = v.guestView { #expect(committed == (try sha256(view, limit: v.size))) }

        let moo = try runProcess("/usr/bin/uml_moo", ["-d", "-b", moos, v.cow])
        try #require(moo.status == 0, "uml_moo -d: \(moo.summary)")
        if v.size % 512 == 0 {
            #expect(committed == (try sha256(moos)))
        } else {
            // uml_moo -d skips the partial last sector (M1); the rest must agree
            let whole = v.size / 512 * 512
            #expect(try sha256(ours, limit: whole) == (try sha256(moos, limit: whole)))
        }
    }

    @Test("check: a healthy vector without mixed pages exits 0 with no problems")
    func checkHealthy() async throws {
        let v = try await KernelVectors.shared.load()["v3"]   // 4 KiB-aligned writes only
        let (r, report) = try await corralCheck(v.cow)
        #expect(r.status == 0, "\(r.summary)")
        #expect(report.problems.isEmpty, "\(report.findings.map(\.code))")
        #expect(report.finding("mixed-pages") == nil)
    }

    @Test("check: V1 (single-sector writes) has mixed pages: a warning, exit 0")
    func checkMixedPages() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let (r, report) = try await corralCheck(v.cow)
        #expect(r.status == 0, "\(r.summary)")
        let mixed = try #require(report.finding("mixed-pages"), "\(report.findings.map(\.code))")
        #expect(mixed.severity == "warning")
        #expect(report.problems.isEmpty)
    }

    @Test("check: touching the backing gives mtime-mismatch, exit 1")
    func checkMtimeMismatch() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let dir = try Scratch("corral-it-mtime")
        defer { dir.remove() }
        let backing = dir.file("back.img")
        try copyKeepingMtime(v.backing, to: backing)
        let (before, healthy) = try await corralCheck(v.cow, backing: backing)
        #expect(before.status == 0, "a same-mtime copy is a valid backing: \(before.summary)")
        #expect(healthy.problems.isEmpty)

        try shell(#"touch "$1""#, backing)
        let (r, report) = try await corralCheck(v.cow, backing: backing)
        #expect(r.status == 1, "\(r.summary)")
        #expect(report.finding("mtime-mismatch")?.severity == "problem", "\(report.findings.map(\.code))")
    }

    @Test("check: a grown backing (mtime kept) gives size-mismatch, exit 1")
    func checkSizeMismatch() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let dir = try Scratch("corral-it-size")
        defer { dir.remove() }
        let backing = dir.file("back.img")
        try copyKeepingMtime(v.backing, to: backing)
        try shell(#"truncate -s +512 "$1" && touch -r "$2" "$1""#, backing, v.backing)
        let (r, report) = try await corralCheck(v.cow, backing: backing)
        #expect(r.status == 1, "\(r.summary)")
        #expect(report.finding("size-mismatch")?.severity == "problem", "\(report.findings.map(\.code))")
    }

    @Test("check: a missing backing is reported as backing-missing")
    func checkBackingMissing() async throws {
        let v = try await KernelVectors.shared.load()["v1"]
        let dir = try Scratch("corral-it-missing")
        defer { dir.remove() }
        let (r, report) = try await corralCheck(v.cow, backing: dir.file("gone.img"))
        // a finding, so 1 ("problems found") rather than 2 ("could not check")
        #expect(r.status == 1, "\(r.summary)")
        #expect(report.finding("backing-missing") != nil, "\(report.findings.map(\.code))")
    }

    @Test("flatten and info leave the COW and the backing untouched")
    func readOnlyCommands() async throws {
        let v = try await KernelVectors.shared.load()["v2"]
        let stamp = { (p: String) async throws -> String in try shell(#"stat -c '%s %Y' "$1"; sha256sum < "$1""#, p) }
        let cowBefore = try await stamp(v.cow), backingBefore = try await stamp(v.backing)
        let dir = try Scratch("corral-it-ro")
        defer { dir.remove() }
        _ = try await corralInfo(v.cow)
        _ = try await runCorralAsync(["cow", "flatten", v.cow, dir.file("out.img")])
        _ = try await corralCheck(v.cow)
        #expect(try await stamp(v.cow) == cowBefore)
        #expect(try await stamp(v.backing) == backingBefore)
    }
}
