#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem
import Launcher

/// One disk of a job, made ready to attach: the file the kernel opens (the
/// original, a normalized copy, a transactional copy or a new output) and
/// what to do with it when the job ends.
///
/// Why copies: the 6.1 kernel misreads 4 KiB pages that mix COW and backing
/// sectors (spec §4.7), so a filesystem-level job must never read such a
/// COW; and a job that changes a guest must leave it untouched when any step
/// fails. Temporary files live next to the original (same filesystem, so
/// the final rename is atomic, and the COW header's backing path resolves
/// the same way) and are removed when the value is dropped uncommitted.
final class StagedDisk {
    let declaration: TemplateDisk
    /// The user's file.
    let original: String
    /// What the kernel opens.
    let attached: String
    let readOnly: Bool
    /// A backing given on the command line (`run --disk N=COW,BACKING`).
    let backing: String?
    /// Renamed over `original` by ``commit()``; nil when the job works on
    /// the original or a throwaway copy.
    private let output: AtomicOutput?
    /// A throwaway copy (normalized source), removed in any case.
    private let scratch: TemporaryFile?
    /// A flat raw image the guest works on instead of a COW (removed in any
    /// case), and how its result becomes the user's file.
    private let flat: TemporaryFile?
    private let rebuild: (@Sendable () throws -> Void)?
    /// A read lock on the original for the whole job, so no UML writes it
    /// between our copy and the rename (such writes would be lost).
    private let guardLock: OpenFile?
    /// "what changed" lines for the summary.
    private(set) var notes: [String]
    /// The output did not exist before (the template may format it).
    let isNew: Bool

    private init(declaration: TemplateDisk, original: String, attached: String, readOnly: Bool, backing: String?,
                 output: AtomicOutput?, scratch: TemporaryFile?, guardLock: OpenFile?, notes: [String], isNew: Bool,
                 flat: TemporaryFile? = nil, rebuild: (@Sendable () throws -> Void)? = nil) {
        self.flat = flat
        self.rebuild = rebuild
        self.declaration = declaration
        self.original = original
        self.attached = attached
        self.readOnly = readOnly
        self.backing = backing
        self.output = output
        self.scratch = scratch
        self.guardLock = guardLock
        self.notes = notes
        self.isNew = isNew
    }

    var spec: DiskSpec {
        get throws {
            // Absolute: the sandboxed kernel resolves a relative path through a
            // working directory on the read-only view of the host (it then opens
            // a writable disk read-only).
            try DiskSpec(unit: declaration.unit, file: PathResolution.absolute(attached),
                         backing: backing.map(PathResolution.absolute), flags: readOnly ? [.readOnly] : [])
        }
    }

    /// Makes the new file visible under the original's name.
    func commit() throws {
        if let rebuild { try rebuild() }
        guard let output else { return }
        try output.commit()
    }

    /// Mixed 4 KiB pages of a COW, as DiskCheck reports them (code `mixed-pages`).
    static func mixedPages(_ path: String, backing: String?) throws(EngineError) -> UInt64 {
        guard COWFile.hasMagic(path: path) else { return 0 }
        let report = try DiskCheck.check(path: path, backing: backing, requireWritable: false)
        guard report.findings.contains(where: { $0.code == "mixed-pages" }) else { return 0 }
        return try COWInfo.read(path: path, backing: backing).mixedPages
    }

