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
/// owner. Anything else, a block device included, is used only when the
/// user names it with `--backing` (boot: `--disk N=COW,BACKING`).
public enum BackingPolicy {
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
        if st.st_mode & S_IFMT == S_IFBLK { return "is a block device" }
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
