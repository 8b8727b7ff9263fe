/// A maximal run of consecutive sectors that share a source.
public struct SectorRun: Sendable, Equatable {
    public var start: UInt64
    public var count: UInt64
    /// True: the data lives in the COW file; false: in the backing file.
    public var inCOW: Bool

    public init(start: UInt64, count: UInt64, inCOW: Bool) {
        self.start = start
        self.count = count
        self.inCOW = inCOW
    }

    public var end: UInt64 { start + count }
}

/// Turns bitmap bytes, fed in consecutive chunks, into maximal runs.
///
/// The bitmap of a 1 TiB disk is 256 MiB, so it is never held whole: the
/// engine feeds chunks of a fixed size and this keeps only the open run.
/// Bit k of byte j is sector 8j + k, least significant bit first (§3.1).
/// Whole 64-bit words of zeros or ones are consumed in one step.
public struct BitmapRunBuilder: Sendable {
    /// Sectors past this limit are ignored (padding bits, or v1/v2 sectors
    /// outside the bitmap, which the kernel reads from the backing).
    public let sectorLimit: UInt64
    private var nextSector: UInt64 = 0
    private var open: SectorRun?

    public init(sectorLimit: UInt64) {
        self.sectorLimit = sectorLimit
    }

    /// The sector the next fed byte describes.
    public var position: UInt64 { nextSector }

    /// Feeds the next chunk of bitmap bytes; calls `emit` for every run that
    /// is complete.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, emit: (SectorRun) throws -> Void
    ) rethrows {
        var i = 0
        let n = bytes.count
        while i < n && nextSector < sectorLimit {
            if i + 8 <= n && nextSector + 64 <= sectorLimit {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if word == 0 || word == .max {
                    try append(SectorRun(start: nextSector, count: 64, inCOW: word != 0), emit: emit)
                    nextSector += 64
                    i += 8
                    continue
                }
                var w = word
                var left: UInt64 = 64
                while left > 0 {
                    let bit = w & 1 == 1
                    let len = UInt64(bit ? (~w).trailingZeroBitCount : w.trailingZeroBitCount)
                    let take = min(len, left)
                    try append(SectorRun(start: nextSector, count: take, inCOW: bit), emit: emit)
                    nextSector += take
                    left -= take
                    w = take >= 64 ? 0 : w >> take
                }
                i += 8
                continue
            }
            let byte = bytes[i]
            for k in 0..<8 where nextSector < sectorLimit {
                try append(SectorRun(start: nextSector, count: 1, inCOW: (byte >> k) & 1 == 1), emit: emit)
                nextSector += 1
            }
            i += 1
        }
    }

    /// Treats every sector from the current position up to the limit as
    /// clear (the bitmap ended early, e.g. a truncated file or v1/v2
    /// rounding), then emits the last run.
    public mutating func finish(emit: (SectorRun) throws -> Void) rethrows {
        if nextSector < sectorLimit {
            try append(SectorRun(start: nextSector, count: sectorLimit - nextSector, inCOW: false), emit: emit)
            nextSector = sectorLimit
        }
        if let run = open {
            open = nil
            try emit(run)
        }
    }

    private mutating func append(_ run: SectorRun, emit: (SectorRun) throws -> Void) rethrows {
        guard run.count > 0 else { return }
        if var current = open {
            if current.inCOW == run.inCOW && current.end == run.start {
                current.count += run.count
                open = current
                return
            }
            try emit(current)
        }
        open = run
    }
}
