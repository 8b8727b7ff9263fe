import COWFormat

/// Walks a COW's runs in byte terms, clipped to the image size, so callers
/// can ask "which parts of this byte window live in the COW?" while the
/// bitmap streams underneath.
struct RunCursor {
    private var reader: RunReader
    private let size: UInt64
    private(set) var current: SectorRun?

    init(_ cow: COWFile) throws(EngineError) {
        reader = RunReader(cow)
        size = cow.geometry.size
        current = try reader.next()
    }

    /// Byte range of the current run, clipped to the image.
    var currentBytes: Range<UInt64>? {
        guard let run = current else { return nil }
        let lo = min(run.start * 512, size)
        let hi = min(run.end * 512, size)
        return lo..<hi
    }

    /// Moves past runs that end at or before `offset`.
    mutating func advance(to offset: UInt64) throws(EngineError) {
        while let bytes = currentBytes, bytes.upperBound <= offset {
            current = try reader.next()
        }
    }

    /// The COW-held byte ranges within `window`, in order. Leaves the cursor
    /// on the run that contains `window.upperBound` (if any).
    mutating func cowSegments(in window: Range<UInt64>) throws(EngineError) -> [Range<UInt64>] {
        try advance(to: window.lowerBound)
        var segments: [Range<UInt64>] = []
        while let run = current, let bytes = currentBytes, bytes.lowerBound < window.upperBound {
            if run.inCOW {
                let lo = max(bytes.lowerBound, window.lowerBound)
                let hi = min(bytes.upperBound, window.upperBound)
                if lo < hi { segments.append(lo..<hi) }
            }
            if bytes.upperBound > window.upperBound { break }
            current = try reader.next()
        }
        return segments
    }
}
