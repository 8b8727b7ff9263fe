#if canImport(Glibc)
import Glibc
#endif

/// Every host syscall the UML kernel may make, as data.
///
/// Anything not listed kills the whole process (SECCOMP_RET_KILL_PROCESS);
/// so do the i386 and x32 ABIs. The list is sandbox.md §3.3 (Debian
/// user-mode-linux 6.1, traced per task role with `perf trace` over a boot,
/// a 71 MB rsync between two ubd disks and every hostfs operation), plus the
/// two mconsole calls. Re-derive it when UML is upgraded (§6.5).
///
/// The guest's own syscalls never reach this filter (ptrace SYSEMU returns
/// before seccomp runs, §2): it limits what UML does *on the guest's behalf*
/// and what an escaped stub could do.
public struct Allowlist: Sendable, Equatable {
    public var name: String
    public var rules: [SyscallRule]

    /// The fd the sandbox moves the pre-opened kernel binary to; the only
    /// exec the filter allows is `execveat(kernelExecFD, "", AT_EMPTY_PATH)`,
    /// so UML's own helper execs and its re-exec on reboot are denied.
    public static let kernelExecFD: Int32 = 1000

    /// Names of the syscalls that some arguments can get through.
    public var allowedSyscalls: [String] { rules.filter(\.allows).map(\.syscall) }

    public init(name: String, rules: [SyscallRule]) {
        self.name = name
        self.rules = rules
    }
}

extension Allowlist {
    /// chmod's and fchmod's mode (argument 1) is allowed without the set-uid
    /// and set-gid bits; with either, the call gets EPERM, so a guest can
    /// neither plant a set-id file on the host nor kill the VM by trying.
    static let withoutSetIDBits: [SyscallRule.Variant] = [
        .init(action: .allow, conditions: [.masked(1, mask: 0o6000, 0)]),
        .init(action: .errno(EPERM), conditions: [.masked(1, mask: 0o4000, 0o4000)]),
        .init(action: .errno(EPERM), conditions: [.masked(1, mask: 0o2000, 0o2000)]),
    ]

