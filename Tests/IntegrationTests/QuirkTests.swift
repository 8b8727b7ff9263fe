import Foundation
import TestSupport
import Testing

/// The v1/v2 bitmap is one byte short when N mod 8 != 0 (cow-format.md 2.1). The
/// kernel then drops writes to the last sectors and its bitmap word write lands in
/// sector 0's data. corral must read such a file exactly as the kernel does on the
/// next boot, bugs included, wherever the file decides it.
@Suite("v2 short-bitmap quirk", .serialized, .needsKernel)
struct ShortBitmapQuirkTests {
    @Test("3907-sector v2 COW: flatten == the kernel's reboot view wherever the file has a bit")
    func v2ShortBitmap() async throws {
        let vectors = try await KernelVectors.shared.load()
        let dir = try Scratch("corral-it-quirk")
        defer { dir.remove() }
        let back = dir.file("back.img"), base = dir.file("base.cow"), cow = dir.file("quirk.cow")
        // the first 3907 sectors of V1's pattern, with the 2024-01-01 mtime
        try shell(#"head -c 2000384 "$1" > "$2" && touch -r "$1" "$2""#, try vectors["v1"].backing, back)
        let made = try await runCorralAsync(["cow", "create", base, back])
        try #require(made.status == 0, "\(made.summary)")
        let craft = TestPaths.fixtures.appendingPathComponent("craft-cow.py").path
        try shell(#"python3 "$1" "$2" "$3" v2"#, craft, base, cow)

        let info = try await corralInfo(cow)
        #expect(info.version == "v2")
        #expect(info.bitmapOffset == 4120)
        #expect(info.bitmapLength == 488)   // floor(3907/8), not 489
        #expect(info.dataOffset == 4608)

        let first = try await KernelGuest.bootAsync(GuestInit("put A 0 1; put Z 3906 1", reportsStatus: true), in: dir.path,
            disks: [GuestDisk(unit: 1, file: cow).argument])
        try #require(first.status == 0, "\(first.console.suffix(3000))")
        let view = dir.file("view.img")
        let second = try await KernelGuest.bootAsync(GuestInit("dump '\(view)'", reportsStatus: true), in: dir.path,
            disks: [GuestDisk(unit: 1, file: cow, readOnly: true).argument])
        try #require(second.status == 0, "\(second.console.suffix(3000))")

        // The kernel's 16-byte bitmap word write for sector 3906 landed on sector 0's first
        // 16 bytes (bit 2 of byte 0 is the 3906 bit; the rest is in-memory bitmap slack,
        // zero in the spec's run, heap garbage in others). The rest of sector 0 is 'A'.
        let head = try shell(#"head -c 512 "$1" | od -An -tx1 -v | tr -d ' \n'"#, view)
        #expect(head.count == 1024)
        #expect(head.dropFirst(32) == Substring(String(repeating: "41", count: 496)))
        let byte0 = UInt8(head.prefix(2), radix: 16) ?? 0
        #expect(byte0 & 0x04 != 0, "sector 0 starts \(head.prefix(32))")

        // Sectors 0..3903 have bits inside the bitmap: the kernel's reboot view is
        // determined by the file, and corral must match it byte for byte.
        let covered: UInt64 = 3904 * 512
        let out = dir.file("flat.img")
        let r = try await runCorralAsync(["cow", "flatten", "--force", cow, out])
        try #require(r.status == 0, "\(r.summary)")
        #expect(try fileSize(out) == 2_000_384)
        #expect(try sha256(out, limit: covered) == (try sha256(view, limit: covered)))
        // Sectors 3904..3906 have no bit in the file: they are the backing's (spec 2.1),
        // so the guest's 'Z' write is lost. (The kernel reads their bits from
        // uninitialized slack, and uml_moo from past its buffer, so neither is an oracle.)
        let tail = { (p: String) async throws -> String in
            try shell(#"tail -c 1536 "$1" | sha256sum"#, p)
        }
        #expect(try await tail(out) == (try await tail(back)))
        // uml_moo agrees on the covered part
        let moo = try runProcess("/usr/bin/uml_moo", [cow, dir.file("moo.img")])
        #expect(moo.status == 0, "\(moo.summary)")
        #expect(try sha256(dir.file("moo.img"), limit: covered) == (try sha256(view, limit: covered)))
    }
}
