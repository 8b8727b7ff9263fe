#if canImport(Glibc)
import Glibc
#endif
import CCorralShim

/// errno text for messages.
enum Errno {
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// The one place the engine turns a failed system call into an error: it
/// retries EINTR, maps ENOSPC to ``EngineError/noSpace(path:)`` and names
/// the call and the file otherwise.
@inline(__always)
func checked<T: BinaryInteger>(
    _ call: String, _ path: String, _ body: () -> T
) throws(EngineError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = corral_errno()
        if code == EINTR { continue }
        if code == ENOSPC || code == EDQUOT { throw .noSpace(path: path) }
        throw .system(call: call, path: path, errno: code)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    var trimmed: String {
        let ws: Set<Character> = [" ", "\n", "\t", "\r"]
        return String(self.drop(while: { ws.contains($0) }).reversed().drop(while: { ws.contains($0) }).reversed())
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        let t = Array(target.utf8)
        let u = self.utf8
        var i = u.startIndex
        while i != u.endIndex {
            var j = i
            var k = 0
            while k < t.count, j != u.endIndex, u[j] == t[k] {
                j = u.index(after: j)
                k += 1
            }
            if k == t.count { return i..<j }
            i = u.index(after: i)
        }
        return nil
    }
}

/// Reads small text files such as /proc entries.
enum ReadSmallFile {
    static func text(_ path: String, limit: Int = 4096) throws(EngineError) -> String {
        let file = try OpenFile(path, flags: O_RDONLY)
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = try file.read(into: &buffer, at: 0)
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