    /// A source: attached read-only; with mixed pages, a normalized copy.
    static func source(_ declaration: TemplateDisk, path: String, backing: String? = nil,
                       kernelRelease: String? = nil) throws -> StagedDisk {
        if let block = smallBlocks(path, backing: backing), try COWInfo.read(path: path, backing: backing).dirtySectors > 0 {
            let flat = try flatCopy(of: path, backing: backing)
            return StagedDisk(
                declaration: declaration, original: path, attached: flat.path, readOnly: true, backing: nil,
                output: nil, scratch: nil, guardLock: nil,
                notes: ["read '\(path)' through a flat temporary image: its \(block)-byte-block filesystem would be misread through any COW; the original is unchanged"],
                isNew: false, flat: flat)
        }
        let mixed = try mixedPages(path, backing: backing)
        guard mixed > 0 else {
            return StagedDisk(declaration: declaration, original: path, attached: path, readOnly: true, backing: backing,
                              output: nil, scratch: nil, guardLock: nil, notes: [], isNew: false)
        }
        let copy: TemporaryFile
        do {
            copy = try TemporaryFile(near: path, tag: "normalized")
            let from = try OpenFile(path, flags: O_RDONLY)
            try from.lock(.read)
            try SparseCopy.copy(from, into: try copy.open())
        } catch {
            throw MaintenanceError.mixedPagesReadOnly(path: path, pages: mixed, kernel: MixedPageBug.kernel(kernelRelease))
        }
        let result = try Normalize.run(cow: copy.path, backing: backing)
        return StagedDisk(
            declaration: declaration, original: path, attached: copy.path, readOnly: true, backing: backing,
            output: nil, scratch: copy, guardLock: nil,
            notes: ["read '\(path)' through a normalized temporary copy (\(result.mixedPages) mixed page(s) made whole; the original is unchanged)"],
            isNew: false)
    }

    /// A target: a sparse copy renamed over the original at the end, or the
    /// original itself with `inPlace`; mixed pages are normalized either way
    /// (normalizing keeps the disk's content).
    static func target(_ declaration: TemplateDisk, path: String, backing: String? = nil, inPlace: Bool,
                       kernelRelease: String? = nil) throws -> StagedDisk {
        guard try FileStatus.of(path) != nil else {
            throw MaintenanceError.invalidArgument("'\(path)' does not exist; give an existing COW or image")
        }
        var notes: [String] = []
        if let block = smallBlocks(path, backing: backing) {
            if inPlace {
                throw MaintenanceError.invalidArgument("'\(path)' holds a filesystem with \(block)-byte blocks, which \(MixedPageBug.kernel(kernelRelease)) misreads through a COW even after normalizing; drop --in-place so corral works on a flat copy")
            }
            let guardLock = try OpenFile(path, flags: O_RDONLY)
            try guardLock.lock(.read)
            let flat = try flatCopy(of: path, backing: backing)
            let info = try COWInfo.read(path: path, backing: backing)
            let backingPath = backing ?? info.backingFile
            let image = flat.path
            return StagedDisk(
                declaration: declaration, original: path, attached: image, readOnly: false, backing: nil,
                output: nil, scratch: nil, guardLock: guardLock,
                notes: ["worked on a flat copy ('\(path)' holds \(block)-byte blocks, misread through any COW) and rebuilt the COW from it over the same backing (corral cow from-image)"],
                isNew: false, flat: flat,
                rebuild: { _ = try FromImage.run(image: image, backing: backingPath, output: path, force: true) })
        }
        let mixed = try mixedPages(path, backing: backing)
        if inPlace {
            if mixed > 0 {
                let result = try Normalize.run(cow: path, backing: backing)
                notes.append("normalized \(result.mixedPages) mixed page(s) of '\(path)' in place before the boot")
            }
            notes.append("worked on '\(path)' in place (--in-place): a failed step may leave it half-changed")
            return StagedDisk(declaration: declaration, original: path, attached: path, readOnly: false, backing: backing,
                              output: nil, scratch: nil, guardLock: nil, notes: notes, isNew: false)
        }
        let copy = try AtomicOutput(path: path, replace: true, inputs: [])
        let from = try OpenFile(path, flags: O_RDONLY)
        try from.lock(.read)
        try keepOwnership(of: from, on: copy)
        try SparseCopy.copy(from, into: copy.file)
        if mixed > 0 {
            let result = try Normalize.run(cow: copy.temporaryPath, backing: backing)
            notes.append("normalized \(result.mixedPages) mixed page(s) (in the copy) before the boot")
        }
        // Normalize opened and closed the copy, never the original: our lock holds.
        return StagedDisk(declaration: declaration, original: path, attached: copy.temporaryPath, readOnly: false,
                          backing: backing, output: copy, scratch: nil, guardLock: from, notes: notes, isNew: false)
    }

