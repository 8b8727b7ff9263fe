#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Half-written outputs a crashed corral left behind, found and removed.
///
/// ``AtomicOutput`` writes `.NAME.corral-RANDOM` next to the final NAME and
/// holds it open while it lives. A run killed by a signal
/// (or a trap) cannot unlink it, and the file can be as large as the whole
/// disk. A later run of the same verb, or `corral cow check`, calls this to
/// name and remove such files.
///
/// Only files corral itself made are touched: the name must match the
/// pattern exactly, the file is opened through the directory's descriptor
/// without following a symlink (a FIFO or device would fail the type check
/// before anything blocks), it must be a regular file with one link owned by
/// the caller, and no process may have it open (a live writer, or a kernel
/// booted on it, does; /proc/PID/fd says). The name is unlinked only if it
/// still refers to the inode that was checked.
///
/// A lock cannot mark a live file here: a maintenance job boots the kernel
/// on its AtomicOutput, and the boot's own disk lease (flock) or the
/// kernel's fcntl lock would then conflict with it.
public enum LeftoverOutputs {
    /// A removed (or, on failure, found) leftover.
    public struct Leftover: Sendable, Equatable, Encodable {
        public var path: String
        public var size: UInt64
        /// False when unlinking failed; `path` is still there.
        public var removed: Bool
    }

    /// Removes the leftovers of outputs named `finalPath`.
    public static func sweep(output finalPath: String) -> [Leftover] {
        let (dir, name) = PathResolution.split(finalPath)
        return sweep(directory: dir) { candidate in candidate == name }
    }

    /// Removes every corral leftover in `directory`, whatever output it was for.
    public static func sweep(directory: String) -> [Leftover] {
        sweep(directory: directory) { _ in true }
    }

    /// The output name a leftover was for: `.NAME.corral-RANDOM` gives NAME,
    /// where RANDOM is what ``NewFile`` draws (12 lowercase hex digits) or
    /// what older corral drew with mkstemp (6 letters or digits); else nil.
    /// Tagged scratch files (`.NAME.corral-TAG-RANDOM`, a maintenance job's)
    /// and an interrupted commit's marker (`corral-commit`) are not leftovers.
    public static func outputName(ofLeftover entry: String) -> String? {
        let marker = Array(".corral-".utf8)
        let bytes = Array(entry.utf8)
        guard bytes.first == UInt8(ascii: "."), bytes.count > 1 + marker.count else { return nil }
        func isAlnum(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        func isHex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b) }
        for (length, valid) in [(12, isHex), (6, isAlnum)] as [(Int, (UInt8) -> Bool)] {
            guard bytes.count > 1 + marker.count + length else { continue }
            let random = bytes.suffix(length)
            let head = bytes.dropLast(length)
            guard random.allSatisfy(valid), head.suffix(marker.count).elementsEqual(marker) else { continue }
            if random.elementsEqual("commit".utf8) { return nil }
            let name = head.dropFirst().dropLast(marker.count)
            guard !name.isEmpty else { return nil }
            return String(decoding: name, as: UTF8.self)
        }
        return nil
    }

    private static func sweep(directory: String, matching: (String) -> Bool) -> [Leftover] {
        // The directory is the one the user's output path names, links in
        // that path included; nothing inside it is followed.
        guard let dir = try? Directory(namedByUser: directory), let entries = try? dir.names() else { return [] }
        var found: [Leftover] = []
        for entry in entries {
            guard let name = outputName(ofLeftover: entry), matching(name) else { continue }
            if let leftover = removeIfStale(entry, in: dir) { found.append(leftover) }
        }
        return found
    }

    private static func removeIfStale(_ entry: String, in dir: Directory) -> Leftover? {
        guard let file = try? dir.openFile(entry, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY),
              let info = try? file.status(),
              info.isRegular, info.links == 1, info.owner == geteuid()
        else { return nil }
        guard !isOpen(info, except: file.fd) else { return nil }
        guard let now = try? dir.status(of: entry), now.isSameFile(as: info) else { return nil }
        let removed = (try? dir.unlink(entry)) != nil
        return Leftover(path: dir.path == "/" ? "/" + entry : dir.path + "/" + entry, size: info.size, removed: removed)
    }

    /// Whether any process has the file open, other than through this
    /// process's descriptor `except` (the one the check itself opened).
    /// Root sees every process; another user sees only their own, which is
    /// where a leftover they own is normally open.
    static func isOpen(_ file: FileInfo, except: Int32) -> Bool {
        guard let proc = try? Directory("/proc"), let pids = try? proc.names() else { return true }  // cannot tell: keep the file
        let me = getpid()
        for entry in pids {
            guard let pid = Int32(entry),
                  let fds = try? proc.openDirectory(entry).openDirectory("fd"),
                  let names = try? fds.names()
            else { continue }
            for name in names where !(pid == me && name == String(except)) {
                var st = stat()
                // The one stat here that follows a link, on purpose: a
                // /proc/PID/fd entry is a magic link to the open file itself.
                if fstatat(fds.fd, name, &st, 0) == 0, UInt64(st.st_dev) == file.device, UInt64(st.st_ino) == file.inode {
                    return true
                }
            }
        }
        return false
    }
}
