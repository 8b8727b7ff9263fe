#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CCorralShim

/// flock(2) leases corral holds on a boot's disk files for the whole boot.
///
/// The kernel's own fcntl locks exist only while the guest has the device
/// open (spec §4.2, step 3): between the boot-time partition scan and the
/// guest's first real open, the files are unlocked, and a second boot would
/// pass every check. These leases close that gap between corral processes.
/// They are flock locks, which on local file systems are independent of the
/// kernel's fcntl locks, so they never stop the kernel itself; an fcntl-style
/// (OFD) lease would.
public final class DiskLeases {
    private var fds: [Int32] = []

    private init() {}

    /// Takes an exclusive lease on every disk the kernel writes and a shared
    /// one on read-only disks and backing files. Returns the refusals instead
    /// when another corral boot holds one; nothing is held then.
    /// `opened`: disks the caller holds open (``BootOptions/openedDisks``):
    /// leased through a second descriptor of that open file, not reopened.
    public static func acquire(_ disks: [DiskSpec], opened: [Int: OpenedDisk] = [:]) -> Result<DiskLeases, Refusal> {
        let leases = DiskLeases()
        for disk in disks where !disk.flags.contains(.shared) {
            let held = opened[disk.unit]
            var targets: [(path: String, exclusive: Bool, fd: Int32?)] = [(disk.file, !disk.isReadOnly, held?.file.fd)]
            let header = held.map { $0.cow?.header } ?? (try? COWFile(path: disk.file))?.header
            if let backing = disk.backing ?? header?.backingPathString {
                targets.append((backing, false, nil))
            }
            for target in targets {
                // O_NONBLOCK: never wait on a FIFO (preflight refuses one anyway).
                let fd = target.fd.map { corral_dup($0) }
                    ?? open(target.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
                if fd < 0 { continue }  // a COW the kernel will create; preflight vouched for it
                if flock(fd, (target.exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
                    let holder = holder(of: fd).map { " (process \($0))" } ?? ""
                    close(fd)
                    return .failure(Refusal(
                        message: "disk \(disk.unit) (\(disk.deviceName)): '\(target.path)' is in use by another corral boot\(holder)",
                        fix: "wait for that boot to end, or give this one its own file (add the c flag only if sharing is really meant)"))
                }
                leases.fds.append(fd)
            }
        }
        return .success(leases)
    }

    /// The process holding a flock lease on `fd`'s file, from /proc/locks:
    /// `N: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF`.
    static func holder(of fd: Int32) -> Int32? {
        var st = corral_stat()
        guard corral_fstat(fd, &st) == 0 else { return nil }
        let major = ((st.dev >> 8) & 0xfff) | ((st.dev >> 32) & ~UInt64(0xfff))
        let minor = (st.dev & 0xff) | ((st.dev >> 12) & ~UInt64(0xff))
        func hex(_ value: UInt64) -> String {
            let text = String(value, radix: 16)
            return text.count < 2 ? "0" + text : text
        }
        let file = "\(hex(major)):\(hex(minor)):\(st.ino)"
        let locks = open("/proc/locks", O_RDONLY | O_CLOEXEC)
        guard locks >= 0 else { return nil }
        defer { close(locks) }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(locks, $0.baseAddress, $0.count) }
            if n < 0 && corral_errno() == EINTR { continue }
            if n <= 0 { break }
            text += buffer[0..<n]
        }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where !line.contains("->") {
            let words = line.split(separator: " ")
            guard words.count > 5, words[1] == "FLOCK", let at = words.firstIndex(where: { $0 == file }), at > 0 else { continue }
            if let pid = Int32(words[at - 1]), pid > 0 { return pid }
        }
        return nil
    }

    public struct Refusal: Error, Sendable {
        public var message: String
        public var fix: String
    }

    deinit {
        // Unlocked first: a lease taken through a caller's open file would
        // otherwise last as long as that file stays open.
        for fd in fds {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }
}
