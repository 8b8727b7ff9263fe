#if canImport(Glibc)
import Glibc
#endif
import CCorralShim

/// The one random source: the kernel's getrandom(2). Nonces, umids and
/// temporary names come from here; there is no predictable fallback (for
/// the small requests corral makes, getrandom blocks only before the
/// kernel's pool is first seeded, and never fails on Linux ≥ 3.17).
public enum Random {
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let rc = bytes.withUnsafeMutableBytes { corral_launch_random($0.baseAddress, $0.count) }
        precondition(rc == 0, "getrandom failed")
        return bytes
    }

    /// `bytes` random bytes as lowercase hex (2 digits each).
    public static func hex(bytes count: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes(count).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}
