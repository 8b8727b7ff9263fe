#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CCorralShim
import CorralSystem

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
    /// Each lease is held by its open descriptor and ends when it closes.
    private var held: [Descriptor] = []

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
                // A disk the caller holds open is leased through a second
                // descriptor of that open file; any other path is the user's,
                // links and all (preflight checked what it leads to).
                let file: Descriptor
                if let held = target.fd {
                    guard let dup = try? Descriptor(duplicating: held, name: target.path) else { continue }
                    file = dup
                } else {
                    guard let opened = try? Descriptor(open: target.path, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY, noFollow: false) else {
                        continue  // a COW the kernel will create; preflight vouched for it
                    }
                    file = opened
                }
                if flock(file.fd, (target.exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
                    let holder = holder(of: file.fd).map { " (process \($0))" } ?? ""
                    return .failure(Refusal(
                        message: "disk \(disk.unit) (\(disk.deviceName)): '\(target.path)' is in use by another corral boot\(holder)",
                        hint: "wait for that boot to end, or give this one its own file (add the c flag only if sharing is really meant)"))
                }
                leases.held.append(file)
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
        guard let text = try? SmallTextFile.text("/proc/locks", limit: 1 << 20) else { return nil }
        for line in text.split(separator: "\n") where !line.contains("->") {
            let words = line.split(separator: " ")
            guard words.count > 5, words[1] == "FLOCK", let at = words.firstIndex(where: { $0 == file }), at > 0 else { continue }
            if let pid = Int32(words[at - 1]), pid > 0 { return pid }
        }
        return nil
    }

    public struct Refusal: Error, Sendable {
        public var message: String
        public var hint: String
    }

    deinit {
        // Unlocked first: a lease taken through a caller's open file would
        // otherwise last as long as that file stays open.
        for file in held { flock(file.fd, LOCK_UN) }
    }
}
