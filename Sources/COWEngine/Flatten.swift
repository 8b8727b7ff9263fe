#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Merges a COW and its backing into a new flat image (`uml_moo COW OUT`,
/// without its bugs: exactly `size` bytes, spec §3.5 and §5.1).
public enum Flatten {
    public struct Result: Sendable, Encodable {
        public var output: String
        public var size: UInt64
        /// Bytes of the image that came from the COW file.
        public var cowBytes: UInt64
        /// Bytes actually allocated by the output file.
        public var allocatedBytes: UInt64
        /// The backing was reflinked (FICLONE) rather than copied.
        public var cloned: Bool
        public var warnings: [String]
    }

    /// Window size: large sequential reads and writes, and the bound on memory.
    /// Window size: large enough for few syscalls, small enough to stay in
    /// the CPU cache between the read and the write (8 MiB windows cost
    /// measurably more system time than 1 MiB here).
    static let window = 1024 * 1024
    static let block: UInt64 = 4096

    public static func run(
        cow cowPath: String, output: String, backing: String? = nil,
        force: Bool = false, progress: ProgressHandler? = nil
    ) throws(EngineError) -> Result {
        let cow = try COWFile(path: cowPath)
        let (backingFile, warnings) = try openInputs(cow, survey: nil, backing: backing, force: force)
        let out = try AtomicOutput(
            path: output, replace: force,
            inputs: [(cow.status, "COW file"), (try backingFile.status(), "backing file")])
        var throttle = ProgressThrottle(progress, total: cow.geometry.size)
        let (cowBytes, cloned) = try write(cow, backing: backingFile, into: out.file, throttle: &throttle)
        try out.commit()
        throttle.finish()
        let allocated = (try? FileStatus.of(output))??.allocated ?? 0
        return Result(output: output, size: cow.geometry.size, cowBytes: cowBytes, allocatedBytes: allocated,
                      cloned: cloned, warnings: warnings)
    }

    /// Flattens a COW the caller already holds open into `output`, an empty
    /// file the caller created and holds (a maintenance job's scratch image):
    /// only the backing is opened by name, nothing is created, and `survey`
    /// (the caller's of this COW) spares a scan of its bitmap.
    public static func run(
        _ cow: COWFile, survey: BitmapSurvey?, into output: OpenFile, backing: String? = nil
    ) throws(EngineError) -> Result {
        let (backingFile, warnings) = try openInputs(cow, survey: survey, backing: backing, force: false)
        let status = try output.status()
        if status.isSameFile(as: cow.status) { throw .outputIsInput(path: output.path, role: "COW file") }
        if status.isSameFile(as: try backingFile.status()) { throw .outputIsInput(path: output.path, role: "backing file") }
        var throttle = ProgressThrottle(nil, total: cow.geometry.size)
        let (cowBytes, cloned) = try write(cow, backing: backingFile, into: output, throttle: &throttle)
        try output.sync()
        return Result(output: output.path, size: cow.geometry.size, cowBytes: cowBytes,
                      allocatedBytes: try output.status().allocated, cloned: cloned, warnings: warnings)
    }

    /// The checks every flatten makes before writing, and the backing.
    static func openInputs(_ cow: COWFile, survey: BitmapSurvey?, backing: String?,
                           force: Bool) throws(EngineError) -> (OpenFile, [String]) {
        try cow.requireStandardSectors()
        try BitmapSurvey.requireComplete(cow, force: force, survey: survey)
        let backingFile = try cow.openBacking(override: backing, force: force)
        var warnings: [String] = []
        // A running guest holds the COW (the kernel's write lock, corral
        // boot's lease): what is on disk now may be half-written, so only
        // --force reads it anyway.
        do { try cow.file.lock(.read) } catch {
            guard force else { throw error }
            warnings.append("\(error): flattening what is on disk now (--force); the guest may still be writing")
        }
        return (backingFile, warnings)
    }

