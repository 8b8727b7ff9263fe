import COWFormat

/// Where either of two files holds data, in page-aligned windows: the walk
/// that from-image, rebase and the raw backing comparison share. Where both
/// files are holes both read as zeros, so nothing there can differ, and it
/// is skipped without reading (SEEK_DATA/SEEK_HOLE).
enum JointData {
    /// The next window at or after `pos`: from the page holding the first
    /// data byte of either file to where both are holes again (rounded up to
    /// a page, at least one page), at most `maximum` bytes, ending at `limit`
    /// at the latest. nil when neither file has data before `limit`.
    static func window(_ a: OpenFile, _ b: OpenFile, from pos: UInt64, limit: UInt64,
                       maximum: Int) throws(EngineError) -> Range<UInt64>? {
        let page = COWGeometry.pageSize
        let next = min(try a.nextData(from: pos) ?? limit, try b.nextData(from: pos) ?? limit)
        if next >= limit { return nil }
        let start = max(pos, next / page * page)
        let dataEnd = roundUpToPage(max(try a.nextHole(from: start), try b.nextHole(from: start)))
        return start..<min(start + UInt64(maximum), limit, max(dataEnd, start + page))
    }
}

/// `offset` rounded up to a 4 KiB page, saturating (SEEK_HOLE's "no holes" is UInt64.max).
func roundUpToPage(_ offset: UInt64) -> UInt64 {
    let page = COWGeometry.pageSize
    return offset > UInt64.max - page ? UInt64.max : (offset + page - 1) / page * page
}