    /// Debian's linux.uml 6.1 on x86_64 (main process, helper threads, winch
    /// helper, start-up probes and stubs together: they share one filter).
    public static let uml61 = Allowlist(name: "linux.uml 6.1 (x86_64)", rules: [
        // libc and ld.so start-up
        .allow("brk", "malloc heap"),
        .allow("arch_prctl", "libc sets FS for TLS; guest FS/GS go through PTRACE_ARCH_PRCTL"),
        .allow("set_tid_address", "libc thread start-up"),
        .allow("set_robust_list", "libc thread start-up"),
        .allow("rseq", "glibc registers restartable sequences"),
        SyscallRule(syscall: "prlimit64", reason: "reads RLIMIT_STACK/RLIMIT_CORE; setting a limit is denied",
                    variants: [.init(action: .allow, conditions: [.equals(2, 0)])]),
        .allow("getrandom", "kernel entropy seed and libc"),
        .allow("uname", "host kernel version check"),

        // memory
        .allow("mmap", "physical memory file (RWX, MAP_SHARED|MAP_FIXED) and stub mappings; W^X impossible for UML"),
        .allow("munmap", "guest address-space changes in stubs"),
        .allow("mprotect", "guest page protections in stubs, RELRO"),
        .allow("madvise", "MADV_REMOVE on the memory file"),

        // file I/O for ubd, hostfs, console
        .allow("openat", "ubd images, hostfs files, /dev/shm memory file, /proc/cpuinfo, uml_dir"),
        .allow("close", "every fd"),
        .allow("read", "console, socketpairs, hostfs"),
        .allow("write", "console, socketpairs, hostfs"),
        .allow("pread64", "ubd and hostfs reads"),
        .allow("pwrite64", "ubd and hostfs writes"),
        .allow("lseek", "hostfs and ubd"),
        .allow("fsync", "ubd flush, hostfs fsync"),
        .allow("ftruncate", "hostfs truncate, COW creation"),
        .allow("getdents64", "hostfs readdir"),
        .allow("newfstatat", "hostfs stat, image sizes"),
        .allow("access", "hostfs permission checks"),
        .allow("readlink", "hostfs symlinks"),
        .allow("statfs", "hostfs df"),
        .allow("getcwd", "start-up"),
        .allow("chdir", "start-up"),
        // Not in sandbox.md's traces: ext4's lazy inode-table init in the guest
        // issues WRITE_ZEROES a few seconds after mounting a fresh filesystem,
        // and UML's ubd thread turns it into ZERO_RANGE|KEEP_SIZE. A kill there
        // takes down only the helper thread (a separate process) and UML
        // deadlocks waiting for it; so block-request modes UML does not use
        // get EPERM (an I/O error in the guest), never a kill.
        SyscallRule(syscall: "fallocate", reason: "ubd discard (PUNCH_HOLE|KEEP_SIZE) and write-zeroes (ZERO_RANGE|KEEP_SIZE) only; other modes EPERM (guest-triggerable)",
                    variants: [0x3, 0x11].map { .init(action: .allow, conditions: [.equals32(1, $0)]) }
                        + [0x0, 0x1, 0x10, 0x2, 0x8, 0x20, 0x40].map { .init(action: .errno(EPERM), conditions: [.equals32(1, $0)]) }),

        // hostfs namespace operations
        .allow("mkdir", "hostfs mkdir, umid directory"),
        .allow("rmdir", "hostfs rmdir, umid cleanup"),
        .allow("unlink", "hostfs rm, pid file and mconsole socket cleanup"),
        .allow("symlink", "hostfs ln -s"),
        .allow("link", "hostfs ln"),
        .allow("renameat2", "hostfs mv (RENAME_NOREPLACE/EXCHANGE)"),
        .allow("utimensat", "hostfs touch"),
        .allow("chown", "hostfs chown (clears set-id bits)"),
        SyscallRule(syscall: "chmod", reason: "hostfs chmod; set-uid/set-gid bits get EPERM so a guest cannot plant set-id files (and cannot kill the VM)",
                    variants: withoutSetIDBits),
        // Not in sandbox.md's traces, but hostfs's set_attr/rename/fsync take
        // these paths when the guest inode already holds a host fd (a chmod of
        // an open file was a fchmod that killed the VM), for a plain rename()
        // (flags 0), and for fdatasync. All guest-triggerable.
        SyscallRule(syscall: "fchmod", reason: "hostfs chmod of an open inode; set-id bits get EPERM like chmod",
                    variants: withoutSetIDBits),
        .allow("fchown", "hostfs chown of an open inode"),
        .allow("truncate", "hostfs truncate of an inode without a host fd"),
        .allow("rename", "hostfs rename without flags"),
        .allow("fdatasync", "hostfs fdatasync"),
        SyscallRule(syscall: "mknodat", reason: "hostfs mkfifo/mknod of FIFOs, sockets and files; device nodes get EPERM (guest-triggerable, must not kill the VM)",
                    variants: [0, 0o100000, 0o010000, 0o140000].map {
                        .init(action: .allow, conditions: [.masked(2, mask: 0o170000, $0)])
                    } + [0o020000, 0o060000, 0o040000, 0o120000].map {
                        .init(action: .errno(EPERM), conditions: [.masked(2, mask: 0o170000, $0)])
                    }),

        // ptrace: UML's whole execution model (SYSEMU, registers); no ATTACH/SEIZE/POKEDATA
        .allow("ptrace", arg: 0, in64: [
            0,       // PTRACE_TRACEME (stubs, start-up probes)
            3, 6,    // PEEKUSER, POKEUSER (start-up checks)
            7, 8,    // CONT, KILL
            12, 13,  // GETREGS, SETREGS
            21,      // OLDSETOPTIONS (TRACESYSGOOD)
            24,      // SYSCALL (start-up check)
            30,      // ARCH_PRCTL (guest FS/GS)
            31, 32,  // SYSEMU, SYSEMU_SINGLESTEP
            0x4202,  // GETSIGINFO
            0x4204, 0x4205,  // GETREGSET, SETREGSET
        ], "UML runs guest code in ptraced stubs; only the requests it uses"),

        // processes
        .allow("wait4", "stub and helper stops/exits (__WALL)"),
        .allow("getpid", "self-signals"),
        .allow("getppid", "start-up probes"),
        .allow("getpgrp", "console"),
        .allow("setsid", "winch helper, main"),
        .allow("modify_ldt", "guest LDT in stubs"),
        SyscallRule(syscall: "kill", reason: "timer SIGALRM, SIGKILL/SIGSTOP to stubs, SIGABRT on panic; positive pids only (no kill(-1) or process groups)",
                    variants: [6, 9, 14, 19, 18, 15, 28, 29, 10, 11, 5].map { (sig: UInt32) in
                        // SIGABRT SIGKILL SIGALRM SIGSTOP SIGCONT SIGTERM SIGWINCH SIGIO SIGUSR1 SIGSEGV SIGTRAP
                        .init(action: .allow, conditions: [
                            .masked(0, mask: 0xffff_ffff_8000_0000, 0), .equals32(1, sig),
                        ])
                    }),
        .allow("clone", arg: 0, in64: [
            0x0120_0011,  // CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD: glibc fork (start-up probes)
            0x500,        // CLONE_VM|CLONE_FILES: ubd and SIGIO helper threads
            0x400,        // CLONE_FILES: winch helper
            0x411,        // CLONE_FILES|SIGCHLD: stub per guest address space
            0x8411,       // CLONE_FILES|CLONE_PARENT|SIGCHLD: stub forking a stub
        ], "exact flag sets UML uses; never a namespace flag"),
        .fail("clone3", errno: ENOSYS, "flags live in memory where seccomp cannot see them; ENOSYS lets libc fall back to clone"),

        // signals and timers
        .allow("rt_sigaction", "handlers for SIGALRM, SIGIO, SIGSEGV, SIGWINCH"),
        .allow("rt_sigprocmask", "interrupt masking"),
        .allow("rt_sigreturn", "return from signal handlers"),
        .allow("rt_sigsuspend", "idle: wait for the next host signal"),
        .allow("sigaltstack", "signal stack (main and stubs)"),
        .allow("timer_create", "the kernel's clock (CLOCK_MONOTONIC, SIGALRM)"),
        .allow("timer_settime", "tick programming"),
        .allow("timer_gettime", "tick reading"),

        // event loop
        .allow("epoll_create", "IRQ emulation"),
        .allow("epoll_ctl", "IRQ emulation"),
        .allow("epoll_wait", "IRQ emulation"),
        .allow("poll", "ubd and SIGIO helper threads"),

        // host IPC: AF_UNIX only
        .allow("socket", arg: 0, in32: [1], "mconsole socket: AF_UNIX only, no network"),
        .allow("socketpair", arg: 0, in32: [1], "helper channels: AF_UNIX only"),
        .allow("bind", "mconsole socket in uml_dir"),
        .allow("recvfrom", "mconsole requests (uml_mconsole, launcher shutdown)"),
        .allow("sendto", "mconsole replies"),

        // tty
        .allow("ioctl", arg: 1, in32: [
            0x5401, 0x5402, 0x5403, 0x5404,  // TCGETS, TCSETS, TCSETSW, TCSETSF
            0x540E, 0x540F, 0x5410,          // TIOCSCTTY, TIOCGPGRP, TIOCSPGRP
            0x5413,                          // TIOCGWINSZ
            0x8004_5430, 0x4004_5431, 0x5441,  // TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER (SIGIO self-test)
        ], "console and pty only; no TIOCSTI, TIOCLINUX or device ioctls"),
        .allow("fcntl", arg: 1, in32: [
            1, 2, 3, 4,  // F_GETFD, F_SETFD, F_GETFL, F_SETFL (O_NONBLOCK|O_ASYNC)
            5, 6,        // F_GETLK, F_SETLK (image locks)
            8, 10,       // F_SETOWN, F_SETSIG (SIGIO)
        ], "fd flags, SIGIO routing and image locks only"),

        // exit
        .allow("exit", "helper threads"),
        .allow("exit_group", "process exit"),

        // exec: only the sandbox's own exec of the pre-opened kernel. A guest
        // reboot makes UML re-exec itself with execve; EPERM lets it report
        // "Failed to exec kernel" and exit cleanly instead of dying of SIGSYS,
        // so the launcher sees an ordinary exit and can restart it.
        .fail("execve", errno: EPERM, "UML's re-exec on guest reboot and its helper execs: refused, not killed (guest-triggerable)"),
        // perror() then reports the refusal; glibc's dups stderr for it when
        // nothing was written there yet, which is the case under corral boot.
        // Killing the kernel at that dup turned every guest reboot on 6.1 into
        // a sandbox denial. A dup gives no access the kernel does not hold.
        .allow("dup", "perror()'s copy of stderr (\"Failed to exec kernel\" after a guest reboot); 6.12's console set-up"),
        SyscallRule(syscall: "execveat", reason: "the sandbox's exec of the pre-opened kernel; every other exec is denied",
                    variants: [.init(action: .allow, conditions: [
                        .equals32(0, UInt32(Allowlist.kernelExecFD)), .equals32(4, 0x1000 /* AT_EMPTY_PATH */),
                    ])]),
    ])
}
