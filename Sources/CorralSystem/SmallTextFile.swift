#if canImport(Glibc)
import Glibc
#endif

/// Short text files the kernel publishes (`/proc/locks`, `/proc/PID/comm`,
/// `/proc/sys/...`), and the few small files `corral --version` reads (its
/// VERSION stamp, a checkout's git HEAD and refs), read in one place.
/// Symbolic links are followed, since that is how these paths are named
/// (`/proc/self`, a worktree's `.git`); nothing here is written or trusted
/// beyond its text.
public enum SmallTextFile {
    /// Up to `limit` bytes of `path`, decoded as UTF-8.
    public static func text(_ path: String, limit: Int = 4096) throws(SystemError) -> String {
        let file = try Descriptor(open: path, flags: O_RDONLY, noFollow: false)
        return String(decoding: try file.read(upTo: limit), as: UTF8.self)
    }
}

extension String {
    /// Without leading and trailing whitespace (a /proc value's newline).
    public var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
