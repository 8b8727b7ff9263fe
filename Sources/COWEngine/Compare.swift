#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Compares what a guest would see on two disks, each a COW (merged over
/// its backing) or a raw image, like `qemu-img compare`.
///
/// Stretches that read as zeros without reading anything in both disks
/// (holes in whichever file supplies them) are skipped, so two mostly
/// empty 20 GiB disks compare in the time it takes to walk their extents.
/// Everything else is read in fixed windows; memory does not grow with
/// the disks.
public enum Compare {
    public enum Outcome: Sendable, Equatable {
        case identical
        /// The disks differ in size (nothing else is compared).
        case sizesDiffer(UInt64, UInt64)
        /// First byte offset at which the contents differ.
        case contentDiffers(at: UInt64)
    }

    public struct Result: Sendable {
        public var outcome: Outcome
        public var size: UInt64
        /// Bytes actually read and compared (the rest was holes in both).
        public var bytesCompared: UInt64
        public var identical: Bool { outcome == .identical }
    }

    static let window = 1024 * 1024

    /// - Parameters:
    ///   - force: accept a COW whose backing's size or mtime differs from its header.
    public static func run(_ a: String, _ b: String, force: Bool = false,
                           progress: ProgressHandler? = nil) throws(EngineError) -> Result {
        let left = try VirtualDisk(path: a, force: force, window: window)
        let right = try VirtualDisk(path: b, force: force, window: window)
        guard left.size == right.size else {
            return Result(outcome: .sizesDiffer(left.size, right.size), size: max(left.size, right.size), bytesCompared: 0)
        }
        let size = left.size
        var ea = try left.extents()
        var eb = try right.extents()
        var xa = try ea.next()
        var xb = try eb.next()
        let bufA = IOBuffer(size: window)
        let bufB = IOBuffer(size: window)
        var throttle = ProgressThrottle(progress, total: size)
        var compared: UInt64 = 0
        var pos: UInt64 = 0
        while pos < size {
            while let x = xa, x.end <= pos { xa = try ea.next() }
            while let x = xb, x.end <= pos { xb = try eb.next() }
            guard let ca = xa, let cb = xb else { break }
            if ca.source == .zero && cb.source == .zero {
                pos = min(ca.end, cb.end)
                throttle.report(pos)
                continue
            }
            // Read up to the next stretch that is zero in both (or a window).
            let limit = min(pos + UInt64(window), size)
            var end = pos
            while end < limit {
                while let x = xa, x.end <= end { xa = try ea.next() }
                while let x = xb, x.end <= end { xb = try eb.next() }
                guard let na = xa, let nb = xb, na.source != .zero || nb.source != .zero else { break }
                end = min(limit, na.end, nb.end)
            }
            let length = Int(end - pos)
            try left.read(into: bufA, length: length, at: pos)
            try right.read(into: bufB, length: length, at: pos)
            compared += UInt64(length)
            if let at = firstDifference(bufA, bufB, length) {
                return Result(outcome: .contentDiffers(at: pos + UInt64(at)), size: size, bytesCompared: compared)
            }
            pos += UInt64(length)
            throttle.report(pos)
        }
        throttle.finish()
        return Result(outcome: .identical, size: size, bytesCompared: compared)
    }

    static func firstDifference(_ a: IOBuffer, _ b: IOBuffer, _ length: Int) -> Int? {
        guard let pa = a.bytes.baseAddress, let pb = b.bytes.baseAddress,
              memcmp(pa, pb, length) != 0 else { return nil }
        var i = 0
        while i < length {
            let n = min(4096, length - i)
            if memcmp(pa + i, pb + i, n) != 0 {
                for k in i..<(i + n) where a.bytes[k] != b.bytes[k] { return k }
            }
            i += n
        }
        return nil
    }
}
