import COWEngine
import Foundation
import Testing
import TestSupport
@testable import Maintenance

/// Each ``StagedDisk/Strategy`` on real files, without a boot: what the
/// kernel would be given, what the commit does, and that nothing is left
/// behind when a staged disk is dropped.
@Suite struct StagedDiskTests {
    static let source = TemplateDisk(unit: 1, role: .source, parameter: "disk")
    static let target = TemplateDisk(unit: 1, role: .target, parameter: "disk")

    /// A 4 MiB ext image (`block`-byte blocks) and a COW over it.
    static func guest(_ s: Scratch, block: Int = 4096) throws -> (base: String, cow: String) {
        let base = s("base.img")
        try shell(#"mkfs.ext4 -q -F -b "$2" "$1" 4M"#, base, String(block))
        let cow = s("g.cow")
        _ = try Create.run(cow: cow, backing: base)
        return (base, cow)
    }

    /// Marks `sectors` as COW-held and fills them with `byte`, as a guest's writes would.
    static func write(_ cow: String, sectors: [UInt64], byte: UInt8) throws {
        let file = try COWFile(path: cow, writable: true)
        for sector in sectors {
            try file.file.write([UInt8](repeating: byte, count: 512), at: file.geometry.dataOffset + sector * 512)
            var bits = [UInt8](repeating: 0, count: 1)
            _ = try file.file.read(into: &bits, at: file.geometry.bitmapOffset + sector / 8)
            bits[0] |= 1 << UInt8(sector % 8)
            try file.file.write(bits, at: file.geometry.bitmapOffset + sector / 8)
        }
    }

    static func flatten(_ cow: String, _ s: Scratch, name: String) throws -> String {
        let out = s(name)
        _ = try Flatten.run(cow: cow, output: out)
        return out
    }

    @Test func aCleanSourceIsTheOriginalReadOnly() throws {
        let s = try Scratch("staged")
        let (_, cow) = try Self.guest(s)
        let staged = try StagedDisk.source(Self.source, path: cow)
        guard case .original = staged.strategy else { Issue.record("\(staged.strategy)"); return }
        #expect(staged.attached == cow && staged.readOnly)
        #expect(staged.attachedDisk?.cow != nil && staged.attachedDisk?.survey?.mixedPages == 0)
        #expect(try staged.commit() == nil)
    }

    /// A mixed page: the guest reads a normalized copy, the original keeps
    /// its bytes, and the copy goes away with the staged disk.
    @Test func aSourceWithMixedPagesIsReadThroughANormalizedScratchCopy() throws {
        let s = try Scratch("staged")
        let (_, cow) = try Self.guest(s)
        try Self.write(cow, sectors: [100], byte: 0xAB)
        let before = try sha256(cow)
        let view = try Self.flatten(cow, s, name: "view.img")
        do {
            let staged = try StagedDisk.source(Self.source, path: cow)
            guard case .scratch = staged.strategy else { Issue.record("\(staged.strategy)"); return }
            #expect(staged.attached != cow && staged.readOnly)
            #expect(staged.notes.first?.contains("1 mixed page(s) made whole") == true, "\(staged.notes)")
            #expect(try COWInfo.read(path: staged.attached).mixedPages == 0)
            #expect(try sha256(Self.flatten(staged.attached, s, name: "copy.img")) == sha256(view))
        }
        #expect(try sha256(cow) == before)
        #expect(try s.leftovers().isEmpty)
    }

    /// A target works on a copy: the original is untouched until the
    /// commit, which renames the copy over it; dropped uncommitted, the
    /// copy is gone and the original as it was.
    @Test func aTargetIsACopyRenamedOverTheOriginalOnlyByTheCommit() throws {
        let s = try Scratch("staged")
        let (_, cow) = try Self.guest(s)
        let before = try sha256(cow)
        do {
            let dropped = try StagedDisk.target(Self.target, path: cow, inPlace: false)
            try Self.write(dropped.attached, sectors: [8], byte: 0x11)
        }
        #expect(try sha256(cow) == before)
        #expect(try s.leftovers().isEmpty)

        let staged = try StagedDisk.target(Self.target, path: cow, inPlace: false)
        guard case .replacement = staged.strategy else { Issue.record("\(staged.strategy)"); return }
        #expect(!staged.readOnly && staged.attached != cow)
        try Self.write(staged.attached, sectors: [8], byte: 0x22)
        #expect(try sha256(cow) == before)
        try staged.commit()
        #expect(try COWInfo.read(path: cow).dirtySectors == 1)
        #expect(try s.leftovers().isEmpty)
    }

    @Test func anInPlaceTargetIsTheOriginalWritable() throws {
        let s = try Scratch("staged")
        let (_, cow) = try Self.guest(s)
        try Self.write(cow, sectors: [100], byte: 0xAB)
        let staged = try StagedDisk.target(Self.target, path: cow, inPlace: true)
        guard case .original = staged.strategy else { Issue.record("\(staged.strategy)"); return }
        #expect(staged.attached == cow && !staged.readOnly)
        #expect(try COWInfo.read(path: cow).mixedPages == 0, "mixed pages are normalized in place")
        #expect(staged.attachedDisk?.survey?.mixedPages == 0, "the boot is handed the survey after normalizing")
    }

    /// A small-block COW source is read through a flat image written
    /// through the descriptor that created it: the name the kernel opens
    /// is that file, and the process holds no descriptor to a deleted
    /// `.corral-flat` file (the old flatCopy unlinked its file and let
    /// Flatten create the name again).
    @Test func aSmallBlockSourceIsAFlatImageWrittenThroughItsOwnDescriptor() throws {
        let s = try Scratch("staged")
        let (_, cow) = try Self.guest(s, block: 1024)
        try Self.write(cow, sectors: [2000], byte: 0x5A)
        let view = try Self.flatten(cow, s, name: "view.img")
        do {
            let staged = try StagedDisk.source(Self.source, path: cow)
            guard case .scratch = staged.strategy else { Issue.record("\(staged.strategy)"); return }
            #expect(staged.backing == nil && staged.readOnly)
            #expect(try sha256(staged.attached) == sha256(view))
            let deleted = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")
            }.filter { $0.contains(".corral-flat") && $0.hasSuffix("(deleted)") }
            #expect(deleted.isEmpty, "descriptors to a deleted flat image: \(deleted)")
        }
        #expect(try s.leftovers().isEmpty)
    }