    /// The merge itself, into `out` (empty, zeros): returns the COW bytes
    /// written and whether the backing was reflinked.
    static func write(_ cow: COWFile, backing backingFile: OpenFile, into out: OpenFile,
                      throttle: inout ProgressThrottle) throws(EngineError) -> (UInt64, Bool) {
        let size = cow.geometry.size
        try out.truncate(to: size)
        let buffer = IOBuffer(size: window)
        let scratch = IOBuffer(size: window)
        var cowBytes: UInt64 = 0
        let backingSize = try backingFile.status().size

        // On XFS/btrfs the backing can be shared instead of copied; then only
        // the COW's runs are written over it.
        let cloned = backingSize == size && out.cloneContents(of: backingFile)
        if cloned {
            cowBytes = try overlayCOWRuns(cow: cow, onto: out, buffer: buffer, throttle: &throttle)
        } else {
            var cursor = try RunCursor(cow)
            var extents = ExtentCursor(backingFile)
            var pos: UInt64 = 0
            while pos < size {
                try cursor.advance(to: pos)
                // A stretch held by the backing: skip its holes without reading them.
                if let run = cursor.current, !run.inCOW, let bytes = cursor.currentBytes {
                    let data = try extents.next(from: pos)?.lowerBound ?? UInt64.max
                    if data >= bytes.upperBound || data >= backingSize {
                        // Keep window starts block-aligned so zero detection matches the filesystem's blocks.
                        let next = bytes.upperBound == size ? size : bytes.upperBound / block * block
                        if next > pos {
                            pos = next
                            throttle.report(pos)
                            continue
                        }
                    } else {
                        pos = max(pos, data / block * block)
                    }
                }
                let end = min(pos + UInt64(window), size)
                let segments = try cursor.cowSegments(in: pos..<end)
                let covered = segments.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }
                // Only the backing's data extents are read; its holes are
                // zeros, which the fresh output already holds.
                var ranges: [Range<UInt64>] = []
                if covered < end - pos {
                    // Nor where the COW covers them: those bytes come from the COW.
                    ranges = subtract(try extents.extents(in: pos..<min(end, backingSize)), segments)
                    for r in ranges {
                        try backingFile.readZeroFilled(
                            into: buffer.slice(Int(r.lowerBound - pos), Int(r.upperBound - r.lowerBound)), at: r.lowerBound)
                    }
                }
                try readCOW(cow, segments: segments, windowStart: pos, into: buffer, scratch: scratch)
                cowBytes += covered
                for r in union(ranges, segments) {
                    try writeNonZero(out, buffer.slice(Int(r.lowerBound - pos), Int(r.upperBound - r.lowerBound)),
                                     at: r.lowerBound)
                }
                out.startWriteback(at: pos, length: end - pos)
                pos = end
                throttle.report(pos)
            }
        }
        return (cowBytes, cloned)
    }

    /// Copies each COW segment's data into `buffer` (indexed from `windowStart`).
    /// Many small segments are read as one span and copied out, to keep the
    /// syscall count low for fragmented bitmaps.
    static func readCOW(_ cow: COWFile, segments: [Range<UInt64>], windowStart: UInt64,
                        into buffer: IOBuffer, scratch: IOBuffer) throws(EngineError) {
        guard let first = segments.first, let last = segments.last else { return }
        let data = cow.geometry.dataOffset
        if segments.count > 8 {
            let spanLength = Int(last.upperBound - first.lowerBound)
            try cow.file.readZeroFilled(into: scratch.slice(0, spanLength), at: data + first.lowerBound)
            for seg in segments {
                let from = Int(seg.lowerBound - first.lowerBound)
                let to = Int(seg.lowerBound - windowStart)
                let n = Int(seg.upperBound - seg.lowerBound)
                buffer.slice(to, n).copyMemory(from: UnsafeRawBufferPointer(scratch.slice(from, n)))
            }
        } else {
            for seg in segments {
                let to = Int(seg.lowerBound - windowStart)
                let n = Int(seg.upperBound - seg.lowerBound)
                try cow.file.readZeroFilled(into: buffer.slice(to, n), at: data + seg.lowerBound)
            }
        }
    }

    /// The parts of `a` not covered by `b` (both sorted lists of disjoint ranges).
    static func subtract(_ a: [Range<UInt64>], _ b: [Range<UInt64>]) -> [Range<UInt64>] {
        guard !b.isEmpty else { return a }
        var out: [Range<UInt64>] = []
        var j = 0
        for r in a {
            var lo = r.lowerBound
            while j < b.count && b[j].upperBound <= lo { j += 1 }
            var k = j
            while lo < r.upperBound {
                guard k < b.count, b[k].lowerBound < r.upperBound else {
                    out.append(lo..<r.upperBound)
                    break
                }
                if b[k].lowerBound > lo { out.append(lo..<b[k].lowerBound) }
                lo = max(lo, b[k].upperBound)
                k += 1
            }
        }
        return out
    }

    /// Sorted union of two sorted lists of disjoint ranges.
    static func union(_ a: [Range<UInt64>], _ b: [Range<UInt64>]) -> [Range<UInt64>] {
        var all = (a + b).sorted { $0.lowerBound < $1.lowerBound }
        guard !all.isEmpty else { return [] }
        var out: [Range<UInt64>] = [all.removeFirst()]
        for r in all {
            if r.lowerBound <= out[out.count - 1].upperBound {
                let last = out[out.count - 1]
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// Writes `buffer` at `offset` into a file that is all zeros there,
    /// skipping 4 KiB blocks (on absolute 4 KiB boundaries) that are zero so
    /// the output stays sparse.
    static func writeNonZero(_ file: OpenFile, _ buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(EngineError) {
        let n = buffer.count
        let blk = Int(block)
        var i = 0
        var runStart = -1
        while i < n {
            let toBoundary = blk - Int((offset + UInt64(i)) % block)
            let len = min(toBoundary, n - i)
            let zero = IOBuffer.isZero(UnsafeRawBufferPointer(rebasing: buffer[i..<(i + len)]))
            if !zero && runStart < 0 { runStart = i }
            if zero && runStart >= 0 {
                try file.write(UnsafeRawBufferPointer(rebasing: buffer[runStart..<i]), at: offset + UInt64(runStart))
                runStart = -1
            }
            i += len
        }
        if runStart >= 0 {
            try file.write(UnsafeRawBufferPointer(rebasing: buffer[runStart..<n]), at: offset + UInt64(runStart))
        }
    }

    /// Writes every COW-held byte over `dest`, which already holds the
    /// backing's content (a reflink copy, or the backing itself for commit).
    /// Zeros are written too: the destination is not zero there.
    static func overlayCOWRuns(cow: COWFile, onto dest: OpenFile, buffer: IOBuffer,
                               throttle: inout ProgressThrottle) throws(EngineError) -> UInt64 {
        var written: UInt64 = 0
        let size = cow.geometry.size
        try cow.forEachRun { (run) throws(EngineError) in
            guard run.inCOW else { return }
            var lo = min(run.start * 512, size)
            let hi = min(run.end * 512, size)
            while lo < hi {
                let n = Int(min(UInt64(buffer.count), hi - lo))
                let chunk = buffer.slice(0, n)
                try cow.file.readZeroFilled(into: chunk, at: cow.geometry.dataOffset + lo)
                try dest.write(UnsafeRawBufferPointer(chunk), at: lo)
                lo += UInt64(n)
                written += UInt64(n)
                throttle.report(written)
            }
        }
        return written
    }
}
