import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif

/// Landlock on top of the read-only mounts: write-like access is denied
/// everywhere except the writable paths and the few devices UML opens
/// read-write. Unlike the mount namespace it also holds when namespaces are
/// unavailable, and it survives any mount the process could still make.
///
/// Reads are not restricted: with `rootflags=/` the guest runs host binaries.
struct Landlock: Sendable {
    var abi: Int32
    var writable: WritablePaths

    /// Devices UML opens for writing (console, SIGIO self-test, entropy).
    static let devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                          "/dev/tty", "/dev/ptmx", "/dev/pts"]

    /// Restricts the calling thread and its future children. Needs no_new_privs.
    func restrictSelf() throws(SandboxError) {
        let handled = corral_landlock_write_rights(abi)
        let ruleset = try syscall("landlock_create_ruleset") { corral_landlock_create(handled) }
        defer { close(ruleset) }
        // Device nodes: never created, not even in writable directories.
        let noDevices = handled & ~(UInt64(1) << 6 | UInt64(1) << 11)  // MAKE_CHAR, MAKE_BLOCK
        let fileOnly = corral_landlock_device_rights() & handled
        for path in writable.paths {
            let rights = WritablePaths.isDirectory(path) ? noDevices : fileOnly
            try syscall("landlock_add_rule", path) { corral_landlock_allow(ruleset, path, rights) }
        }
        for path in Self.devices where access(path, F_OK) == 0 {
            try syscall("landlock_add_rule", path) { corral_landlock_allow(ruleset, path, fileOnly) }
        }
        try syscall("landlock_restrict_self") { corral_landlock_restrict(ruleset) }
    }
}
