import Foundation
import Testing

/// `corral cow create`, then the real kernel writes into the new COW, then corral
/// flattens it: the result must be what the guest read back with O_DIRECT.
@Suite("corral cow create + kernel writes", .serialized, .needsKernel)
struct CreateTests {
    @Test("a created COW (8 MiB and odd 1 MiB+1000 backings) is accepted and written by the kernel")
    func kernelWritesIntoCreatedCOW() async throws {
        let vectors = try await KernelVectors.shared.load()
        let dir = try ScratchDir("create")
        defer { dir.remove() }
        let backA = dir.file("a_back.img"), backB = dir.file("b_back.img")
        let cowA = dir.file("a.cow"), cowB = dir.file("b.cow")
        try await copyKeepingMtime(try vectors["v1"].backing, to: backA)   // 8 MiB pattern
        try await copyKeepingMtime(try vectors["v2"].backing, to: backB)   // 1 MiB + 1000 pattern

        for (cow, back) in [(cowA, backA), (cowB, backB)] {
            let r = try await runCorral(["cow", "create", cow, back])
            try #require(r.status == 0, "create \(cow): \(r.summary)")
        }
        // exact length data_offset + S, sparse (spec 3.3)
        #expect(try fileSize(cowA) == 12288 + 8_388_608)
        #expect(try fileSize(cowB) == 12288 + 1_049_576)
        #expect(try await allocatedBytes(cowA) <= 64 << 10)

        let info = try await corralInfo(cowA)
        #expect(info.version == "v3")
        #expect(info.alignment == 4096)
        #expect(info.bitmapOffset == 8192 && info.bitmapLength == 2048 && info.dataOffset == 12288)
        #expect(info.dirtySectors == 0)
        #expect(info.backingFile == backA)
        #expect(info.backing.matches)

        // refuses to overwrite without --force; --force makes a fresh one
        let again = try await runCorral(["cow", "create", cowA, backA])
        #expect(again.status != 0, "create over an existing file must fail: \(again.summary)")
        let forced = try await runCorral(["cow", "create", "--force", cowA, backA])
        #expect(forced.status == 0, "\(forced.summary)")

        let viewA = dir.file("a_view.img"), viewB = dir.file("b_view.img")
        let guest = try await bootGuest(script: """
            put A 0 1; put B 7 2; put C 4000 17; put zero 9000 3; put D 16383 1
            dd if=/dev/zero bs=65536 count=1 2>/dev/null | tr '\\0' Q |
              dd of=/dev/ubdb bs=65536 seek=32 count=1 iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
            dump '\(viewA)'
            put Y 3 1 /dev/ubdc; put Z 2049 1 /dev/ubdc
            dump '\(viewB)' /dev/ubdc
            """,
            disks: [GuestDisk(unit: 1, file: cowA, backing: backA), GuestDisk(unit: 2, file: cowB, backing: backB)],
            workDir: dir.path)
        try #require(guest.status == 0, "guest script failed; console:\n\(guest.console.suffix(3000))")

        // the writes reached the COW, not the backing
        #expect(try await sha256(backA) == (try await sha256(try vectors["v1"].backing)))
        #expect(try await sha256(viewA) != (try await sha256(backA)))
        #expect(try await corralInfo(cowA).dirtySectors == 1 + 2 + 17 + 3 + 1 + 128)
        #expect(try await corralInfo(cowB).dirtySectors == 2)

        for (cow, view, size) in [(cowA, viewA, UInt64(8_388_608)), (cowB, viewB, UInt64(1_049_576))] {
            let out = cow + ".flat"
            let r = try await runCorral(["cow", "flatten", cow, out])
            try #require(r.status == 0, "\(r.summary)")
            #expect(try fileSize(out) == size)
            #expect(try await sha256(out) == (try await sha256(view, limit: size)), "flatten of \(cow)")
        }
        // uml_moo reads corral's header the same way (A has no partial sector)
        let moo = try await run("/usr/bin/uml_moo", [cowA, dir.file("a_moo.img")])
        #expect(moo.status == 0, "\(moo.summary)")
        #expect(try await sha256(dir.file("a_moo.img")) == (try await sha256(viewA)))
    }
}
