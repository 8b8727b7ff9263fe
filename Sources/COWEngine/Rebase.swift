#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Points a COW at another backing file of the same size.
///
/// **Safe (default): the guest's view does not change.** Wherever the old
/// and new backings differ in a sector the COW does not hold, that
/// sector's page is first moved into the COW from the *old* backing (all
/// of the page's backing-held sectors, so no mixed page is created, §4.7-A);
/// only then is the header rewritten to name the new file with its mtime.
///
/// **Unsafe (`--unsafe`): only the header is rewritten.** This is the fix
/// for a backing that was copied or restored without its mtime. Unless
/// `--force`, corral first proves the new file has the same content: by
/// comparing it with the old backing when that is still readable, else by
/// the fingerprint recorded in the header.
///
/// Write order (crash safety):
/// 1. data of the moved pages, fsync; 2. their bitmap bytes, fsync
///    (``PageFill``); 3. the header, rewritten in place, fsync.
/// Killed before 3, the header still names the old backing, which is
/// unchanged and still matches, so running the same command again finds
/// nothing left to move and rewrites the header. The header is 4128 bytes
/// spanning two filesystem blocks; a power cut in the middle of step 3 can
/// tear it (no journal protects it), which `corral cow check` reports.
///
/// The header keeps its layout: a v1/v2/broken-v3 file is rewritten as
/// itself, never as v3 (the kernel's own backing switch does that and
/// corrupts the disk, §4.3). v1's path field holds at most 255 bytes.
public enum Rebase {
    public struct Result: Sendable, Encodable {
        public var cow: String
        public var oldBacking: String
        /// The path now in the header.
        public var newBacking: String
        public var unsafe: Bool
        /// Pages moved into the COW (safe mode).
        public var pagesCopied: UInt64
        public var sectorsCopied: UInt64
        /// How the new backing was shown to be safe: "copied" (safe mode),
        /// "compared", "fingerprint", "unverified", "forced".
        public var verification: String
        public var fingerprint: Bool
        public var warnings: [String]
    }

    static let window = 1024 * 1024

    public static func run(
        cow path: String, newBacking: String, unsafe: Bool = false, force: Bool = false,
        fingerprint: Bool = true, progress: ProgressHandler? = nil
    ) throws(EngineError) -> Result {
        let cow = try COWFile(path: path, writable: true)
        try BitmapSurvey.requireComplete(cow, force: force)
        try cow.requireStandardSectors()
        // A running UML holds a write lock on its COW: never write under it.
        try cow.file.lock(.write)
        // A kernel whose guest has not opened the disk yet holds no lock.
        // The old backing is only read: other guests may share it as theirs.
        try RunningKernels.requireNone([path], writable: [cow.backingPath(override: nil)])
        let h = cow.header
        let stamp = try BackingStamp.of(newBacking, missing: .newBackingMissing(path: newBacking))
        guard stamp.status.size == h.size else {
            throw .newBackingSizeMismatch(path: newBacking, size: stamp.status.size, diskSize: h.size)
        }
        if stamp.status.isSameFile(as: cow.status) {
            throw .invalidArgument("\(newBacking): the new backing is the COW file itself")
        }
        if stamp.storedPath.utf8.count > h.layout.pathFieldLength - 1 {
            throw .invalidArgument("\(path): a \(h.layout.rawValue) header holds a backing path of at most \(h.layout.pathFieldLength - 1) bytes, and \(stamp.storedPath) is \(stamp.storedPath.utf8.count); corral keeps the file's own layout (rewriting it as v3 corrupts it)")
        }
        let newFile = try OpenFile(newBacking, flags: O_RDONLY)
        try newFile.lock(.read)
        let oldPath = h.backingPathString

        var warnings: [String] = []
        var verification: String
        var pages: UInt64 = 0
        var sectors: UInt64 = 0
        if unsafe {
            verification = try proveSameContent(cow: cow, oldPath: oldPath, newFile: newFile, newBacking: newBacking,
                                                force: force, warnings: &warnings)
        } else {
            let oldFile = try cow.openBacking(override: nil, force: force)
            try oldFile.lock(.read)
            verification = "copied"
            if !(try oldFile.status().isSameFile(as: stamp.status)) {
                var fill = PageFill(cow: cow)
                try moveDifferingPages(cow: cow, old: oldFile, new: newFile, fill: &fill, progress: progress)
                try fill.flush()
                pages = fill.pagesFilled
                sectors = fill.sectorsCopied
            }
        }

        // 3. The header, last: the fingerprint is defined for v3 headers only.
        let print = h.layout == .v3 && fingerprint ? try BackingFingerprint.compute(newFile, storedPath: stamp.storedPath) : nil
        var header = h
        header.backingPath = Array(stamp.storedPath.utf8)
        header.mtime = UInt32(stamp.status.mtime)
        header.pathFieldRemainder = print?.encoded ?? []
        let bytes: [UInt8]
        do { bytes = try header.encode() } catch { throw .format(path: path, error) }
        try cow.file.write(bytes, at: 0)
        try cow.file.sync()
        return Result(cow: path, oldBacking: oldPath, newBacking: stamp.storedPath, unsafe: unsafe,
                      pagesCopied: pages, sectorsCopied: sectors, verification: verification,
                      fingerprint: print != nil, warnings: warnings)
    }

