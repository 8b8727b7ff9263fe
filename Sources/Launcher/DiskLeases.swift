#if canImport(Glibc)
import Glibc
#endif

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
    public static func acquire(_ disks: [DiskSpec]) -> Result<DiskLeases, Refusal> {
        let leases = DiskLeases()
        for disk in disks where !disk.flags.contains(.shared) {
            var targets: [(path: String, exclusive: Bool)] = [(disk.file, !disk.isReadOnly)]
            if let backing = disk.backing ?? COWHeaderPeek.read(path: disk.file)?.backingPath {
                targets.append((backing, false))
            }
            for target in targets {
                let fd = open(target.path, O_RDONLY | O_CLOEXEC)
                if fd < 0 { continue }  // a COW the kernel will create; preflight vouched for it
                if flock(fd, (target.exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
                    close(fd)
                    return .failure(Refusal(
                        message: "disk \(disk.unit) (\(disk.deviceName)): '\(target.path)' is in use by another corral boot",
                        fix: "wait for that boot to end, or give this one its own file (add the c flag only if sharing is really meant)"))
                }
                leases.fds.append(fd)
            }
        }
        return .success(leases)
    }

    public struct Refusal: Error, Sendable {
        public var message: String
        public var fix: String
    }

    deinit {
        for fd in fds { close(fd) }
    }
}
