#if canImport(Glibc)
import Glibc
#endif

/// Whether a COW's data is already in its backing: every sector the COW
/// holds reads the same from the backing. That is what `cow commit` leaves
/// (the backing then has a new mtime, so the kernel refuses the COW); `check`
/// says so instead of suggesting `rebase --unsafe`, whose proof against the
/// old content must fail.
enum CommittedCOW {
    static let chunk = 1 << 20

    /// True when the COW holds at least one sector and all of them equal the
    /// backing's bytes at the same offsets (reads only the COW's sectors).
    static func isCommitted(_ cow: COWFile, into backing: OpenFile) throws(EngineError) -> Bool {
        var cursor = try RunCursor(cow)
        let ours = IOBuffer(size: chunk)
        let theirs = IOBuffer(size: chunk)
        var any = false
        while let run = cursor.current, let bytes = cursor.currentBytes {
            if run.inCOW {
                var at = bytes.lowerBound
                while at < bytes.upperBound {
                    let n = Int(min(UInt64(chunk), bytes.upperBound - at))
                    try cow.file.readZeroFilled(into: ours.slice(0, n), at: cow.geometry.dataOffset + at)
                    try backing.readZeroFilled(into: theirs.slice(0, n), at: at)
                    if memcmp(ours.slice(0, n).baseAddress!, theirs.slice(0, n).baseAddress!, n) != 0 { return false }
                    any = true
                    at += UInt64(n)
                }
            }
            try cursor.advance(to: bytes.upperBound)
        }
        return any
    }
}
