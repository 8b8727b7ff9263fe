#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// A 64-bit little-endian ELF file, read only as far as its program headers:
/// what ``KernelBuildID`` needs to name a kernel build (its notes), find its
/// interpreter (PT_INTERP) and the library directories it will load from
/// (PT_DYNAMIC's run path). Reads with `pread` through one descriptor, at
/// most 1 MiB at a time, so a hostile or truncated file costs little.
struct ELFImage {
    struct Segment {
        var type: UInt32
        var offset: UInt64
        var address: UInt64
        var fileSize: UInt64
    }

    static let interpreterType: UInt32 = 3   // PT_INTERP
    static let dynamicType: UInt32 = 2       // PT_DYNAMIC
    static let noteType: UInt32 = 4          // PT_NOTE
    static let loadType: UInt32 = 1          // PT_LOAD

    let file: Descriptor
    let segments: [Segment]

    /// nil when `path` cannot be opened or is not a 64-bit little-endian ELF file.
    init?(path: String) {
        guard let file = try? Descriptor(open: path, flags: O_RDONLY, noFollow: false) else { return nil }
        self.file = file
        guard let header = Self.bytes(file, 0, 64), header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]),
              header[4] == 2 /* ELFCLASS64 */, header[5] == 1 /* little-endian */ else { return nil }
        let tableOffset = header.le64(32), entrySize = Int(header.le16(54)), count = Int(header.le16(56))
        guard entrySize >= 56, count <= 256, let table = Self.bytes(file, tableOffset, entrySize * count) else { return nil }
        segments = (0..<count).map { index in
            let entry = Array(table[(index * entrySize)..<((index + 1) * entrySize)])
            return Segment(type: entry.le32(0), offset: entry.le64(8), address: entry.le64(16), fileSize: entry.le64(32))
        }
    }

    /// `count` bytes at `offset`, or nil when the file has fewer.
    func bytes(_ offset: UInt64, _ count: Int) -> [UInt8]? { Self.bytes(file, offset, count) }

    /// Up to `count` bytes at `offset`: fewer where the file ends.
    func prefix(at offset: UInt64, upTo count: Int) -> [UInt8] {
        guard count > 0, count <= 1 << 20, offset <= UInt64(Int64.max) else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, count, off_t(offset)) }
        return Array(buffer.prefix(max(0, n)))
    }

    /// A segment's bytes in the file.
    func contents(_ segment: Segment) -> [UInt8]? { bytes(segment.offset, Int(clamping: segment.fileSize)) }

    /// The file offset of a virtual address inside a PT_LOAD segment.
    func fileOffset(ofAddress address: UInt64) -> UInt64? {
        for s in segments where s.type == Self.loadType && address >= s.address && address < s.address &+ s.fileSize {
            return address - s.address + s.offset
        }
        return nil
    }

    private static func bytes(_ file: Descriptor, _ offset: UInt64, _ count: Int) -> [UInt8]? {
        guard count > 0, count <= 1 << 20, offset <= UInt64(Int64.max) else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, count, off_t(offset)) }
        return n == count ? buffer : nil
    }
}

extension Array where Element == UInt8 {
    func le16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func le32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[at + $1]) << (8 * $1) } }
    func le64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[at + $1]) << (8 * $1) } }
}
