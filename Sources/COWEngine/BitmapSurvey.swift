import COWFormat

/// Facts about a COW's bitmap gathered in one streaming pass: what `info`
/// and `check` report.
public struct BitmapSurvey: Sendable, Encodable {
    public var dirtySectors: UInt64 = 0
    /// Image bytes held by the COW (a partial last sector counts its image bytes only).
    public var dirtyBytes: UInt64 = 0
    public var runs: UInt64 = 0
    /// 4 KiB pages with some sectors in the COW and some in the backing: the
    /// 6.1 kernel returns wrong bytes for these in multi-page reads (§4.7-A).
    public var mixedPages: UInt64 = 0
    public var firstMixedPage: UInt64?
    /// COW sectors whose data lies past the end of the COW file (read as zeros, §3.2).
    public var sectorsPastEOF: UInt64 = 0
    public var firstSectorPastEOF: UInt64?
    /// Bits set for sectors that do not exist (padding bits of the last byte).
    public var paddingBitsSet: Bool = false

    public init(_ cow: COWFile) throws(EngineError) {
        let g = cow.geometry
        let fileLength = cow.status.size
        var lastMixed: UInt64?
        var survey = self
        try cow.forEachRun { (run) throws(EngineError) in
            survey.runs += 1
            if run.start % 8 != 0 {
                // A run boundary inside a page makes that page mixed.
                let page = run.start / 8
                if lastMixed != page {
                    survey.mixedPages += 1
                    lastMixed = page
                    if survey.firstMixedPage == nil { survey.firstMixedPage = page }
                }
            }
            guard run.inCOW else { return }
            survey.dirtySectors += run.count
            let lo = min(run.start * 512, g.size)
            let hi = min(run.end * 512, g.size)
            survey.dirtyBytes += hi - lo
            let dataEnd = g.dataOffset + hi
            if dataEnd > fileLength {
                let firstPast = fileLength <= g.dataOffset ? run.start
                    : max(run.start, (fileLength - g.dataOffset) / 512)
                if firstPast < run.end {
                    survey.sectorsPastEOF += run.end - firstPast
                    if survey.firstSectorPastEOF == nil { survey.firstSectorPastEOF = firstPast }
                }
            }
        }
        // The run reader ignores bits past sectorCount; look at them directly.
        let used = g.sectorCount % 8
        if used != 0 && g.bitmapLength * 8 > g.sectorCount {
            var last = [UInt8](repeating: 0, count: 1)
            if try cow.file.read(into: &last, at: g.bitmapOffset + g.bitmapLength - 1) == 1 {
                survey.paddingBitsSet = last[0] >> used != 0
            }
        }
        self = survey
    }
}

extension BitmapSurvey {
    /// Refuses to read a COW whose data runs past its file's end (a
    /// truncated copy): those sectors would silently read as zeros. With
    /// `force` the caller accepts the zeros. `survey`: one the caller has
    /// already made of this COW, so its bitmap is not scanned again.
    static func requireComplete(_ cow: COWFile, force: Bool, survey known: BitmapSurvey? = nil) throws(EngineError) {
        guard !force else { return }
        let survey: BitmapSurvey
        if let known { survey = known } else { survey = try BitmapSurvey(cow) }
        if survey.sectorsPastEOF > 0 {
            throw .dataTruncated(path: cow.path, sectors: survey.sectorsPastEOF, first: survey.firstSectorPastEOF ?? 0)
        }
    }
}
