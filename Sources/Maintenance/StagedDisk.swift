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
///
/// Each existing disk is opened once (``OpenedDisk``: header and bitmap
/// survey), and that one descriptor serves every later look at it: the
/// staging decision, the copy, the flat image, the boot's preflight and
/// RAID-6 probe (``BootOptions/openedDisks``).
final class StagedDisk {
    /// What the kernel opens instead of (or as) the user's file, and what
    /// ``commit()`` does with it.
    enum Strategy {
        /// The user's file itself: a source with nothing to fix, or a target
        /// changed `--in-place`. Nothing to commit.
        case original
        /// A throwaway file the guest reads instead (a normalized copy or a
        /// flat image of a source), removed in any case.
        case scratch(TemporaryFile)
        /// A sparse copy of a target, or a new output, renamed over the
        /// user's path by the commit.
        case replacement(AtomicOutput)
        /// A flat image the guest works on; the commit builds a COW at the
        /// user's path from it over `backing` (from-image), replacing an
        /// existing file only when `replace`.
        case rebuild(TemporaryFile, backing: String, replace: Bool)
    }

    let declaration: TemplateDisk
    /// The user's file.
    let original: String
    let strategy: Strategy
    let readOnly: Bool
    /// The backing the kernel is told (`run --disk N=COW,BACKING`); nil for a flat image.
    let backing: String?
    /// The user's file, opened once, when the job works on a copy that
    /// replaces it: its read lock lasts the whole job, so no UML writes it
    /// between the copy and the rename (such writes would be lost).
    private let guardLock: OpenedDisk?
    /// The attached file as the boot's preflight reads it, without opening
    /// it again; nil for a path that is no disk at all (a FIFO, a
    /// directory), which the preflight refuses by name.
    let attachedDisk: OpenedDisk?
    /// "what changed" lines for the summary.
    var notes: [String]
    /// The output did not exist before (the template may format it).
    let isNew: Bool

    init(_ declaration: TemplateDisk, original: String, strategy: Strategy, readOnly: Bool, backing: String?,
         guardLock: OpenedDisk? = nil, attachedDisk: OpenedDisk?, notes: [String] = [], isNew: Bool = false) {
        self.declaration = declaration
        self.original = original
        self.strategy = strategy
        self.readOnly = readOnly
        self.backing = backing
        self.guardLock = guardLock
        self.attachedDisk = attachedDisk
        self.notes = notes
        self.isNew = isNew
    }

