import CorralSystem
import Sandbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `SandboxError` is typed, but what users (and the boot tests matching the
/// helper's report) read is its one line: each case must say exactly what
/// the string error it replaced said.
@Suite struct SandboxErrorTests {
    @Test func eachCaseSaysWhatTheStringErrorSaid() {
        let lines: [(SandboxError, String)] = [
            (.call("mkdir", "jail /srv", errno: EACCES), "mkdir(jail /srv) failed: Permission denied"),
            (.call("seccomp_export_bpf", errno: ENOMEM), "seccomp_export_bpf failed: Cannot allocate memory"),
            (.seccompInit, "seccomp_init failed"),
            (.unknownSyscall("no_such_syscall", allowlist: "bad"), "seccomp: unknown syscall no_such_syscall in bad"),
            (.unsupported(.seccompKillProcess),
             "seccomp: this kernel lacks SECCOMP_RET_KILL_PROCESS; refusing to run unsandboxed (turn the sandbox off explicitly to override)"),
            (.unsupported(.seccompNotify), "CORRAL_SECCOMP_LEARN needs seccomp user notification and pidfd_getfd (Linux 5.6+)"),
            (.unsupported(.landlock), "this kernel has no Landlock"),
            (.unsupported(.landlockLSM), "Landlock is built in but not enabled (lsm= boot parameter)"),
            (.unsupported(.userNamespaces), "not root and unprivileged user namespaces are disabled"),
            (.unsupported(.mountAPI), "kernel lacks mount_setattr (needs Linux 5.12+)"),
            (.landlockProbe(errno: EPERM), "Landlock probe failed: Operation not permitted"),
            (.unknownUser("ghost", errno: nil), "sandbox user ghost does not exist"),
            (.unknownUser("ghost", errno: EIO), "sandbox user ghost does not exist: Input/output error"),
            (.userIsRoot("toor"), "sandbox user toor is root; pick an unprivileged account"),
            (.userNeedsRoot("nobody"), "sandbox user nobody needs corral to run as root"),
            (.unusablePath("/gone", role: "writable path", errno: ENOENT), "writable path /gone is not usable: No such file or directory"),
            (.noCgroup(.membershipUnreadable), "/proc/self/cgroup is unreadable"),
            (.noCgroup(.notInCgroup2), "this process is in no cgroup2 cgroup"),
            (.noCgroup(.controllerNotDelegated(parent: "/sys/fs/cgroup/u", controller: "pids")),
             "cgroup v2: /sys/fs/cgroup/u does not enable the pids controller for its children (no delegated cgroup)"),
            (.noCgroup(.parentNotWritable("/sys/fs/cgroup/u")), "cgroup v2: /sys/fs/cgroup/u is not writable by this user (no delegated cgroup)"),
            (.noCgroup(.v1NeedsRoot), "cgroup v1 needs root"),
            (.noCgroup(.v1NoController("memory")), "cgroup v1: no memory controller"),
            (.noCgroup(.v1NotWritable("/sys/fs/cgroup/pids/x")), "cgroup v1: /sys/fs/cgroup/pids/x is not writable"),
            (.cgroupSetup(version: "v2", SystemError(call: "mkdir", object: "corral-7", errno: .permissionDenied)),
             "cgroup v2 for the kernel: mkdir(corral-7) failed: Permission denied"),
            (.ownUIDRefused(.hostLacks(.unsupported(.mountAPI))),
             "the kernel cannot run as a uid of its own: the host lacks what it takes (kernel lacks mount_setattr (needs Linux 5.12+)); use a host with Linux 5.12 or later, or pass --sandbox-user root to run the kernel as root (the guest then reaches what root reaches)"),
            (.ownUIDRefused(.unreachable("/home/u/disk.img")),
             "the kernel cannot run as a uid of its own: /home/u/disk.img is out of its reach (another user's file whose mode shuts others out); give the file to root or open its mode to others, or pass --sandbox-user root to run the kernel as root (the guest then reaches what root reaches)"),
            (.ownUIDRefused(.noIdmapNamespace(.call("user namespace for the idmapped mounts", errno: EPERM))),
             "the kernel cannot run as a uid of its own: user namespace for the idmapped mounts failed: Operation not permitted; allow user namespaces for root, or pass --sandbox-user root to run the kernel as root (the guest then reaches what root reaches)"),
            (.ownUIDRefused(.noIdmappedMounts("/mnt/nfs")),
             "the kernel cannot run as a uid of its own: /mnt/nfs is on a filesystem without idmapped mounts, so it could not write there; move the disk to a filesystem that has them (ext4, xfs, btrfs, tmpfs), or pass --sandbox-user root to run the kernel as root (the guest then reaches what root reaches)"),
        ]
        for (error, line) in lines {
            #expect(error.description == line)
            #expect(!error.description.contains("\n"))
        }
    }

    /// A failed call from the system layer keeps the `call(object) failed:`
    /// shape, and a call without an object drops the parentheses.
    @Test func systemCallFailuresNameTheCallAndObject() {
        #expect(throws: SandboxError.call("open", "/nonexistent/corral", errno: ENOENT)) {
            try SandboxError.systemCall("open", "/nonexistent/corral") { open("/nonexistent/corral", O_RDONLY) }
        }
        #expect(SandboxError(SystemError(call: "unshare(CLONE_NEWPID)", object: "", errno: .permissionDenied)).description
                == "unshare(CLONE_NEWPID) failed: Permission denied")
    }

    /// A hint only where the user can act and the line does not already say how.
    @Test func hintsOnlyWhereTheUserCanAct() {
        #expect(SandboxError.unknownUser("ghost", errno: nil).hint?.contains("--sandbox-user") == true)
        #expect(SandboxError.unsupported(.seccompKillProcess).hint?.contains("--sandbox off") == true)
        #expect(SandboxError.unsupported(.seccompNotify).hint?.contains("CORRAL_SECCOMP_LEARN") == true)
        #expect(SandboxError.ownUIDRefused(.unreachable("/x")).hint == nil)
        #expect(SandboxError.call("mkdir", "jail /x", errno: EACCES).hint == nil)
    }
}
