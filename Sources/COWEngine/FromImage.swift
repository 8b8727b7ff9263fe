#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Builds a new v3 COW over a backing file that holds only what differs in
/// an image: the reverse of ``Flatten``.
///
/// The two files are compared in 4 KiB pages (page-aligned disk offsets),
/// and every differing page is stored whole, so the result has no mixed
/// pages for the 6.1 kernel to misread (§4.7-A). A partial last page stores
/// the sectors that exist. Stretches that are holes in both files are
/// skipped without reading (SEEK_DATA), and stored pages that are all zero
/// are left as holes in the COW (a hole under a set bit reads as zeros,
/// §3.2), so the output is sparse.
///
/// Memory is two fixed windows and one window's bitmap bytes, written as
/// the windows go; the output appears under its name only when complete
/// (``AtomicOutput``), so a failure or a full disk leaves nothing behind.
public enum FromImage {
    public struct Result: Sendable, Encodable {
        public var output: String
        public var backingFile: String
        public var size: UInt64
        /// Pages stored in the COW (each with its bits set).
        public var pages: UInt64
        /// Sectors marked as COW-held.
        public var sectors: UInt64
        public var allocatedBytes: UInt64
        public var fingerprint: Bool
    }

    static let window = 1024 * 1024

    public static func run(
        image: String, backing: String, output: String, force: Bool = false,
        fingerprint: Bool = true, progress: ProgressHandler? = nil
    ) throws(EngineError) -> Result {
        let stamp = try BackingStamp.of(backing, missing: .backingMissing(backing: backing, cow: output))
        guard try FileStatus.of(image) != nil else {
            throw .invalidArgument("\(image): image does not exist")
        }
        return try run(image: OpenFile(image, flags: O_RDONLY), stamp: stamp, backing: backing, output: output,
                       force: force, fingerprint: fingerprint, progress: progress)
    }

    /// The same from an image the caller holds open: a maintenance job's
    /// flat image, which it created and never reopens by name.
    public static func run(
        image imageFile: OpenFile, backing: String, output: String, force: Bool = false, fingerprint: Bool = true
    ) throws(EngineError) -> Result {
        let stamp = try BackingStamp.of(backing, missing: .backingMissing(backing: backing, cow: output))
        return try run(image: imageFile, stamp: stamp, backing: backing, output: output, force: force,
                       fingerprint: fingerprint, progress: nil)
    }

    static func run(
        image imageFile: OpenFile, stamp: BackingStamp, backing: String, output: String, force: Bool,
        fingerprint: Bool, progress: ProgressHandler?
    ) throws(EngineError) -> Result {
        let image = imageFile.path
        let imageStatus = try imageFile.status()
        guard imageStatus.size == stamp.status.size else {
            throw .imageSizeMismatch(image: image, imageSize: imageStatus.size, backing: backing, backingSize: stamp.status.size)
        }
        if COWFile.hasMagic(imageFile) {
            throw .invalidArgument("\(image): is a COW file, not a raw image; flatten it first (corral cow flatten)")
        }
        // Read locks fail while a UML writes either file (it holds a write lock).
        let backingFile = try OpenFile(backing, flags: O_RDONLY)
        try backingFile.lock(.read)
        try imageFile.lock(.read)

        // The backing's fingerprint is hashed in the same pass that compares
        // it with the image (every non-zero backing block is read there), and
        // the header is written last.
        let hasher = fingerprint ? BackingFingerprint.ContentHasher(size: stamp.status.size) : nil
        let geometry: COWGeometry
        do {
            geometry = try COWGeometry(header: stamp.header())
        } catch {
            throw .format(path: backing, error)
        }
        if force, let existing = try FileStatus.of(output), existing.isRegular {
            // Never replace a COW that a running UML has open.
            let file = try OpenFile(output, flags: O_RDONLY)
            if let pid = file.lockHolder(conflictingWith: .write) { throw .inUse(path: output, pid: pid) }
        }
        let out = try AtomicOutput(path: output, replace: force,
                                   inputs: [(imageStatus, "image"), (stamp.status, "backing file")])
        try out.file.truncate(to: geometry.createdFileLength)

        let size = geometry.size
        let page = COWGeometry.pageSize
        let old = IOBuffer(size: window)
        let new = IOBuffer(size: window)
        let bits = IOBuffer(size: window / Int(page))
        var throttle = ProgressThrottle(progress, total: size)
        var pages: UInt64 = 0
        var sectors: UInt64 = 0
        var pos: UInt64 = 0
        while pos < size {
            guard let data = try JointData.window(backingFile, imageFile, from: pos, limit: size, maximum: window) else { break }
            pos = data.lowerBound
            let end = data.upperBound
            let length = Int(end - pos)
            try backingFile.readZeroFilled(into: old.slice(0, length), at: pos)
            try imageFile.readZeroFilled(into: new.slice(0, length), at: pos)

            let firstPage = pos / page
            let pageCount = Int((end - pos + page - 1) / page)
            bits.zero(0, pageCount)
            var dirtyLow = -1
            var dirtyHigh = -1
            var writeStart = -1
            for i in 0..<pageCount {
                let lo = i * Int(page)
                let hi = min(lo + Int(page), length)
                hasher?.add(UnsafeRawBufferPointer(old.slice(lo, hi - lo)), at: pos + UInt64(lo))
                let differs = memcmp(old.bytes.baseAddress! + lo, new.bytes.baseAddress! + lo, hi - lo) != 0
                let nonZero = differs && !IOBuffer.isZero(UnsafeRawBufferPointer(new.slice(lo, hi - lo)))
                if differs {
                    let mask = geometry.pageMask(firstPage + UInt64(i))
                    bits.bytes[i] = mask
                    pages += 1
                    sectors += UInt64(mask.nonzeroBitCount)
                    if dirtyLow < 0 { dirtyLow = i }
                    dirtyHigh = i
                }
                // Coalesce consecutive non-zero stored pages into one write.
                if nonZero && writeStart < 0 { writeStart = lo }
                if !nonZero && writeStart >= 0 {
                    try out.file.write(UnsafeRawBufferPointer(new.slice(writeStart, lo - writeStart)),
                                       at: geometry.dataOffset + pos + UInt64(writeStart))
                    writeStart = -1
                }
            }
            if writeStart >= 0 {
                try out.file.write(UnsafeRawBufferPointer(new.slice(writeStart, length - writeStart)),
                                   at: geometry.dataOffset + pos + UInt64(writeStart))
            }
            if dirtyLow >= 0 {
                try out.file.write(UnsafeRawBufferPointer(bits.slice(dirtyLow, dirtyHigh - dirtyLow + 1)),
                                   at: geometry.bitmapOffset + firstPage + UInt64(dirtyLow))
            }
            pos = end
            throttle.report(pos)
        }
        let print = hasher.flatMap {
            BackingFingerprint.make(size: stamp.status.size, digest: $0.finish(), storedPath: stamp.storedPath)
        }
        let headerBytes: [UInt8]
        do {
            headerBytes = try stamp.header(remainder: print?.encoded ?? []).encode()
        } catch {
            throw .format(path: backing, error)
        }
        try out.file.write(headerBytes, at: 0)
        try out.commit()
        throttle.finish()
        let allocated = (try? FileStatus.of(output))??.allocated ?? 0
        return Result(output: output, backingFile: stamp.storedPath, size: size, pages: pages,
                      sectors: sectors, allocatedBytes: allocated, fingerprint: print != nil)
    }
}
