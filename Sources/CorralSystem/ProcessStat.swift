#if canImport(Glibc)
import Glibc
#endif

/// The fields of `/proc/PID/stat` that corral reads: the boot's end finds
/// its processes by session and parent, and a busy disk's message walks up
/// from the holder to the corral command that owns it. One parser, because
/// the line is easy to get wrong: the command name, in parentheses, may hold
/// spaces and parentheses itself, so fields are counted after the last ')'.
public struct ProcessStat: Sendable, Equatable {
    public var state: Character
    public var parent: Int32
    public var group: Int32
    public var session: Int32

    /// Parses one stat line (`pid (comm) state ppid pgrp session …`); nil
    /// when it is not one.
    public init?(line bytes: [UInt8]) {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[bytes.index(after: close)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 4, let first = fields[0].first,
              let parent = Int32(String(decoding: fields[1], as: UTF8.self)),
              let group = Int32(String(decoding: fields[2], as: UTF8.self)),
              let session = Int32(String(decoding: fields[3], as: UTF8.self)) else { return nil }
        self.state = Character(UnicodeScalar(first))
        self.parent = parent
        self.group = group
        self.session = session
    }

    /// `/proc/PID/stat` now; nil when the process has gone.
    public static func of(_ pid: Int32) -> ProcessStat? {
        guard let file = try? Descriptor(open: "/proc/\(pid)/stat", flags: O_RDONLY, noFollow: false),
              let line = try? file.read(upTo: 1024) else { return nil }
        return ProcessStat(line: line)
    }
}
