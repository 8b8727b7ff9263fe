import CSandboxShim
import CorralSystem

#if canImport(Glibc)
import Glibc
#endif

/// The uid a root caller's kernel runs as when no `policy.user` is given:
/// one of its own per boot, in no group, so that
/// - no kernel task has a capability on the host (`CapEff: 0`);
/// - host files are reached as by an unprivileged stranger: `/root`,
///   mode-0600 files, other users' private homes and root's non-world-
///   writable unix sockets are out of reach, also through a guest's fresh
///   `mount -t hostfs`;
/// - `RLIMIT_NPROC` binds (it never binds uid 0), and counts this boot's
///   processes only, since no other process has the uid;
/// - two boots' stubs cannot signal or trace each other by uid either.
///
/// The kernel still needs its writable paths (disk files, uml_dir) and
/// readable paths, which root owns: they are attached in its root
/// (`JailRoot`) as idmapped mounts showing root's files as this uid's, and
/// storing what the kernel creates as root's. When that cannot be done (a
/// filesystem without idmapped mounts) or a path the kernel needs is not
/// reachable by the uid, the boot is refused with the path and what to do
/// (`SandboxError.ownUIDRefused`): a kernel silently running as root would hand the guest
/// every capability the jail is there to withhold. Root is used only when
/// asked for (`SandboxPolicy.kernelAsRoot`, `corral boot --sandbox-user root`).
struct KernelAccount: Sendable, Equatable {
    /// Above systemd's container range (0x00080000-0x6FFF0000) and its
    /// foreign range (0x7FFE0000-), below 2^31: plus a pid (< 2^22), unique
    /// among running boots.
    static let base: uid_t = 0x7A00_0000
    /// Host processes (and threads) the kernel may have at once. UML runs a
    /// host process per guest address space, so this bounds guest process
    /// floods too (one 256M guest reached 1,328 without it).
    static let processLimit: UInt = 1024

    var identity: UserIdentity

    /// The account of the boot whose helper has pid `pid`.
    init(helperPID: pid_t) {
        let id = Self.base + uid_t(UInt32(bitPattern: helperPID) & 0x3F_FFFF)
        identity = UserIdentity(name: "corral-kernel-\(helperPID)", uid: id, gid: gid_t(id), groups: [])
    }

    /// Why this account cannot work with `unmapped`, the jail's binds whose
    /// file system took no idmapped mounts (`JailRoot.unmapped`), or nil.
    /// - A writable one: the account could not write it, nor would what it
    ///   creates there be root's. The boot is refused.
    /// - A read-only one (a kernel or share on NFS or squashfs, say) stays
    ///   as the host has it: idmapping only ever adds access, so the
    ///   account then reads it as a stranger would. That is enough when it
    ///   may read it (and search a directory, or execute an executable: its
    ///   interpreter, hostfs-init) by its mode; judged on the bind's own
    ///   root, since in the jail the directories above are mode 0755.
    ///   Inside a directory, files that shut others out stay unreadable to
    ///   the guest.
    func refusal(unmapped: [JailRoot.Bind]) -> SandboxError.OwnUIDObstacle? {
        for bind in unmapped {
            if bind.access == .writable { return .noIdmappedMounts(bind.path) }
            guard let info = try? FileInfo.of(descriptor: bind.fd, name: bind.path) else { return .unmappedUnreachable(bind.path) }
            let mode = R_OK | (info.isDirectory || info.permissions & 0o111 != 0 ? X_OK : 0)
            if corral_access_as(identity.uid, identity.gid, bind.fd, "", mode) != 0 { return .unmappedUnreachable(bind.path) }
        }
        return nil
    }

    /// A user namespace fd mapping root to this account, for idmapped
    /// mounts, and its holder process: killed, not yet reaped. The caller
    /// reaps it (`corral_reap_child`) later, so that waiting for its death
    /// is off the boot's path.
    func idmapNamespace() throws(SandboxError) -> (fd: Int32, holder: pid_t) {
        var holder: pid_t = 0
        do throws(SandboxError) {
            let fd = try SandboxError.systemCall("user namespace for the idmapped mounts", "", retryOnInterrupt: false) {
                corral_idmap_userns(identity.uid, identity.gid, &holder)
            }
            return (fd, holder)
        } catch {
            _ = corral_reap_child(holder, 1)
            throw error
        }
    }

    /// The first thing this account cannot reach, or nil: the kernel binary
    /// (through its exec fd) and interpreter, and the files the command line
    /// names (ubd disks and backing files, hostfs root and init) outside
    /// `own` (the writable and readable paths, symlink-free). Their parents
    /// need no check: in the kernel's root (`JailRoot`) the directories
    /// leading to them are mode 0755. Checked on the host, before the
    /// idmapped mounts exist: what lies in `own` will be the account's own
    /// (files root owns there show as its) or may not exist yet (a COW file
    /// the kernel creates).
    ///
    /// Each name is judged by what it resolves to (`HostPath.resolved`),
    /// since that is what the jail binds: a disk named through a symlink
    /// lies in `own` when its target does, whatever the link is called.
    func unreachable(execFD: Int32, interpreter: String?, own: [String], argv: [String]) -> String? {
        let uid = identity.uid, gid = identity.gid
        // Only a permission denial counts: a missing file (an init that
        // does not exist) is the kernel's to report, as it would as root.
        func can(_ path: String, _ mode: Int32) -> Bool {
            guard let target = HostPath.resolved(path) else { return true }
            return own.contains { HostPath.lies(target, within: $0) }
                || corral_access_as(uid, gid, AT_FDCWD, target, mode) == 0 || (errno != EACCES && errno != EPERM)
        }
        if corral_access_as(uid, gid, execFD, "", X_OK) != 0 { return "the kernel binary" }
        if let interpreter, !can(interpreter, X_OK) { return interpreter }
        var root = "/"
        for arg in argv where arg.hasPrefix("rootflags=/") { root = String(arg.dropFirst("rootflags=".count)) }
        if !can(root, X_OK | R_OK) { return root }
        for arg in argv {
            guard let eq = arg.firstIndex(of: "=") else { continue }
            let key = arg[..<eq], value = String(arg[arg.index(after: eq)...])
            if key == "init" && value.hasPrefix("/") {
                let path = root == "/" ? value : root + value
                if !can(path, R_OK) { return path }
            } else if key.hasPrefix("ubd") && key.dropFirst(3).first?.isNumber == true {
                let readOnly = key.dropFirst(3).contains("r")
                // UML's syntax: FILE[(,|:)BACKING][(,|:)SERIAL]; the serial
                // names no file.
                let files = value.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
                    .flatMap { $0.split(separator: ":", omittingEmptySubsequences: false) }.prefix(2)
                for (i, file) in files.enumerated() where !file.isEmpty {
                    if !can(String(file), i == 0 && !readOnly ? R_OK | W_OK : R_OK) { return String(file) }
                }
            }
        }
        return nil
    }
}
