#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Output through file descriptors (the `stdout` globals are not
/// concurrency-safe in Swift 6), with colour only on a terminal and never
/// when NO_COLOR is set.
enum Console {
    static func out(_ text: String) { write(1, text + "\n") }
    static func error(_ text: String) { write(2, text + "\n") }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue } else { return } }
            done += n
        }
    }

    static var isTerminal: (out: Bool, err: Bool) { (isatty(1) != 0, isatty(2) != 0) }

    static var colour: Bool {
        ProcessInfo.processInfo.environment["NO_COLOR"] == nil && isatty(1) != 0
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        out(String(decoding: data, as: UTF8.self))
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }
}
