#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Where boots keep their runtime state (`corral-boot-<umid>/`: UML's
/// uml_dir, the session record, the nonce file).
///
/// Never a directory other users can write: a boot sweeps leftovers of
/// killed boots there as root, so a shared /tmp would let any user plant
/// what root then removes or kills (issue 13, attack 1). Root uses
/// `/run/corral` (mode 0711: no one else may list or write it, but the
/// kernel's unprivileged uid must pass through it to its own boot
/// directory, which it sees through an idmapped mount), or `$TMPDIR` when that is a
/// directory of its own that nobody else can write (test rigs give each
/// run its own); other users use such a `$TMPDIR`, else `$XDG_RUNTIME_DIR`,
/// else `~/.cache/corral` (0700).
public enum RuntimeDirectory {
    public static let rootBase = "/run/corral"

    /// The base directory for this process, chosen from `environment`.
    public static func base(environment: [String: String]) -> String {
        if let tmp = environment["TMPDIR"], !tmp.isEmpty, isPrivate(tmp) { return tmp }
        if geteuid() == 0 { return rootBase }
        if let run = environment["XDG_RUNTIME_DIR"], !run.isEmpty, isPrivate(run) { return run }
        return userBase()
    }

    /// A non-root user's own directory when neither `$TMPDIR` nor
    /// `$XDG_RUNTIME_DIR` is private: `~/.cache/corral` from the password
    /// database (mode 0700, made by `open`), never a shared, predictable
    /// name in /tmp that another user could create first.
    static func userBase() -> String {
        let home = getpwuid(geteuid()).flatMap { $0.pointee.pw_dir.map { String(cString: $0) } } ?? ""
        return (home.isEmpty || home == "/" ? "/nonexistent" : home) + "/.cache/corral"
    }

    /// A directory owned by this user that no one else can write.
    static func isPrivate(_ path: String) -> Bool {
        guard let info = try? Directory(path).status() else { return false }
        return info.isDirectory && info.owner == geteuid() && info.permissions & 0o022 == 0
    }

    /// Opens the base, making `/run/corral` (0711) when it is missing, and
    /// checks on the descriptor that it is this user's directory and (unless
    /// it is a shared TMPDIR of a non-root user) writable by no one else.
    public static func open(_ base: String) throws(LauncherError) -> Directory {
        if base == rootBase {
            if mkdir(base, 0o711) != 0 && lastErrno != EEXIST {
                throw LauncherError.system(call: "mkdir", object: base, errno: lastErrno)
            }
        } else if geteuid() != 0 && base == userBase() {
            let cache = String(base.dropLast("/corral".count))
            for dir in [cache, base] where mkdir(dir, 0o700) != 0 && lastErrno != EEXIST {
                throw LauncherError.invalidPath(dir, reason: "cannot be made (\(SystemError.describe(lastErrno))); set XDG_RUNTIME_DIR or TMPDIR to a directory of your own")
            }
        }
        let dir: Directory
        let info: FileInfo
        do {
            dir = try Directory(base)
            info = try dir.status()
        } catch {
            throw LauncherError(error)
        }
        if base == userBase() && (info.owner != geteuid() || info.permissions & 0o022 != 0) {
            throw LauncherError.invalidPath(base, reason: "is not your own directory, writable only by you; fix its owner and mode")
        }
        if base == rootBase && (info.owner != geteuid() || info.permissions & 0o066 != 0) {
            throw LauncherError.invalidPath(base, reason: "is not root's mode-0711 directory; remove it so corral can make it again")
        }
        // Made 0700 by earlier versions: the kernel's own uid could not
        // reach its boot directory (and would run as root instead).
        if base == rootBase && info.permissions & 0o011 != 0o011 && fchmod(dir.fd, 0o711) != 0 {
            throw LauncherError.system(call: "fchmod", object: base, errno: lastErrno)
        }
        return dir
    }
}
