import COWFormat

/// Page arithmetic. A 4 KiB page at a 4 KiB-aligned disk offset holds 8
/// sectors, and bit k of bitmap byte j is sector 8j + k (spec §3.1), so page
/// p is described by exactly bitmap byte p. Everything that works "in whole
/// pages" therefore works on whole bitmap bytes.
extension COWGeometry {
    static let pageSize: UInt64 = 4096

    /// Pages the disk has, counting a partial last page.
    var pageCount: UInt64 { (sectorCount + 7) / 8 }

    /// Pages whose bitmap byte lies inside the bitmap. For v1/v2 with
    /// `sectorCount % 8 != 0` the last page has no byte (§2.1): all of its
    /// sectors always read from the backing, so it is never mixed and can
    /// never be moved into the COW.
    var mappablePages: UInt64 { min(pageCount, bitmapLength) }

    /// Bits of page `page`'s bitmap byte that stand for sectors that exist:
    /// 0xFF except on a partial last page, whose missing sectors are not part
    /// of the disk and so cannot make it mixed.
    func pageMask(_ page: UInt64) -> UInt8 {
        let present = sectorCount - page * 8
        return present >= 8 ? 0xFF : UInt8((1 << present) - 1)
    }
}

/// Moves the backing-held sectors of chosen pages into the COW, making those
/// pages wholly COW-held, in the crash-safe order the kernel itself uses
/// (data first, then bitmap, §3.4) but with an fsync in between:
///
/// 1. the sectors' data is written into the COW data area, where nothing
///    reads it yet (their bits are clear, so readers take the backing);
/// 2. ``flush()`` fsyncs the data, then writes the new bitmap bytes, then
///    fsyncs again.
///
/// A crash before step 2 completes leaves some pages with new data and
/// old bits, which is harmless (the data equals what the backing supplies
/// or is unreferenced) and is redone by running the command again. A bit
/// is never on disk before the data it points at.
///
/// Pending bitmap bytes are bounded (``maximumPending``), so memory does not
/// grow with the disk.
struct PageFill {
    let cow: COWFile
    private var pending: [(page: UInt64, value: UInt8)] = []
    private(set) var pagesFilled: UInt64 = 0
    private(set) var sectorsCopied: UInt64 = 0

    /// One fsync pair per this many pages at most (and at the end).
    static let maximumPending = 16 * 1024

    init(cow: COWFile) {
        self.cow = cow
    }

    /// Copies the sectors of `page` whose bits are clear (within `mask`)
    /// from `source`, which holds the page's 4096 bytes as the guest sees
    /// them, into the COW, and queues the bitmap byte `bits | mask`.
    mutating func fill(page: UInt64, bits: UInt8, mask: UInt8, from source: UnsafeRawBufferPointer) throws(EngineError) {
        let clear = mask & ~bits
        guard clear != 0 else { return }
        let base = cow.geometry.dataOffset + page * COWGeometry.pageSize
        var k = 0
        while k < 8 {
            guard (clear >> k) & 1 == 1 else { k += 1; continue }
            var e = k
            while e < 8 && (clear >> e) & 1 == 1 { e += 1 }
            try cow.file.write(UnsafeRawBufferPointer(rebasing: source[(k * 512)..<(e * 512)]), at: base + UInt64(k * 512))
            sectorsCopied += UInt64(e - k)
            k = e
        }
        pending.append((page, bits | mask))
        pagesFilled += 1
        if pending.count >= Self.maximumPending { try flush() }
    }

    /// Makes the queued data durable, then writes and syncs the bitmap bytes
    /// that point at it (consecutive bytes in one write).
    mutating func flush() throws(EngineError) {
        guard !pending.isEmpty else { return }
        try cow.file.sync()
        var i = 0
        while i < pending.count {
            var j = i + 1
            while j < pending.count && pending[j].page == pending[j - 1].page + 1 { j += 1 }
            let bytes = pending[i..<j].map(\.value)
            try cow.file.write(bytes, at: cow.geometry.bitmapOffset + pending[i].page)
            i = j
        }
        try cow.file.sync()
        pending.removeAll(keepingCapacity: true)
    }
}

/// Reads bitmap bytes for a range of pages, treating bytes past the end of
/// the file or of the bitmap as clear (as the kernel does, §4.7-H, §2.1).
func readPageBits(_ cow: COWFile, pages: Range<UInt64>, into buffer: UnsafeMutableRawBufferPointer) throws(EngineError) {
    let count = Int(pages.upperBound - pages.lowerBound)
    let inBitmap = pages.lowerBound >= cow.geometry.bitmapLength ? 0
        : Int(min(pages.upperBound, cow.geometry.bitmapLength) - pages.lowerBound)
    if inBitmap > 0 {
        try cow.file.readZeroFilled(
            into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<inBitmap]),
            at: cow.geometry.bitmapOffset + pages.lowerBound)
    }
    if inBitmap < count {
        UnsafeMutableRawBufferPointer(rebasing: buffer[inBitmap..<count]).initializeMemory(as: UInt8.self, repeating: 0)
    }
}
