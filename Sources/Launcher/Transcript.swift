import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

/// The `--log FILE` console transcript: every console line, prefixed with
/// where it came from, so kernel messages can be told apart from the
/// command's output:
///
///     kernel| Kernel panic - not syncing: …
///     output| hello
///     corral| exit status 0
///
/// Lines are split on "\n" with carriage returns dropped; the output of a
/// command that does not end its last line gets a line break in the log only.
public struct Transcript: ~Copyable {
    public enum Source: String, Sendable { case kernel, output, corral }

    private let file: Descriptor
    private var fd: Int32 { file.fd }
    private var partial: [UInt8] = []
    private var partialSource: Source = .kernel

    /// Creates or truncates `path`: a regular file only, never through a
    /// symbolic link (root would otherwise truncate whatever a user's link
    /// points at), and opened O_NONBLOCK so a FIFO put there cannot hang
    /// the boot before the type check refuses it.
    public init(path: String) throws(LauncherError) {
        let file: Descriptor
        do {
            file = try Descriptor(open: path, flags: O_WRONLY | O_CREAT | O_NONBLOCK, mode: 0o644, noFollow: true)
        } catch where error.errno == .tooManySymbolicLinkLevels {
            throw .invalidPath(path, reason: "is a symbolic link, which corral does not follow; give --log the file's own path")
        } catch where error.errno == .noSuchAddressOrDevice {
            // O_NONBLOCK|O_WRONLY on a FIFO nobody reads.
            throw .invalidPath(path, reason: "is not a regular file; give --log the name of a file")
        } catch {
            throw LauncherError(error)
        }
        let info: FileInfo
        do { info = try file.status() } catch { throw LauncherError(error) }
        guard info.isRegular else {
            throw .invalidPath(path, reason: "is not a regular file; give --log the name of a file")
        }
        try LauncherError.systemCall("ftruncate", path) { ftruncate(file.fd, 0) }
        _ = corral_set_nonblock(file.fd, 0)
        self.file = file
    }

    public mutating func append(_ source: Source, _ bytes: [UInt8]) {
        if source != partialSource { flush() }
        partialSource = source
        var lines: [UInt8] = []
        for byte in bytes where byte != 13 {
            partial.append(byte)
            if byte == 10 {
                lines += Array("\(source.rawValue)| ".utf8) + partial
                partial.removeAll(keepingCapacity: true)
            }
        }
        if !lines.isEmpty { Output.writeAll(fd, lines) }
    }

    public mutating func note(_ text: String) {
        flush()
        Output.writeAll(fd, "corral| \(text)\n")
    }

    /// Ends a partial line, so the next source starts on a line of its own.
    public mutating func flush() {
        guard !partial.isEmpty else { return }
        Output.writeAll(fd, Array("\(partialSource.rawValue)| ".utf8) + partial + [10])
        partial.removeAll(keepingCapacity: true)
    }
}

/// Spots `Kernel panic - not syncing` in the console stream, even when the
/// text arrives split across reads.
struct PanicDetector {
    private static let needle = Array("Kernel panic - not syncing".utf8)
    private var tail: [UInt8] = []
    private(set) var seen = false
    /// The panic's own words ("Requested init /sbin/init failed (error -2)."),
    /// once their line has ended; corral names the fix for the ones it knows.
    private(set) var reason: String?
    private var reasonBytes: [UInt8] = []

    mutating func scan(_ bytes: [UInt8]) {
        guard !seen else { collectReason(bytes[...]); return }
        let window = tail + bytes
        if window.count >= PanicDetector.needle.count {
            for i in 0...(window.count - PanicDetector.needle.count)
            where window[i] == PanicDetector.needle[0]
                && window[i..<(i + PanicDetector.needle.count)].elementsEqual(PanicDetector.needle) {
                seen = true
                collectReason(window[(i + PanicDetector.needle.count)...])
                return
            }
        }
        tail = Array(window.suffix(PanicDetector.needle.count - 1))
    }

    private mutating func collectReason(_ bytes: ArraySlice<UInt8>) {
        guard reason == nil else { return }
        for byte in bytes {
            if byte == 10 || byte == 13 || reasonBytes.count >= 300 {
                var text = String(decoding: reasonBytes, as: UTF8.self)
                if text.hasPrefix(":") { text.removeFirst() }
                reason = text.trimmingCharacters(in: .whitespaces)
                return
            }
            reasonBytes.append(byte)
        }
    }

    /// What to do about a panic whose cause corral recognises.
    var advice: String? {
        guard let reason else { return nil }
        if reason.hasPrefix("Requested init") || reason.hasPrefix("No working init found") {
            return "the guest's root has no init to run (\(reason)); pass --init PROGRAM, or --command CMD to run one command in the disk's root"
        }
        if reason.hasPrefix("Attempted to kill init!") {
            // exitcode= is the wait status: the exit status is its second byte.
            let code = reason.split(separator: "=").last.flatMap { UInt32($0.dropFirst(2), radix: 16) }
            let status = code.map { " with status \(($0 >> 8) & 0xff)" } ?? ""
            return "the guest's init exited\(status); the kernel panics when PID 1 ends, so an init must power off (echo o > /proc/sysrq-trigger), or use --command"
        }
        return nil
    }
}