    /// What the kernel opens.
    var attached: String {
        switch strategy {
        case .original: original
        case .scratch(let file): file.path
        case .replacement(let output): output.temporaryPath
        case .rebuild(let flat, _, _): flat.path
        }
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

    /// Makes the new file visible under the original's name; returns the
    /// new COW's facts when one was built (for the summary).
    @discardableResult
    func commit() throws -> FromImage.Result? {
        switch strategy {
        case .original, .scratch:
            return nil
        case .replacement(let output):
            try output.commit()
            return nil
        case .rebuild(let flat, let backing, let replace):
            // The flat image through the descriptor that created it, never its name.
            return try FromImage.run(image: flat.open(), backing: backing, output: original, force: replace)
        }
    }

    /// The original's descriptor under the name the boot uses for the
    /// attached file (absolute), so preflight messages read as before.
    static func attachedView(of disk: OpenedDisk, path: String, survey: BitmapSurvey?) throws -> OpenedDisk {
        try OpenedDisk(OpenFile(duplicating: disk.file.fd, path: PathResolution.absolute(path)), survey: survey)
    }

    /// A new file the job created, as the boot's preflight reads it (a dup, never its name).
    static func attachedView(of fd: Int32, path: String, survey: BitmapSurvey? = nil) throws -> OpenedDisk {
        try OpenedDisk(OpenFile(duplicating: fd, path: PathResolution.absolute(path)), survey: survey)
    }

    /// A path the job attaches as it is when it is not a disk file (a FIFO,
    /// a directory, a device other than a block device): the boot's
    /// preflight then refuses it, naming what it is, before anything starts.
    static func isNoDisk(_ path: String) throws -> Bool {
        guard let status = try FileStatus.of(path) else { return false }
        return FileStatus.nonDiskKind(mode: status.mode) != nil
    }

    /// Opens an existing disk once for the whole job.
    static func open(_ path: String) throws -> OpenedDisk {
        guard try FileStatus.of(path) != nil else {
            throw MaintenanceError.invalidArgument("'\(path)' does not exist; give an existing COW or image")
        }
        return try OpenedDisk(path: path)
    }

    /// The block size when the disk is a COW holding an ext filesystem with
    /// blocks under 4 KiB (a raw image has no COW to misread).
    static func smallBlocks(_ disk: OpenedDisk, backing: String?) -> UInt32? {
        guard disk.cow != nil, let sectors = disk.guestSectors(backing: backing),
              let block = FilesystemProbe.extBlockSize(sectors), block < 4096 else { return nil }
        return block
    }

    /// The guest's view of a COW as a new sparse raw file next to it (or in
    /// TMPDIR when its directory is not writable), written through the
    /// descriptor that created it.
    static func flatCopy(of disk: OpenedDisk, backing: String?) throws -> TemporaryFile {
        guard let cow = disk.cow else {
            throw MaintenanceError.invalidArgument("'\(disk.path)' is not a COW file; nothing to flatten")
        }
        let flat = try TemporaryFile(near: disk.path, tag: "flat")
        _ = try Flatten.run(cow, survey: disk.survey, into: try flat.open(), backing: backing)
        return flat
    }
}

/// How each role's disk is staged: the choice of ``StagedDisk/Strategy``
/// from what the one open of the file found (COW or raw, small blocks,
/// mixed pages).
extension StagedDisk {
    /// A source: attached read-only; a small-block COW through a flat
    /// image, one with mixed pages through a normalized copy.
    static func source(_ declaration: TemplateDisk, path: String, backing: String? = nil,
                       kernelRelease: String? = nil) throws -> StagedDisk {
        if try isNoDisk(path) {
            return StagedDisk(declaration, original: path, strategy: .original, readOnly: true, backing: backing,
                              attachedDisk: nil)
        }
        let disk = try OpenedDisk(path: path)
        if let block = smallBlocks(disk, backing: backing), (disk.survey?.dirtySectors ?? 0) > 0 {
            let flat = try flatCopy(of: disk, backing: backing)
            return StagedDisk(
                declaration, original: path, strategy: .scratch(flat), readOnly: true, backing: nil,
                attachedDisk: try attachedView(of: flat.fd, path: flat.path),
                notes: ["read '\(path)' through a flat temporary image: its \(block)-byte-block filesystem would be misread through any COW; the original is unchanged"])
        }
        let mixed = disk.survey?.mixedPages ?? 0
        guard mixed > 0, let cow = disk.cow else {
            return StagedDisk(declaration, original: path, strategy: .original, readOnly: true, backing: backing,
                              attachedDisk: try attachedView(of: disk, path: path, survey: disk.survey))
        }
        let copy: TemporaryFile
        let copied: COWFile
        do {
            copy = try TemporaryFile(near: path, tag: "normalized")
            try cow.file.lock(.read)
            let into = try copy.open()
            try SparseCopy.copy(cow.file, into: into)
            copied = try COWFile(opened: OpenFile(duplicating: copy.fd, path: copy.path))
        } catch {
            throw MaintenanceError.mixedPagesReadOnly(path: path, pages: mixed, kernel: MixedPageBug.kernel(kernelRelease))
        }
        let result = try Normalize.run(copied, backing: backing)
        copied.file.unlock()
        return StagedDisk(
            declaration, original: path, strategy: .scratch(copy), readOnly: true, backing: backing,
            attachedDisk: try attachedView(of: copy.fd, path: copy.path),
            notes: ["read '\(path)' through a normalized temporary copy (\(result.mixedPages) mixed page(s) made whole; the original is unchanged)"])
    }

