#if canImport(Glibc)
import Glibc
#endif

/// Single sectors of a disk as the guest sees it, in any order: through a
/// COW's bitmap to its data or its backing, or a raw image as it is.
///
/// For probes that read a handful of signature sectors (superblocks,
/// labels); bulk reads stream through ``VirtualDisk``. It opens the backing
/// without the size/mtime check, which is preflight's job to report.
public struct GuestSectors {
    public static let sectorSize: UInt64 = 512
    /// The guest's disk size in bytes.
    public let size: UInt64
    private let cow: COWFile?
    /// The backing (COW) or the image itself (raw); nil when it cannot be opened.
    private let base: OpenFile?

    public init(path: String, backing: String? = nil) throws(EngineError) {
        if COWFile.hasMagic(path: path) {
            try self.init(cow: try COWFile(path: path), backing: backing)
        } else {
            try self.init(raw: try OpenFile(path, flags: O_RDONLY))
        }
    }

    /// Through a COW already open, to its data or its backing.
    public init(cow: COWFile, backing: String? = nil) throws(EngineError) {
        try cow.requireStandardSectors()
        self.cow = cow
        self.size = cow.geometry.size
        self.base = try? OpenFile(cow.backingPath(override: backing), flags: O_RDONLY)
    }

    /// A raw image already open, as it is.
    public init(raw file: OpenFile) throws(EngineError) {
        self.cow = nil
        self.base = file
        self.size = try file.status().size
    }

    /// Sector `index`: 512 bytes, zero-filled past the end of whichever file
    /// holds it (as the kernel reads them); nil past the end of the disk or
    /// when its file cannot be read.
    public func sector(_ index: UInt64) -> [UInt8]? {
        guard index < (size + Self.sectorSize - 1) / Self.sectorSize else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(Self.sectorSize))
        if let cow {
            var bits = [UInt8](repeating: 0, count: 1)
            // Bit k of bitmap byte j is sector 8j + k, least significant first (§3.1).
            guard (try? cow.file.read(into: &bits, at: cow.geometry.bitmapOffset + index / 8)) == 1 else { return nil }
            if bits[0] & (1 << UInt8(index % 8)) != 0 {
                guard (try? cow.file.read(into: &bytes, at: cow.geometry.dataOffset + index * Self.sectorSize)) != nil else { return nil }
                return bytes
            }
        }
        guard let base, (try? base.read(into: &bytes, at: index * Self.sectorSize)) != nil else { return nil }
        return bytes
    }

    /// `count` bytes at byte `offset`, within one sector.
    public func bytes(at offset: UInt64, count: Int) -> [UInt8]? {
        let start = Int(offset % Self.sectorSize)
        guard start + count <= Int(Self.sectorSize), let sector = sector(offset / Self.sectorSize) else { return nil }
        return Array(sector[start..<(start + count)])
    }
}