    /// Safe mode: for every page with backing-held sectors whose bytes differ
    /// between the old and new backing, moves those sectors (from the old
    /// backing: what the guest sees now) into the COW.
    static func moveDifferingPages(cow: COWFile, old: OpenFile, new: OpenFile, fill: inout PageFill,
                                   progress: ProgressHandler?) throws(EngineError) {
        let g = cow.geometry
        let size = g.size
        let page = COWGeometry.pageSize
        let oldSize = try old.status().size
        let a = IOBuffer(size: window)
        let b = IOBuffer(size: window)
        // v1/v2: a partial last page has no bits, so it can never be moved; if
        // it differs, the guest's view cannot be kept (§2.1).
        let limit = min(size, g.mappablePages * page)
        if limit < size {
            let n = Int(size - limit)
            try old.readBacking(into: a.slice(0, n), at: limit, size: oldSize)
            try new.readZeroFilled(into: b.slice(0, n), at: limit)
            if let at = Compare.firstDifference(a, b, n) {
                throw .invalidArgument("\(cow.path): the backings differ at byte \(limit + UInt64(at)), in the last \(g.sectorCount % 8) sector(s), which have no bit in this \(cow.header.layout.rawValue) bitmap, so the guest's view cannot be kept; flatten it and use from-image instead")
            }
        }
        let bits = IOBuffer(size: window / Int(page))
        var throttle = ProgressThrottle(progress, total: limit)
        var pos: UInt64 = 0
        while pos < limit {
            guard let data = try JointData.window(old, new, from: pos, limit: limit, maximum: window) else { break }
            pos = data.lowerBound
            let end = data.upperBound
            let firstPage = pos / page
            let pageCount = Int((end - pos + page - 1) / page)
            try readPageBits(cow, pages: firstPage..<(firstPage + UInt64(pageCount)), into: bits.slice(0, pageCount))
            var anyClear = false
            for i in 0..<pageCount where bits.bytes[i] & g.pageMask(firstPage + UInt64(i)) != g.pageMask(firstPage + UInt64(i)) {
                anyClear = true
                break
            }
            if anyClear {
                let length = Int(end - pos)
                let padded = pageCount * Int(page)
                try old.readBacking(into: a.slice(0, length), at: pos, size: oldSize)
                try new.readZeroFilled(into: b.slice(0, length), at: pos)
                // The partial last sector's tail is not part of the disk: keep it zero.
                a.zero(length, padded - length)
                b.zero(length, padded - length)
                for i in 0..<pageCount {
                    let p = firstPage + UInt64(i)
                    let mask = g.pageMask(p)
                    let held = bits.bytes[i]
                    let clear = mask & ~held
                    if clear == 0 { continue }
                    let lo = i * Int(page)
                    var differs = false
                    for k in 0..<8 where (clear >> k) & 1 == 1 {
                        let s = lo + k * 512
                        if memcmp(a.bytes.baseAddress! + s, b.bytes.baseAddress! + s, 512) != 0 {
                            differs = true
                            break
                        }
                    }
                    if differs {
                        try fill.fill(page: p, bits: held, mask: mask,
                                      from: UnsafeRawBufferPointer(a.slice(lo, Int(page))))
                    }
                }
            }
            pos = end
            throttle.report(pos)
        }
        throttle.finish()
    }

    /// Unsafe mode: establishes that `newFile` holds what the old backing
    /// held, or throws. Returns how.
    static func proveSameContent(cow: COWFile, oldPath: String, newFile: OpenFile, newBacking: String,
                                 force: Bool, warnings: inout [String]) throws(EngineError) -> String {
        if force {
            warnings.append("--force: \(newBacking) was not checked against the old backing; if their contents differ, the guest's disk is now corrupt")
            return "forced"
        }
        let newStatus = try newFile.status()
        let fingerprint = BackingFingerprint.state(of: cow.header)
        let oldStatus = try FileStatus.of(oldPath)
        let sameFile = oldStatus.map { $0.isSameFile(as: newStatus) } ?? false
        if let oldStatus, !sameFile, let old = try? OpenFile(oldPath, flags: O_RDONLY) {
            // The old backing is still here: compare the two files byte for byte.
            if oldStatus.size != newStatus.size {
                throw .backingContentDiffers(old: oldPath, new: newBacking, offset: min(oldStatus.size, newStatus.size))
            }
            if let at = try rawDifference(old, newFile, size: newStatus.size) {
                throw .backingContentDiffers(old: oldPath, new: newBacking, offset: at)
            }
            return "compared"
        }
        if case .present(let fp) = fingerprint {
            guard try fp.matches(newFile) else { throw .fingerprintMismatch(backing: newBacking, cow: cow.path) }
            return "fingerprint"
        }
        if sameFile {
            // Re-stamping the header's own file (its mtime changed): nothing
            // remains to compare it with, as with `touch -d` before.
            warnings.append("\(newBacking) could not be verified (\(cow.path) has no fingerprint): if its content changed since the COW was made, the guest's disk is now corrupt")
            return "unverified"
        }
        throw .invalidArgument("\(oldPath): the old backing is not readable and \(cow.path) has no fingerprint, so \(newBacking) cannot be proven to hold the same data; pass --force if you are sure")
    }

    /// First differing byte of two equally sized raw files, skipping holes in both.
    static func rawDifference(_ a: OpenFile, _ b: OpenFile, size: UInt64) throws(EngineError) -> UInt64? {
        let bufA = IOBuffer(size: window)
        let bufB = IOBuffer(size: window)
        var pos: UInt64 = 0
        while pos < size {
            guard let data = try JointData.window(a, b, from: pos, limit: size, maximum: window) else { break }
            pos = data.lowerBound
            let n = Int(data.upperBound - pos)
            try a.readZeroFilled(into: bufA.slice(0, n), at: pos)
            try b.readZeroFilled(into: bufB.slice(0, n), at: pos)
            if let at = Compare.firstDifference(bufA, bufB, n) { return pos + UInt64(at) }
            pos += UInt64(n)
        }
        return nil
    }
}
