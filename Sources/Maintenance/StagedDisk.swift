#if canImport(Glibc)
import Glibc
#endif
import COWEngine
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
    private let scratch: AtomicOutput?
    /// A read lock on the original for the whole job, so no UML writes it
    /// between our copy and the rename (such writes would be lost).
    private let guardLock: OpenFile?
    /// "what changed" lines for the summary.
    private(set) var notes: [String]
    /// The output did not exist before (the template may format it).
    let isNew: Bool

    private init(declaration: TemplateDisk, original: String, attached: String, readOnly: Bool, backing: String?,
                 output: AtomicOutput?, scratch: AtomicOutput?, guardLock: OpenFile?, notes: [String], isNew: Bool) {
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
            try DiskSpec(unit: declaration.unit, file: attached, backing: backing, flags: readOnly ? [.readOnly] : [])
        }
    }

    /// Makes the new file visible under the original's name.
    func commit() throws(EngineError) {
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
    static func source(_ declaration: TemplateDisk, path: String, backing: String? = nil) throws -> StagedDisk {
        let mixed = try mixedPages(path, backing: backing)
        guard mixed > 0 else {
            return StagedDisk(declaration: declaration, original: path, attached: path, readOnly: true, backing: backing,
                              output: nil, scratch: nil, guardLock: nil, notes: [], isNew: false)
        }
        let copy: AtomicOutput
        do {
            copy = try AtomicOutput(path: path, replace: true, inputs: [])
            let from = try OpenFile(path, flags: O_RDONLY)
            try from.lock(.read)
            try SparseCopy.copy(from, into: copy.file)
        } catch {
            throw MaintenanceError.mixedPagesReadOnly(path: path, pages: mixed)
        }
        let result = try Normalize.run(cow: copy.temporaryPath, backing: backing)
        return StagedDisk(
            declaration: declaration, original: path, attached: copy.temporaryPath, readOnly: true, backing: backing,
            output: nil, scratch: copy, guardLock: nil,
            notes: ["read '\(path)' through a normalized temporary copy (\(result.mixedPages) mixed page(s) made whole; the original is unchanged)"],
            isNew: false)
    }

    /// A target: a sparse copy renamed over the original at the end, or the
    /// original itself with `inPlace`; mixed pages are normalized either way
    /// (normalizing keeps the disk's content).
    static func target(_ declaration: TemplateDisk, path: String, backing: String? = nil, inPlace: Bool) throws -> StagedDisk {
        guard let status = try FileStatus.of(path) else {
            throw MaintenanceError.invalidArgument("'\(path)' does not exist; give an existing COW or image")
        }
        var notes: [String] = []
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
        _ = fchmod(copy.file.fd, mode_t(status.mode & 0o7777))
        try SparseCopy.copy(from, into: copy.file)
        if mixed > 0 {
            let result = try Normalize.run(cow: copy.temporaryPath, backing: backing)
            notes.append("normalized \(result.mixedPages) mixed page(s) (in the copy) before the boot")
        }
        // Normalize opened and closed the copy, never the original: our lock holds.
        return StagedDisk(declaration: declaration, original: path, attached: copy.temporaryPath, readOnly: false,
                          backing: backing, output: copy, scratch: nil, guardLock: from, notes: notes, isNew: false)
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
        let file = try AtomicOutput(path: path, replace: false, inputs: inputs)
        if let cowBacking {
            _ = try Create.run(cow: file.temporaryPath, backing: cowBacking, force: true)
        } else if let size {
            try file.file.truncate(to: size)
        }
        return StagedDisk(declaration: declaration, original: path, attached: file.temporaryPath, readOnly: false,
                          backing: nil, output: file, scratch: nil, guardLock: nil,
                          notes: [], isNew: true)
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
