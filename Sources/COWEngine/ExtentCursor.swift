/// Walks a file's data extents forward, remembering the last answer.
///
/// SEEK_DATA/SEEK_HOLE can cost 100 µs each on a large sparse ext4 file,
/// and a merge asks about the same extent once per window; with this, each
/// extent costs one SEEK_DATA and one SEEK_HOLE. Queries must not go backwards.
struct ExtentCursor {
    let file: OpenFile
    /// The cached extent, valid for queries at offsets in `validFrom..<extent.upperBound`.
    private var validFrom: UInt64 = .max
    private var extent: Range<UInt64> = 0..<0
    private var exhaustedFrom: UInt64 = .max

    init(_ file: OpenFile) {
        self.file = file
    }

    /// The first data extent ending after `offset` (clipped to start at
    /// `offset`), or nil when only holes remain.
    mutating func next(from offset: UInt64) throws(EngineError) -> Range<UInt64>? {
        if offset >= exhaustedFrom { return nil }
        if offset >= validFrom && offset < extent.upperBound {
            return max(offset, extent.lowerBound)..<extent.upperBound
        }
        guard let d = try file.nextData(from: offset) else {
            exhaustedFrom = offset
            return nil
        }
        let h = try file.nextHole(from: d)
        guard h > d else {
            exhaustedFrom = offset
            return nil
        }
        validFrom = offset
        extent = d..<h
        return d..<h
    }

    /// The data extents within `range`.
    mutating func extents(in range: Range<UInt64>) throws(EngineError) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        var p = range.lowerBound
        while p < range.upperBound, let e = try next(from: p), e.lowerBound < range.upperBound {
            let hi = min(e.upperBound, range.upperBound)
            out.append(e.lowerBound..<hi)
            p = hi
        }
        return out
    }
}
