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
