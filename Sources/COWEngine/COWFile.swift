#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// An open COW file: its header, its geometry, and streaming access to its
/// bitmap. Opening validates only what every operation needs; policy
/// (size/mtime match, sector size) is left to the operation.
public final class COWFile {
    public let file: OpenFile
    public let header: COWHeader
    public let geometry: COWGeometry
    public let status: FileStatus

    public var path: String { file.path }

    /// Opens and decodes `path`. Throws ``EngineError/format(path:_:)`` for a
    /// file that is not a usable COW.
    public convenience init(path: String, writable: Bool = false) throws(EngineError) {
        try self.init(opened: try OpenFile(path, flags: writable ? O_RDWR : O_RDONLY))
    }

    /// Decodes a file already open: one a caller holds for a whole job
    /// (``OpenedDisk``), or one corral created and must not reopen by name.
    public init(opened file: OpenFile) throws(EngineError) {
        let path = file.path
        let status = try file.status()
        var head = [UInt8](repeating: 0, count: COWLayout.maximumHeaderLength)
        let n = try file.read(into: &head, at: 0)
        let header: COWHeader
        let geometry: COWGeometry
        do {
            header = try COWHeader.decode(head[0..<n])
            geometry = try COWGeometry(header: header)
        } catch {
            throw .format(path: path, error)
        }
        self.file = file
        self.header = header
        self.geometry = geometry
        self.status = status
    }

    /// Cheap test used when scanning directories: true when the first bytes
    /// carry the COW magic.
    public static func hasMagic(path: String) -> Bool {
        guard let file = try? OpenFile(path, flags: O_RDONLY | O_NONBLOCK) else { return false }
        return hasMagic(file)
    }

    /// The same test on a file already open.
    public static func hasMagic(_ file: OpenFile) -> Bool {
        var head = [UInt8](repeating: 0, count: 8)
        guard (try? file.read(into: &head, at: 0)) == 8 else { return false }
        let m = UInt32(head[0]) << 24 | UInt32(head[1]) << 16 | UInt32(head[2]) << 8 | UInt32(head[3])
        return m == COWHeader.magic || m == COWHeader.magic.byteSwapped
    }

    /// The backing path to use: `override` if given, else the header's,
    /// resolved against the working directory when relative (as the kernel does, §4.1).
    public func backingPath(override: String?) -> String {
        if let override { return override }
        return header.backingPathString
    }

    /// Refuses sector sizes the kernel does not use: it always indexes 512-byte
    /// sectors whatever the header says, so any other value is misread (§1.7).
    public func requireStandardSectors() throws(EngineError) {
        guard header.sectorSize == 512 else {
            throw .unsupportedSectorSize(path: path, header.sectorSize)
        }
    }

    /// Bitmap bytes per read: 16 KiB covers 64 MiB of disk and bounds the
    /// runs buffered at once to 128 Ki in the worst (alternating) case.
    static let bitmapChunk = 16 * 1024

    /// Calls `body` for every maximal run of sectors, in order, covering
    /// exactly `0..<sectorCount`. The bitmap is streamed; bytes past the end
    /// of the file read as zero (clear), as the kernel's unchecked read leaves them.
    public func forEachRun(_ body: (SectorRun) throws(EngineError) -> Void) throws(EngineError) {
        var reader = RunReader(self)
        while let run = try reader.next() {
            try body(run)
        }
    }

    /// Number of sectors whose data lives in the COW file.
    public func dirtySectorCount() throws(EngineError) -> UInt64 {
        var total: UInt64 = 0
        try forEachRun { run in if run.inCOW { total += run.count } }
        return total
    }
}

/// Pull-style iteration over a COW's runs, reading the bitmap in chunks.
public struct RunReader {
    let cow: COWFile
    var builder: BitmapRunBuilder
    var pending: [SectorRun] = []
    var pendingIndex = 0
    var bitmapPosition: UInt64 = 0
    var finished = false
    var buffer: [UInt8]

    public init(_ cow: COWFile) {
        self.cow = cow
        // Sectors whose bit lies outside the bitmap always come from the backing.
        self.builder = BitmapRunBuilder(sectorLimit: cow.geometry.sectorCount)
        self.buffer = [UInt8](repeating: 0, count: COWFile.bitmapChunk)
    }

    public mutating func next() throws(EngineError) -> SectorRun? {
        while pendingIndex >= pending.count {
            if finished { return nil }
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
            let g = cow.geometry
            let remaining = g.bitmapLength - bitmapPosition
            if remaining == 0 || builder.position >= g.mappableSectors {
                // v1/v2: the last sectorCount % 8 sectors have no bit in the loaded bitmap.
                builder.finish { pending.append($0) }
                finished = true
                continue
            }
            let want = Int(min(UInt64(buffer.count), remaining))
            let got = try cow.file.read(into: &buffer, at: g.bitmapOffset + bitmapPosition)
            if got < want {
                for i in got..<want { buffer[i] = 0 }
            }
            buffer.withUnsafeBytes { raw in
                builder.feed(UnsafeRawBufferPointer(rebasing: raw[0..<want])) { pending.append($0) }
            }
            bitmapPosition += UInt64(want)
        }
        defer { pendingIndex += 1 }
        return pending[pendingIndex]
    }
}
