#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// A disk file opened once for everything read from it before a boot: its
/// COW header and one survey of its bitmap (none for a raw image), the
/// guest's signature sectors, and the check itself.
///
/// Why: a maintenance job used to open the same COW about eight times and
/// scan its bitmap three times (staging, preflight, the RAID-6 probe, the
/// report), each verb by path. A job now holds one of these per disk and
/// hands it to ``DiskCheck/check(_:backing:requireWritable:deep:kernelRelease:)``,
/// ``RAIDProbe/signature(_:)`` and ``FilesystemProbe/extBlockSize(_:)``.
///
/// Immutable after init, and its reads are positional (pread), so one
/// value may be read from several threads: hence `@unchecked Sendable`.
public final class OpenedDisk: @unchecked Sendable {
    public let file: OpenFile
    /// The decoded COW; nil for a raw image or a COW whose header does not decode.
    public let cow: COWFile?
    /// Why a file that looked like a COW did not decode: `.badMagic` or
    /// `.shortHeader` for a raw image, anything else for a broken header.
    public let formatError: COWFormatError?
    /// The COW's bitmap, surveyed once (nil without a COW).
    public let survey: BitmapSurvey?

    public var path: String { file.path }

    /// Decodes `file` and surveys its bitmap. `survey`: the survey of a file
    /// with the same bytes made before (a job's sparse copy of an original
    /// it surveyed), so the copy is not scanned again.
    public init(_ file: OpenFile, survey known: BitmapSurvey? = nil) throws(EngineError) {
        self.file = file
        let cow: COWFile
        do {
            cow = try COWFile(opened: file)
        } catch .format(_, let error) {
            self.cow = nil
            self.formatError = error
            self.survey = nil
            return
        }
        self.cow = cow
        self.formatError = nil
        if let known { self.survey = known } else { self.survey = try BitmapSurvey(cow) }
    }

    /// Opens `path` read-only, and decodes and surveys it.
    public convenience init(path: String) throws(EngineError) {
        try self.init(try OpenFile(path, flags: O_RDONLY))
    }

    /// The file has no COW magic: the kernel uses it as a raw disk.
    public var isRaw: Bool {
        switch formatError {
        case .badMagic?, .shortHeader?: true
        default: false
        }
    }

    /// The disk's size as the guest sees it: a COW's header size, else the file's.
    public func virtualSize() throws(EngineError) -> UInt64 {
        if let cow { return cow.geometry.size }
        return try file.status().size
    }

    /// The guest's sectors through this file (and the backing, for a COW).
    public func guestSectors(backing: String? = nil) -> GuestSectors? {
        if let cow { return try? GuestSectors(cow: cow, backing: backing) }
        guard isRaw else { return nil }
        return try? GuestSectors(raw: file)
    }
}
