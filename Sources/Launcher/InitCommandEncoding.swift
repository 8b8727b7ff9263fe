/// How `--command` travels to hostfs-init on the kernel command line,
/// which splits on whitespace, treats '"' as quoting and holds 4095 bytes.
///
/// The default is `printf %b` text (`corral_cmd`): printable ASCII as it
/// is, every other byte, space, '"' and '\' as `\0NNN`. init decodes it
/// with the shell's own printf, starting no program. Base64
/// (`corral_cmd64`) is the fallback for a command whose escaped form would
/// not fit: 4/3 the size whatever the bytes, but init has to start
/// `base64 -d` for it.
public enum InitCommandEncoding: Sendable, Equatable {
    case escaped
    case base64

    public func variable(for command: String) -> KernelCommandLine.InitVariable {
        let bytes = Array(command.utf8)
        switch self {
        case .escaped: return .init(name: "corral_cmd", value: Self.escape(bytes))
        case .base64: return .init(name: "corral_cmd64", value: Self.base64(bytes))
        }
    }

    /// Bytes as `printf %b` reads them back; the output never holds
    /// whitespace, '"' or a bare '\'.
    static func escape(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                out.append(byte)
            } else {
                // \0NNN: dash, bash and busybox printf %b all read a zero and up to three octal digits.
                out += [UInt8(ascii: "\\"), UInt8(ascii: "0"),
                        UInt8(ascii: "0") + (byte >> 6), UInt8(ascii: "0") + (byte >> 3 & 7), UInt8(ascii: "0") + (byte & 7)]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard base64 with padding, as `base64 -d` reads it.
    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension KernelCommandLine {
    /// Adds `--command` for hostfs-init: the escaped form when the command
    /// line then fits, else base64.
    mutating func add(command: String) {
        let variables = initVariables
        initVariables = variables + [InitCommandEncoding.escaped.variable(for: command)]
        if length > KernelCommandLine.maximumLength {
            initVariables = variables + [InitCommandEncoding.base64.variable(for: command)]
        }
    }
}