    /// The staged copy replaces the user's file, so it gets the original's
    /// owner and group (root's copy would otherwise take the file from its
    /// owner) and its permission bits without set-user-ID, set-group-ID and
    /// sticky: a user's `chmod 4755` file must never come back as a
    /// root-owned set-id program. Both on the copy's descriptor.
    static func keepOwnership(of original: OpenFile, on copy: AtomicOutput) throws {
        do {
            let info = try FileInfo.of(descriptor: original.fd, name: original.path)
            let target = try FileInfo.of(descriptor: copy.file.fd, name: copy.temporaryPath)
            if target.owner != info.owner || target.group != info.group {
                try systemCall("fchown", copy.temporaryPath) { fchown(copy.file.fd, uid_t(info.owner), gid_t(info.group)) }
            }
            try systemCall("fchmod", copy.temporaryPath) { fchmod(copy.file.fd, mode_t(info.permissions & 0o777)) }
        } catch {
            throw MaintenanceError.io("cannot give the copy of '\(original.path)' its owner and mode: \(error)")
        }
    }

    /// An output: a new sparse raw file of `size` bytes, or a new COW over
    /// `cowBacking`; an existing file only with `force` (then like a target).
    static func output(_ declaration: TemplateDisk, path: String, size: UInt64?, cowBacking: String?,
                       force: Bool, inputs: [(status: FileStatus, role: String)]) throws -> StagedDisk {
        if try FileStatus.of(path) != nil {
            guard force else { throw MaintenanceError.outputExists(path: path) }
            for input in inputs {
                if let existing = try FileStatus.of(path), existing.isSameFile(as: input.status) {
                    throw EngineError.outputIsInput(path: path, role: input.role)
                }
            }
            let staged = try target(declaration, path: path, inPlace: false)
            staged.notes.append("reused the existing '\(path)' (--force)")
            return staged
        }
        if let cowBacking {
            // The guest fills a sparse copy of the backing; the COW is made
            // from it at the end (from-image), holding only what differs. A
            // fresh COW written and read back in one boot would meet the
            // kernel's mixed-read bug on small-block filesystems (§4.7).
            let flat = try TemporaryFile(near: path, tag: "flat")
            let from = try OpenFile(cowBacking, flags: O_RDONLY)
            let to = try flat.open()
            try SparseCopy.copy(from, into: to)
            let image = flat.path
            return StagedDisk(
                declaration: declaration, original: path, attached: image, readOnly: false, backing: nil,
                output: nil, scratch: nil, guardLock: nil, notes: [], isNew: true, flat: flat,
                rebuild: { _ = try FromImage.run(image: image, backing: cowBacking, output: path, force: false) })
        }
        let file = try AtomicOutput(path: path, replace: false, inputs: inputs)
        if let size {
            try file.file.truncate(to: size)
        }
        return StagedDisk(declaration: declaration, original: path, attached: file.temporaryPath, readOnly: false,
                          backing: nil, output: file, scratch: nil, guardLock: nil,
                          notes: [], isNew: true)
    }

    /// The block size when the disk holds an ext filesystem with blocks
    /// under 4 KiB and is a COW (a raw image has no COW to misread).
    static func smallBlocks(_ path: String, backing: String?) -> UInt32? {
        guard COWFile.hasMagic(path: path), let block = FilesystemProbe.extBlockSize(path, backing: backing),
              block < 4096 else { return nil }
        return block
    }

    /// The guest's view of a COW as a new sparse raw file next to it (or in
    /// TMPDIR when its directory is not writable).
    static func flatCopy(of path: String, backing: String?) throws -> TemporaryFile {
        let flat = try TemporaryFile(near: path, tag: "flat")
        flat.releaseName()
        _ = try Flatten.run(cow: path, output: flat.path, backing: backing)
        return flat
    }

    /// The size the guest sees: a COW's disk size, else the file's.
    static func virtualSize(_ path: String) throws -> UInt64 {
        if COWFile.hasMagic(path: path) { return try COWInfo.read(path: path).size }
        guard let status = try FileStatus.of(path) else {
            throw MaintenanceError.invalidArgument("'\(path)' does not exist")
        }
        return status.size
    }
}
