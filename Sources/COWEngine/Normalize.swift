import COWFormat

/// Makes every 4 KiB page of a COW disk either wholly COW-held or wholly
/// backing-held, without changing what the guest sees.
///
/// Why: the 6.1 kernel returns shifted data for multi-page reads that cross
/// a page mixing COW and backing sectors (spec §4.7-A), so an ordinary
/// buffered read or filesystem copy inside the guest silently gets wrong
/// bytes. Copying the backing's sectors of each mixed page into the COW and
/// setting their bits removes every such page; the copied bytes are exactly
/// what the guest already read there from the backing.
///
/// Crash safety: see ``PageFill`` (data, fsync, bits, fsync). Re-running
/// after an interruption finds the remaining mixed pages and finishes.
///
/// v1/v2 files: the bitmap rounds down (§2.1), so when the disk has a
/// partial last page its sectors have no bits at all; they always read from
/// the backing, that page is never mixed and nothing is written there.
public enum Normalize {
    public struct Result: Sendable, Encodable {
        public var path: String
        /// Mixed pages found (and made whole).
        public var mixedPages: UInt64
        /// Sectors copied from the backing into the COW.
        public var sectorsCopied: UInt64
        public var notes: [String]
    }

    /// Bitmap bytes (= pages) examined per read: 64 KiB covers 256 MiB of disk.
    static let chunk = 64 * 1024

    /// - Parameters:
    ///   - backing: the backing file to read, instead of the header's path.
    ///   - force: accept a truncated COW (its lost sectors stay zeros).
    /// - Throws: ``EngineError/inUse(path:pid:)`` when a UML (or anything
    ///   else) holds a lock on the COW or a write lock on the backing;
    ///   ``EngineError/namedByKernel(path:pid:)`` when a running kernel
    ///   names either file.
    public static func run(cow path: String, backing: String? = nil, force: Bool = false,
                           progress: ProgressHandler? = nil) throws(EngineError) -> Result {
        try run(COWFile(path: path, writable: true), backing: backing, force: force, progress: progress)
    }

    /// Normalizes a COW the caller holds open for writing: a maintenance
    /// job's copy, which it created and never reopens by name.
    public static func run(_ cow: COWFile, backing: String? = nil, force: Bool = false,
                           progress: ProgressHandler? = nil) throws(EngineError) -> Result {
        let path = cow.path
        try BitmapSurvey.requireComplete(cow, force: force)
        try cow.requireStandardSectors()
        // A running UML holds a write lock on its COW: never write under it.
        try cow.file.lock(.write)
        // The backing's content is copied, so its size and mtime must match.
        let backingFile = try cow.openBacking(override: backing, force: false)
        try backingFile.lock(.read)
        // A kernel whose guest has not opened the disk yet holds no lock.
        // The backing is only read: other guests may share it as theirs.
        try RunningKernels.requireNone([path], writable: [backingFile.path])
        let backingSize = try backingFile.status().size

        let g = cow.geometry
        var notes: [String] = []
        if g.mappablePages < g.pageCount {
            notes.append("the last \(g.sectorCount % 8) sector(s) have no bit in this \(cow.header.layout.rawValue) bitmap: they always read from the backing, so their page is not mixed")
        }
        var fill = PageFill(cow: cow)
        var throttle = ProgressThrottle(progress, total: g.mappablePages, unit: COWGeometry.pageSize)
        let bits = IOBuffer(size: chunk)
        let page = IOBuffer(size: Int(COWGeometry.pageSize))
        var mixed: UInt64 = 0
        var first: UInt64 = 0
        while first < g.mappablePages {
            let count = Int(min(UInt64(chunk), g.mappablePages - first))
            try readPageBits(cow, pages: first..<(first + UInt64(count)), into: bits.slice(0, count))
            for i in 0..<count {
                let b = bits.bytes[i]
                if b == 0 { continue }
                let p = first + UInt64(i)
                let mask = g.pageMask(p)
                let held = b & mask
                if held == 0 || held == mask { continue }
                mixed += 1
                try backingFile.readBacking(into: page.bytes, at: p * COWGeometry.pageSize, size: backingSize)
                try fill.fill(page: p, bits: b, mask: mask, from: UnsafeRawBufferPointer(page.bytes))
            }
            first += UInt64(count)
            throttle.report(first)
        }
        try fill.flush()
        throttle.finish()
        return Result(path: path, mixedPages: mixed, sectorsCopied: fill.sectorsCopied, notes: notes)
    }
}
