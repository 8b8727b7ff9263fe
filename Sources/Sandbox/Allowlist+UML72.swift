extension Allowlist {
    /// Debian sid's linux.uml 7.2 (`7.2um1`, glibc 2.43), x86_64: the 6.12
    /// list plus what this build was seen to need. Traced with
    /// `scripts/seccomp-profile` (boot, ubd disk I/O with fstrim, every hostfs
    /// operation, a guest reboot), reviewed by hand.
    ///
    /// The big change since 6.12: a guest address space is no longer a fork
    /// of the kernel but a separate static binary ("uml-userspace") that the
    /// kernel keeps in a sealed memfd and starts with vfork + execveat.
    public static let uml72 = Allowlist.uml612.extended("linux.uml 7.2 (x86_64)", [
        // the userspace stub
        .allow("memfd_create", arg: 1, in32: [0x13 /* MFD_CLOEXEC|MFD_ALLOW_SEALING|MFD_EXEC */],
               "the userspace stub binary, once per boot"),
        .allow("fcntl", arg: 1, in32: [0x409 /* F_ADD_SEALS */], "seals the stub memfd"),
        .allow("clone", arg: 0, in64: [
            0x4111,    // CLONE_VFORK|CLONE_VM|SIGCHLD: starting a userspace stub
            0x3d0f00,  // pthread_create: glibc's clone fallback (clone3 gets ENOSYS)
            0x4100,    // CLONE_VFORK|CLONE_VM, no exit signal: the seccomp-mode start-up probe
        ], "vfork of a stub, one thread, and the seccomp-mode probe child"),
        .allow("close_range", arg: 2, in32: [0, 4 /* CLOSE_RANGE_CLOEXEC */],
               "the stub child marks every fd close-on-exec; in seccomp userspace the kernel closes the fds above 5 it inherited, and each stub and the probe child all but fd 0"),
        .allow("dup2", arg: 1, in32: [0], "the stub child puts its data fd on stdin"),
        .allow("personality", arg: 0, in32: [0x40000 /* ADDR_NO_RANDOMIZE */], "the stub's fixed layout"),
        SyscallRule(syscall: "execveat", reason: "the stub exec from its memfd (fd 5, opened at boot before any disk)",
                    variants: [.init(action: .allow, conditions: [.equals32(0, 5), .equals32(4, 0x1000 /* AT_EMPTY_PATH */)])]),
        .allow("prctl", arg: 0, in32: [15 /* PR_SET_NAME */, 38 /* PR_SET_NO_NEW_PRIVS */],
               "the stub names itself and sets no_new_privs (already set)"),
        // Seccomp userspace (`seccomp=on`, which corral passes for its own
        // init: UserspaceMode). A stub runs guest code natively under a filter
        // of its own that traps the guest's calls to a SIGSYS handler; the
        // handler and the kernel take turns through a futex in the stub's
        // shared data page and pass descriptors over each stub's socket. Guest
        // calls never reach this list's verdict: the stub's trap outranks the
        // user-notification default (and an errno), so only the stub's own
        // calls are judged here, and every one it makes is listed.
        SyscallRule(syscall: "seccomp",
                    reason: "the stub adds its own filter (SECCOMP_SET_MODE_FILTER with TSYNC only: a filter can only narrow; no listener, no other operation)",
                    variants: [.init(action: .allow, conditions: [.equals32(0, 1 /* SET_MODE_FILTER */), .equals32(1, 1 /* TSYNC */)])]),
        .allow("recvmsg", arg: 2, in32: [0], "a stub receives the memory file's descriptor (SCM_RIGHTS) on its fd 0, to map guest pages (flags 0)"),
        .allow("sendmsg", arg: 2, in32: [0], "the kernel hands a stub the memory file's descriptor over their socketpair (flags 0)"),
        // glibc 2.43, the console, and seccomp userspace
        .allow("futex", arg: 1, in32: [0, 1, 0x80, 0x81, 0x109],
               "FUTEX_WAIT/WAKE on a stub's shared data page (seccomp userspace); WAIT/WAKE_PRIVATE, WAIT_BITSET|CLOCK_REALTIME: the one helper thread"),
        .allow("tgkill", arg: 2, in32: [32], "glibc's internal thread signal"),
        .allow("gettid", "thread id"),
        .allow("signalfd4", "signal handling of the helper thread"),
        .allow("ioctl", arg: 1, in32: [
            0x802c_542a, 0x402c_542b, 0x402c_542c, 0x402c_542d,  // TCGETS2, TCSETS2, TCSETSW2, TCSETSF2
        ], "glibc 2.42+ termios calls use the termios2 ioctls"),
    ])
}
