#if canImport(Glibc)
import Glibc
#endif

/// Which backing files corral uses when a COW header, not the user, names
/// them (corral-cow(1), BACKING FILES). A COW file may come from anyone;
/// its header must not choose a host file for root to read or write
/// (compare libguestfs: never let an untrusted image header pick a host
/// file). The backing a header names is used only when it is a regular
/// file, outside the places disk images never live (/etc, /boot, /root,
/// /proc, /sys, /dev, other users' home directories), owned by the COW's
/// owner. Anything else is used only when the user names it with
/// `--backing` (boot: `--disk N=COW,BACKING`). A block device is a backing
/// only when the user names it *and* passes `--allow-block-device`
/// (``requireAllowed(blockDevice:allowed:)``): writing a disk's COW into a
/// whole device is never what a mistyped path should do.
public enum BackingPolicy {
    /// The flag that lets a user-named block device be a backing.
    public static let blockDeviceFlag = "--allow-block-device"

    /// Throws ``EngineError/blockDeviceBacking(path:)`` when `path`, a
    /// backing the user named, is a block device and `allowed` is false.
    /// A path that does not exist or is any other kind of file passes:
    /// the verbs themselves report those as before.
    public static func requireAllowed(blockDevice path: String?, allowed: Bool) throws(EngineError) {
        guard let path, !allowed else { return }
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFBLK {
            throw .blockDeviceBacking(path: path)
        }
    }

    static let forbiddenTrees = ["/etc", "/boot", "/root", "/proc", "/sys", "/dev"]

    /// Why the header-named `backing` of a COW owned by `cowOwner` is not
    /// used, or nil when it may be. A missing file is not this policy's
    /// business (the callers report it).
    public static func objection(backing: String, cowOwner: UInt32) -> String? {
        var st = stat()
        guard stat(backing, &st) == 0 else { return nil }
        let resolved: String = {
            guard let raw = realpath(backing, nil) else { return backing }
            defer { free(raw) }
            return String(cString: raw)
        }()
        // First, so the message names the flag a block device also needs.
        if st.st_mode & S_IFMT == S_IFBLK { return "is a block device (naming it needs \(blockDeviceFlag) as well)" }
        for tree in forbiddenTrees where resolved == tree || resolved.hasPrefix(tree + "/") {
            return "lies in \(tree), where disk images never live"
        }
        if resolved.hasPrefix("/home/") {
            let home = "/home/" + resolved.dropFirst(6).prefix { $0 != "/" }
            var hst = stat()
            if stat(home, &hst) == 0, hst.st_uid != cowOwner {
                return "lies in another user's home directory (\(home))"
            }
        }
        if st.st_mode & S_IFMT != S_IFREG { return "is not a regular file" }
        if st.st_uid != cowOwner {
            return "belongs to uid \(st.st_uid), not to the COW's owner (uid \(cowOwner))"
        }
        return nil
    }

    /// ``objection(backing:cowOwner:)`` for an open COW.
    static func objection(backing: String, cow: COWFile) -> String? {
        var st = stat()
        guard fstat(cow.file.fd, &st) == 0 else { return "cannot be checked (fstat of the COW failed)" }
        return objection(backing: backing, cowOwner: st.st_uid)
    }
}