    /// A target: a sparse copy renamed over the original at the end, or the
    /// original itself with `inPlace`; mixed pages are normalized either way
    /// (normalizing keeps the disk's content).
    static func target(_ declaration: TemplateDisk, path: String, backing: String? = nil, inPlace: Bool,
                       kernelRelease: String? = nil) throws -> StagedDisk {
        if inPlace, try isNoDisk(path) {
            return StagedDisk(declaration, original: path, strategy: .original, readOnly: false, backing: backing,
                              attachedDisk: nil)
        }
        let disk = try open(path)
        if let block = smallBlocks(disk, backing: backing) {
            if inPlace {
                throw MaintenanceError.invalidArgument("'\(path)' holds a filesystem with \(block)-byte blocks, which \(MixedPageBug.kernel(kernelRelease)) misreads through a COW even after normalizing; drop --in-place so corral works on a flat copy")
            }
            try disk.file.lock(.read)
            let flat = try flatCopy(of: disk, backing: backing)
            let backingPath = backing ?? disk.cow?.header.backingPathString ?? ""
            return StagedDisk(
                declaration, original: path, strategy: .rebuild(flat, backing: backingPath, replace: true),
                readOnly: false, backing: nil, guardLock: disk, attachedDisk: try attachedView(of: flat.fd, path: flat.path),
                notes: ["worked on a flat copy ('\(path)' holds \(block)-byte blocks, misread through any COW) and rebuilt the COW from it over the same backing (corral cow from-image)"])
        }
        let mixed = disk.survey?.mixedPages ?? 0
        if inPlace { return try inPlaceTarget(declaration, disk: disk, path: path, backing: backing, mixed: mixed) }
        let copy = try AtomicOutput(path: path, replace: true, inputs: [])
        try disk.file.lock(.read)
        try keepOwnership(of: disk.file, on: copy)
        try SparseCopy.copy(disk.file, into: copy.file)
        var notes: [String] = []
        var survey = disk.survey
        if mixed > 0 {
            let result = try Normalize.run(COWFile(opened: OpenFile(duplicating: copy.file.fd, path: copy.temporaryPath)),
                                           backing: backing)
            copy.file.unlock()
            notes.append("normalized \(result.mixedPages) mixed page(s) (in the copy) before the boot")
            survey = nil
        }
        // The copy holds the original's bytes: its survey is the original's
        // unless normalizing changed the bitmap.
        return StagedDisk(declaration, original: path, strategy: .replacement(copy), readOnly: false, backing: backing,
                          guardLock: disk, attachedDisk: try attachedView(of: copy.file.fd, path: copy.temporaryPath, survey: survey),
                          notes: notes)
    }

    /// `--in-place`: the guest works on the user's file; mixed pages are
    /// normalized in it first.
    static func inPlaceTarget(_ declaration: TemplateDisk, disk: OpenedDisk, path: String, backing: String?,
                              mixed: UInt64) throws -> StagedDisk {
        var notes: [String] = []
        var attached = try attachedView(of: disk, path: path, survey: disk.survey)
        if mixed > 0 {
            let result = try Normalize.run(cow: path, backing: backing)
            notes.append("normalized \(result.mixedPages) mixed page(s) of '\(path)' in place before the boot")
            attached = try attachedView(of: disk, path: path, survey: nil)
        }
        notes.append("worked on '\(path)' in place (--in-place): a failed step may leave it half-changed")
        return StagedDisk(declaration, original: path, strategy: .original, readOnly: false, backing: backing,
                          attachedDisk: attached, notes: notes)
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
        if let existing = try FileStatus.of(path) {
            guard force else { throw MaintenanceError.outputExists(path: path) }
            for input in inputs where existing.isSameFile(as: input.status) {
                throw EngineError.outputIsInput(path: path, role: input.role)
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
            try SparseCopy.copy(try OpenFile(cowBacking, flags: O_RDONLY), into: try flat.open())
            return StagedDisk(declaration, original: path, strategy: .rebuild(flat, backing: cowBacking, replace: false),
                              readOnly: false, backing: nil,
                              attachedDisk: try attachedView(of: flat.fd, path: flat.path), isNew: true)
        }
        let file = try AtomicOutput(path: path, replace: false, inputs: inputs)
        if let size {
            try file.file.truncate(to: size)
        }
        return StagedDisk(declaration, original: path, strategy: .replacement(file), readOnly: false, backing: nil,
                          attachedDisk: try attachedView(of: file.file.fd, path: file.temporaryPath),
                          isNew: true)
    }
}
