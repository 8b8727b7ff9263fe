#if canImport(Glibc)
import Glibc
#endif

/// The three header fields preflight needs (backing path, mtime, size) from a
/// big-endian v2 or v3 COW file, the layouts every current writer produces
/// (spec §1.3, §1.4).
///
/// A stopgap while `DiskCheck` in COWEngine is a stub: preflight uses it only
/// when DiskCheck does not recognise the file as a COW. Anything unusual
/// (v1, broken v3) is left to DiskCheck and the kernel.
struct COWHeaderPeek: Equatable {
    var backingPath: String
    var mtime: UInt32
    var size: UInt64

    /// Whether the file starts with the COW magic in either byte order (§1.1).
    static func hasMagic(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
        return n == 4 && (magic == [0x4f, 0x4f, 0x4f, 0x4d] || magic == [0x4d, 0x4f, 0x4f, 0x4f])
    }

    static func read(path: String) -> COWHeaderPeek? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 4128)
        let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 8, header[0..<4].elementsEqual([0x4f, 0x4f, 0x4f, 0x4d]) else { return nil }
        func be32(_ at: Int) -> UInt32 { header[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        func be64(_ at: Int) -> UInt64 { header[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        func cString(_ range: Range<Int>) -> String {
            let bytes = header[range]
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch be32(4) {
        case 2 where n >= 4120:
            return COWHeaderPeek(backingPath: cString(8..<4104), mtime: be32(4104), size: be64(4108))
        case 3 where n >= 4128 && be32(32) != 0:
            return COWHeaderPeek(backingPath: cString(32..<4128), mtime: be32(8), size: be64(12))
        default:
            return nil
        }
    }
}
