#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Where a stretch of a disk's bytes comes from.
public enum ExtentSource: String, Sendable, Codable {
    /// The COW file's data area.
    case cow
    /// The backing file.
    case backing
    /// A raw image file's own bytes.
    case data
    /// Reads as zeros without reading anything: a hole in the file that
    /// would supply it, or past its end.
    case zero
}

/// A stretch of a disk with one source.
public struct Extent: Sendable, Equatable, Codable {
    public var offset: UInt64
    public var length: UInt64
    public var source: ExtentSource
    public var end: UInt64 { offset + length }

    /// JSON says `start`, as `qemu-img map` does (`corral cow map --json`).
    private enum CodingKeys: String, CodingKey { case offset = "start", length, source }

    public init(offset: UInt64, length: UInt64, source: ExtentSource) {
        self.offset = offset
        self.length = length
        self.source = source
    }
}

/// What a guest sees on a disk file: a COW merged over its backing
/// (§3.5), or a raw image as it is. Read sequentially: the bitmap streams.
final class VirtualDisk {
    let path: String
    let size: UInt64
    let cow: COWFile?
    /// The backing file (COW) or the image itself (raw).
    let file: OpenFile
    private let fileSize: UInt64
    private var cursor: RunCursor?
    private let scratch: IOBuffer?

    /// Opens `path` as a COW when it has the COW magic, else as a raw image.
    init(path: String, backing: String? = nil, force: Bool = false, window: Int = 0) throws(EngineError) {
        self.path = path
        if COWFile.hasMagic(path: path) {
            let cow = try COWFile(path: path)
            // Sectors past a truncated COW's end would read as zeros, unnoticed.
            try BitmapSurvey.requireComplete(cow, force: force)
            try cow.requireStandardSectors()
            self.cow = cow
            self.file = try cow.openBacking(override: backing, force: force)
            self.size = cow.geometry.size
            self.cursor = try RunCursor(cow)
            self.scratch = window > 0 ? IOBuffer(size: window) : nil
        } else {
            guard try FileStatus.of(path) != nil else { throw .invalidArgument("\(path): does not exist") }
            self.cow = nil
            self.file = try OpenFile(path, flags: O_RDONLY)
            self.size = try file.status().size
            self.scratch = nil
        }
        self.fileSize = try file.status().size
    }

    /// Reads the guest's bytes `offset ..< offset + buffer-length` into the
    /// start of `buffer`. Calls must move forward (the bitmap streams).
    func read(into buffer: IOBuffer, length: Int, at offset: UInt64) throws(EngineError) {
        let target = buffer.slice(0, length)
        guard let cow, var cur = cursor, let scratch else {
            try file.readBacking(into: target, at: offset, size: fileSize)
            return
        }
        let window = offset..<(offset + UInt64(length))
        let segments = try cur.cowSegments(in: window)
        cursor = cur
        let covered = segments.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }
        if covered < UInt64(length) {
            try file.readBacking(into: target, at: offset, size: fileSize)
        }
        try Flatten.readCOW(cow, segments: segments, windowStart: offset, into: buffer, scratch: scratch)
    }

    /// A fresh, independent walk over the disk's extents.
    func extents() throws(EngineError) -> ExtentStream {
        try ExtentStream(self)
    }
}

/// The extents of a ``VirtualDisk`` in order, covering `0 ..< size`
/// exactly: the bitmap's runs, each split where its source file has holes
/// (SEEK_DATA/SEEK_HOLE). Adjacent extents may share a source.
struct ExtentStream {
    private let disk: VirtualDisk
    private var reader: RunReader?
    /// The part of the current run not yet emitted.
    private var pos: UInt64 = 0
    private var runEnd: UInt64 = 0
    private var runSource: ExtentSource = .zero

    init(_ disk: VirtualDisk) throws(EngineError) {
        self.disk = disk
        if let cow = disk.cow {
            reader = RunReader(cow)
        } else {
            runEnd = disk.size
            runSource = .data
        }
    }

    mutating func next() throws(EngineError) -> Extent? {
        while pos >= runEnd {
            guard var r = reader, let run = try r.next() else { return nil }
            reader = r
            pos = min(run.start * 512, disk.size)
            runEnd = min(run.end * 512, disk.size)
            runSource = run.inCOW ? .cow : .backing
        }
        var file = disk.file
        var base: UInt64 = 0
        if runSource == .cow, let cow = disk.cow {
            file = cow.file
            base = cow.geometry.dataOffset
        }
        let start = pos
        guard let data = try file.nextData(from: base + start), data < base + runEnd else {
            pos = runEnd
            return Extent(offset: start, length: runEnd - start, source: .zero)
        }
        if data > base + start {
            pos = data - base
            return Extent(offset: start, length: pos - start, source: .zero)
        }
        let hole = try file.nextHole(from: base + start)
        pos = hole >= base + runEnd ? runEnd : max(hole - base, start + 1)
        return Extent(offset: start, length: pos - start, source: runSource)
    }
}
