import Foundation
import TestSupport
import Testing

/// The fixture itself: the kernel reproduced the spec's vectors. These run without
/// corral, so they say whether a failure elsewhere is corral's or the fixture's.
@Suite("kernel vector fixture", .serialized, .needsKernel)
struct VectorFixtureTests {
    static let dumped = ["v1", "v2", "v3", "v5"] + COWVectorTests.reencodings

    @Test("the guest's O_DIRECT view is the correct merge", arguments: dumped)
    func guestViewIsExpectedMerge(name: String) async throws {
        let v = try await KernelVectors.shared.load()[name]
        let view = try #require(v.guestView)
        #expect(try fileSize(view) == (v.size + 511) / 512 * 512)
        #expect(try sha256(view, limit: v.size) == v.expectedSHA256)
    }

    @Test("V4: the guest dumped the written pages, the marker and the tail")
    func v4Regions() async throws {
        let set = try await KernelVectors.shared.load()
        #expect(set.v4Regions.count == 3)
        for region in set.v4Regions {
            #expect(try fileSize(region.file) == region.length)
        }
    }

    @Test("re-encodings of V1 carry the layout in their header",
          arguments: zip(COWVectorTests.reencodings, ["v1", "v2", "v3-broken", "v3", "v3"]))
    func reencodedLayout(name: String, layout: String) async throws {
        let v = try await KernelVectors.shared.load()[name]
        #expect(v.layout == layout)
        let head = try shell(#"head -c 16 "$1" | od -An -tx1 | tr -d ' \n'"#, v.cow)
        switch layout {
        case "v1": #expect(head.hasPrefix("4d4f4f4f01000000"))    // "MOOO", LE version 1
        case "v2": #expect(head.hasPrefix("4f4f4f4d00000002"))
        case "v3-broken": #expect(head.hasSuffix("deadbeef"))     // padding at 12..15
        default: #expect(head.hasPrefix("4f4f4f4d00000003"))
        }
    }

    @Test("bootGuest: the kernel creates a COW, writes it, and uml_moo agrees with the dump")
    func bootGuestHelper() async throws {
        let vectors = try await KernelVectors.shared.load()
        let dir = try Scratch("corral-it-boot")
        defer { dir.remove() }
        let back = dir.file("back.img"), cow = dir.file("k.cow"), view = dir.file("view.img")
        try copyKeepingMtime(try vectors["v1"].backing, to: back)
        let guest = try await KernelGuest.bootAsync(GuestInit("put K 42 3; put M 16000 16\ndump '\(view)'", reportsStatus: true), in: dir.path,
            disks: [GuestDisk(unit: 1, file: cow, backing: back).argument])
        try #require(guest.status == 0, "\(guest.console.suffix(3000))")
        #expect(try fileSize(cow) == 12288 + 8_388_608)   // kernel-created: data_offset + S
        let moo = try runProcess("/usr/bin/uml_moo", [cow, dir.file("moo.img")])
        #expect(moo.status == 0, "\(moo.summary)")
        #expect(try sha256(dir.file("moo.img")) == (try sha256(view)))
        #expect(try sha256(view) != (try sha256(back)))
    }
}
