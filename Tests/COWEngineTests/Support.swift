import Foundation
import Testing
import TestSupport
@testable import COWEngine
@testable import COWFormat

/// Test data for the engine: backing patterns, COW files written
/// independently of the engine's writers, reference merges and lock
/// holders. Data goes into a ``Scratch`` directory under /tmp, which a
/// ``KernelGuest`` reaches at the same path (hostfs root "/").
enum Fixture {
    static let mtime: Int64 = 1_704_067_200

    /// Spec §7 backing pattern: sector i is "tag:%012d:" repeated, cut to 512
    /// bytes; the file is cut to `size`.
    static func pattern(size: Int, tag: String = "back") -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size)
        var i = 0
        while out.count < size {
            let unit = Array("\(tag):\(String(format: "%012d", i)):".utf8)
            var sector: [UInt8] = []
            while sector.count < 512 { sector += unit }
            out += sector.prefix(min(512, size - out.count))
            i += 1
        }
        return out
    }

    static func write(_ bytes: [UInt8], to path: String, mtime: Int64? = Fixture.mtime) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        if let mtime { try setMtime(path, mtime) }
    }

    static func setMtime(_ path: String, _ t: Int64) throws {
        var times = [timespec(tv_sec: Int(t), tv_nsec: 0), timespec(tv_sec: Int(t), tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else {
            throw TestFailure("utimensat \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes a COW of `layout` over `backing` with the given sectors set to
    /// the given byte value, independently of the engine's writer paths.
    static func makeCOW(
        _ path: String, backing: String, size: UInt64, layout: COWLayout = .v3, alignment: UInt32 = 4096,
        sectors: [UInt64: UInt8], mtime: UInt32 = UInt32(Fixture.mtime)
    ) throws {
        let header = COWHeader(layout: layout, mtime: mtime, size: size, sectorSize: 512,
                               alignment: alignment, backingPath: Array(backing.utf8))
        let g = try COWGeometry(header: header)
        var bytes = try header.encode()
        bytes += [UInt8](repeating: 0, count: Int(g.dataOffset) - bytes.count)
        let full = Int(g.createdFileLength)
        bytes += [UInt8](repeating: 0, count: full - bytes.count)
        for (s, value) in sectors {
            let j = Int(g.bitmapOffset) + Int(s / 8)
            bytes[j] |= 1 << (s % 8)
            let at = Int(g.dataOffset) + Int(s) * 512
            if bytes.count < at + 512 { bytes += [UInt8](repeating: 0, count: at + 512 - bytes.count) }
            for k in 0..<512 { bytes[at + k] = value }
        }
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// The merge contract of spec §3.5, written plainly.
    static func referenceMerge(backing: [UInt8], size: Int, sectors: [UInt64: UInt8]) -> [UInt8] {
        var out = Array(backing.prefix(size))
        out += [UInt8](repeating: 0, count: size - out.count)
        for (s, value) in sectors {
            let lo = Int(s) * 512
            guard lo < size else { continue }
            for k in lo..<min(lo + 512, size) { out[k] = value }
        }
        return out
    }

    /// Patches bytes into a file in place (keeps its mtime unless told).
    static func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try h.seek(toOffset: offset)
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    /// Ends a lock holder from ``holdLock(_:)``.
    static func release(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Holds a POSIX (fcntl) write lock on `path` from another process, as a
    /// running UML does, until ``release(_:)``.
    static func holdLock(_ path: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import fcntl,time,sys; f=open(sys.argv[1],'r+b'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked',flush=True); time.sleep(60)", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        _ = out.fileHandleForReading.availableData  // blocks until "locked"
        return p
    }

    /// Where two byte arrays first differ, for a failure message that says
    /// which sector went wrong instead of dumping a megabyte.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
        guard a.count == b.count else { return "sizes \(a.count) and \(b.count)" }
        guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "identical" }
        let last = (0..<a.count).last(where: { a[$0] != b[$0] }) ?? i
        return "bytes \(i)...\(last) (sector \(i / 512)) differ, first 0x\(String(a[i], radix: 16)) vs 0x\(String(b[i], radix: 16))"
    }

    /// An independent merge (spec §3.5) of a v3 COW with 512-byte sectors:
    /// bit i set → the COW's data, else the backing's. Whole files in memory (tests only).
    static func referenceMerge(cow: String, backing: String) throws -> [UInt8] {
        let c = try read(cow)
        let b = try read(backing)
        func be32(_ o: Int) -> Int { Int(c[o]) << 24 | Int(c[o + 1]) << 16 | Int(c[o + 2]) << 8 | Int(c[o + 3]) }
        let size = (0..<8).reduce(0) { $0 << 8 | Int(c[12 + $1]) }
        let align = be32(24)
        let sectors = (size + 511) / 512
        let bitmapOffset = (4128 + align - 1) / align * align
        let dataOffset = (bitmapOffset + (sectors + 7) / 8 + align - 1) / align * align
        var out = b
        for s in 0..<sectors where c[bitmapOffset + s / 8] >> (s % 8) & 1 == 1 {
            for k in (s * 512)..<min(s * 512 + 512, size) {
                let at = dataOffset + k
                out[k] = at < c.count ? c[at] : 0
            }
        }
        return out
    }

    /// Sets bit `sector` and stores `data` (≤ 512 bytes) for it in a v3 COW,
    /// as the kernel would after a single-sector write.
    static func writeSector(cow: String, sector: Int, data: [UInt8]) throws {
        let file = try COWFile(path: cow)
        let g = file.geometry
        try patch(cow, at: g.dataOffset + UInt64(sector) * 512, data)
        var byte = [UInt8](repeating: 0, count: 1)
        _ = try file.file.read(into: &byte, at: g.bitmapOffset + UInt64(sector / 8))
        try patch(cow, at: g.bitmapOffset + UInt64(sector / 8), [byte[0] | UInt8(1 << (sector % 8))])
    }
}

var isRoot: Bool { getuid() == 0 }
