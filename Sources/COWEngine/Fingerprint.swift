import CLibcrypto
import COWFormat

/// SHA-256 through libcrypto's EVP interface, fed in pieces.
struct SHA256 {
    private let context: OpaquePointer

    init() {
        // Allocation failure of a few hundred bytes is not recoverable here.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        context = ctx
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    func update(bigEndian value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { update($0) }
    }

    /// The 32-byte digest; the value must not be used afterwards.
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        EVP_MD_CTX_free(context)
        return out
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        let h = SHA256()
        h.update(bytes)
        return h.finish()
    }
}

/// A digest of a backing file's content, which corral records in the room
/// the kernel ignores after the path's NUL in the header's path field
/// (§1.7). It catches what the kernel cannot (§4.7-I): a backing whose
/// content changed while its size and mtime did not.
///
/// The digest depends on the content only, never on how the file is
/// stored: it covers the file size and, for every 4 KiB block (at a 4 KiB
/// file offset) that is not all zeros, the block's offset and bytes. Holes
/// and zero blocks contribute nothing, so a sparse copy, a `cp -p` to another
/// filesystem or a fully allocated copy all give the same value, and only
/// data extents (SEEK_DATA/SEEK_HOLE) are ever read.
///
/// Record, right after the NUL (66 bytes): `CORRALFP1`, algorithm (1 =
/// SHA-256 of non-zero 4 KiB blocks), backing size (u64 BE), the first 8
/// bytes of SHA-256 of the backing path the record was made for, the
/// 32-byte digest, and the first 8 bytes of SHA-256 of everything before.
/// The check bytes make kernel garbage (§1.7) never parse as a record; the
/// path binding makes a record that survived a kernel backing switch (§4.3:
/// the kernel rebuilds the header from a recycled buffer) count as absent
/// rather than raise a false alarm.
public struct BackingFingerprint: Sendable, Equatable {
    public var size: UInt64
    public var digest: [UInt8]
    var pathDigest: [UInt8]

    static let tag = Array("CORRALFP1".utf8)
    static let algorithm: UInt8 = 1
    static let recordLength = 9 + 1 + 8 + 8 + 32 + 8
    static let block = 4096
    static let window = 1024 * 1024

    /// What a header's path-field remainder says.
    public enum State: Sendable, Equatable {
        /// No record: not made by corral, or rewritten by the kernel.
        case absent
        /// A valid record made for another backing path (a kernel backing switch kept stale bytes).
        case otherPath
        case present(BackingFingerprint)
    }

    /// The digest as hex, for messages and JSON.
    public var hex: String {
        digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    var encoded: [UInt8] {
        var body = Self.tag
        body.append(Self.algorithm)
        body.append(contentsOf: Self.bigEndianBytes(size))
        body.append(contentsOf: pathDigest)
        body.append(contentsOf: digest)
        body.append(contentsOf: SHA256.digest(body).prefix(8))
        return body
    }

    static func bigEndianBytes(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) }
    }

    /// Reads the record in `header`, if any.
    public static func state(of header: COWHeader) -> State {
        let r = header.pathFieldRemainder
        guard r.count >= recordLength, Array(r[0..<9]) == tag, r[9] == algorithm else { return .absent }
        let body = Array(r[0..<(recordLength - 8)])
        guard Array(r[(recordLength - 8)..<recordLength]) == Array(SHA256.digest(body).prefix(8)) else { return .absent }
        var size: UInt64 = 0
        for b in r[10..<18] { size = size << 8 | UInt64(b) }
        let fp = BackingFingerprint(size: size, digest: Array(r[26..<58]), pathDigest: Array(r[18..<26]))
        guard fp.pathDigest == Array(SHA256.digest(header.backingPath).prefix(8)) else { return .otherPath }
        return .present(fp)
    }

    /// Computes the fingerprint of `file` for a header storing `storedPath`,
    /// or nil when the path leaves no room for the record in a v3 path field.
    static func compute(_ file: OpenFile, storedPath: String) throws(EngineError) -> BackingFingerprint? {
        let pathBytes = Array(storedPath.utf8)
        guard pathBytes.count + 1 + recordLength <= COWLayout.v3.pathFieldLength else { return nil }
        let size = try file.status().size
        return BackingFingerprint(size: size, digest: try contentDigest(file, size: size),
                                  pathDigest: Array(SHA256.digest(pathBytes).prefix(8)))
    }

    /// Whether `file` still has the content this fingerprint recorded.
    func matches(_ file: OpenFile) throws(EngineError) -> Bool {
        let size = try file.status().size
        guard size == self.size else { return false }
        return try Self.contentDigest(file, size: size) == digest
    }

    static func contentDigest(_ file: OpenFile, size: UInt64) throws(EngineError) -> [UInt8] {
        let hash = ContentHasher(size: size)
        let buffer = IOBuffer(size: window)
        let blk = UInt64(block)
        var pos: UInt64 = 0
        while pos < size {
            guard let data = try file.nextData(from: pos), data < size else { break }
            pos = max(pos, data / blk * blk)
            let hole = try file.nextHole(from: pos)
            let holeUp = hole >= UInt64.max - blk ? UInt64.max : (hole + blk - 1) / blk * blk
            let end = min(pos + UInt64(window), size, max(holeUp, pos + blk))
            let length = Int(end - pos)
            try file.readZeroFilled(into: buffer.slice(0, length), at: pos)
            var i = 0
            while i < length {
                let n = min(block, length - i)
                hash.add(UnsafeRawBufferPointer(buffer.slice(i, n)), at: pos + UInt64(i))
                i += n
            }
            pos = end
        }
        return hash.finish()
    }

    /// Makes a fingerprint from a digest that a caller computed while
    /// reading the backing for its own purpose (from-image reads it anyway).
    static func make(size: UInt64, digest: [UInt8], storedPath: String) -> BackingFingerprint? {
        let pathBytes = Array(storedPath.utf8)
        guard pathBytes.count + 1 + recordLength <= COWLayout.v3.pathFieldLength else { return nil }
        return BackingFingerprint(size: size, digest: digest, pathDigest: Array(SHA256.digest(pathBytes).prefix(8)))
    }

    /// The content digest, fed 4 KiB blocks in ascending order of offset
    /// (each at a 4 KiB boundary; only the file's last block may be short).
    /// Zero blocks are skipped, so holes and written zeros hash alike.
    final class ContentHasher {
        private let hash = SHA256()

        init(size: UInt64) {
            hash.update(Array("corral-backing-fingerprint-1".utf8) + [0])
            hash.update(bigEndian: size)
        }

        func add(_ block: UnsafeRawBufferPointer, at offset: UInt64) {
            guard !IOBuffer.isZero(block) else { return }
            hash.update(bigEndian: offset)
            hash.update(block)
        }

        func finish() -> [UInt8] { hash.finish() }
    }
}