    /// A small-block target: the guest works on a flat image; the commit
    /// rebuilds the COW from it over the same backing.
    @Test func aSmallBlockTargetIsRebuiltFromItsFlatImage() throws {
        let s = try Scratch("staged")
        let (base, cow) = try Self.guest(s, block: 1024)
        let staged = try StagedDisk.target(Self.target, path: cow, inPlace: false)
        guard case .rebuild(_, let backing, true) = staged.strategy else { Issue.record("\(staged.strategy)"); return }
        #expect(backing == base && staged.backing == nil)
        let image = try OpenFile(staged.attached, flags: O_RDWR)
        try image.write([UInt8](repeating: 0x77, count: 4096), at: 1024 * 1024)
        let built = try #require(try staged.commit())
        #expect(built.pages == 1)
        #expect(try COWInfo.read(path: cow).dirtyBytes == 4096)
    }

    @Test func anOutputIsNewAndAnExistingOneNeedsForce() throws {
        let s = try Scratch("staged")
        let (base, cow) = try Self.guest(s)
        let output = TemplateDisk(unit: 2, role: .output, parameter: "output", sizeOf: "cow")
        let out = s("out.img")
        do {
            let dropped = try StagedDisk.output(output, path: out, size: 1 << 20, cowBacking: nil, force: false, inputs: [])
            let size = try FileStatus.of(dropped.attached)?.size
            #expect(dropped.isNew && size == 1 << 20)
        }
        #expect(try FileStatus.of(out) == nil)
        #expect(try s.leftovers().isEmpty)
        let staged = try StagedDisk.output(output, path: out, size: 1 << 20, cowBacking: nil, force: false, inputs: [])
        guard case .replacement = staged.strategy else { Issue.record("\(staged.strategy)"); return }
        try staged.commit()
        #expect(try FileStatus.of(out)?.size == 1 << 20)

        #expect(throws: MaintenanceError.outputExists(path: out)) {
            try StagedDisk.output(output, path: out, size: 1 << 20, cowBacking: nil, force: false, inputs: [])
        }
        let input = try #require(try FileStatus.of(cow))
        #expect(throws: EngineError.self) {
            try StagedDisk.output(output, path: cow, size: nil, cowBacking: nil, force: true, inputs: [(input, "--cow")])
        }
        let cowOutput = TemplateDisk(unit: 2, role: .output, parameter: "output", cowOver: "backing")
        let newCOW = try StagedDisk.output(cowOutput, path: s("new.cow"), size: nil, cowBacking: base, force: false, inputs: [])
        guard case .rebuild(_, base, false) = newCOW.strategy else { Issue.record("\(newCOW.strategy)"); return }
        #expect(try newCOW.commit()?.pages == 0)
        #expect(try COWInfo.read(path: s("new.cow")).backingFile == base)
    }
}
