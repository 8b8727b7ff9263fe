import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Landlock on top of the read-only mounts: write-like access is denied
/// everywhere except the writable paths and the few devices UML opens
/// read-write. Unlike the mount namespace it also holds when namespaces are
/// unavailable, and it survives any mount the process could still make.
///
/// Reads are not restricted: with `rootflags=/` the guest runs host binaries.
///
/// Execution is handled too: the only files the process tree may execute
/// are the kernel binary and its ELF interpreter. So a kernel (or a stub
/// whose tracer died) that fills descriptors until `open` returns the one
/// fd the seccomp filter lets `execveat` use cannot run any other host
/// binary (memfds, which 7.2 execs its stub from, are not path-bound and
/// stay executable).
struct Landlock: Sendable {
    var abi: Int32
    var writable: WritablePaths
    /// The kernel binary and its interpreter: the only executable files.
    var executables: [String] = []

    /// Whether Landlock at `abi` scopes abstract unix sockets (ABI 6, Linux
    /// 6.12): a process in the domain then reaches only those bound inside
    /// it, which is what the kernel's network namespace was for (UML under
    /// the filter opens AF_UNIX sockets only). Where it does, the kernel
    /// gets no network namespace: making one and tearing it down (a kernel
    /// worker, after the boot) cost each boot about a millisecond.
    static func scopesAbstractSockets(abi: Int32) -> Bool { abi >= 6 }

    /// Devices UML opens for writing (console, SIGIO self-test, entropy).
    static let devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                          "/dev/tty", "/dev/ptmx", "/dev/pts"]

    /// Restricts the calling thread and its future children. Needs no_new_privs.
    func restrictSelf() throws(SandboxError) {
        let ruleset = try ruleset()
        defer { close(ruleset) }
        try SandboxError.systemCall("landlock_restrict_self", "") { corral_landlock_restrict(ruleset) }
    }

    /// The ruleset, for the kernel child to apply between fork and exec
    /// (`corral_kernel_spec.landlock_fd`): after the reaper has mounted the
    /// new /proc, which a Landlock-restricted process may not do.
    func ruleset() throws(SandboxError) -> Int32 {
        let execute = UInt64(1) << 0  // LANDLOCK_ACCESS_FS_EXECUTE
        let handled = corral_landlock_write_rights(abi) | (executables.isEmpty ? 0 : execute)
        let ruleset = try SandboxError.systemCall("landlock_create_ruleset", "") {
            corral_landlock_create(handled, Self.scopesAbstractSockets(abi: abi) ? 1 : 0)
        }
        var ok = false
        defer { if !ok { close(ruleset) } }
        // Device nodes: never created, not even in writable directories.
        let noDevices = handled & ~(UInt64(1) << 6 | UInt64(1) << 11 | execute)  // MAKE_CHAR, MAKE_BLOCK, EXECUTE
        let fileOnly = corral_landlock_device_rights() & handled
        for path in executables {
            try SandboxError.systemCall("landlock_add_rule", path) { corral_landlock_allow(ruleset, path, execute) }
        }
        for path in writable.paths {
            let rights = WritablePaths.isDirectory(path) ? noDevices : fileOnly
            try SandboxError.systemCall("landlock_add_rule", path) { corral_landlock_allow(ruleset, path, rights) }
        }
        for path in Self.devices where access(path, F_OK) == 0 {
            try SandboxError.systemCall("landlock_add_rule", path) { corral_landlock_allow(ruleset, path, fileOnly) }
        }
        ok = true
        return ruleset
    }
}
