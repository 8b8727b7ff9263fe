#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem

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
