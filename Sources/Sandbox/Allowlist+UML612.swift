extension Allowlist {
    /// Debian trixie's linux.uml 6.12 (`6.12um1`, glibc 2.41), x86_64: the
    /// 6.1 list plus what this build was seen to need. Traced with
    /// `scripts/seccomp-profile` (boot, ubd disk I/O with fstrim, every hostfs
    /// operation, a guest reboot), reviewed by hand.
    public static let uml612 = Allowlist.uml61.extended("linux.uml 6.12 (x86_64)", [
        // glibc 2.39+ implements stat()/fstat() with statx and a direct fstat,
        // where 2.36 used newfstatat: the call the 6.1 list killed at once.
        .allow("statx", "hostfs stat and image sizes (glibc ≥ 2.39 stat)"),
        .allow("fstat", "glibc ≥ 2.39 fstat of the memory file and images"),
        .allow("prctl", arg: 0, in32: [1 /* PR_SET_PDEATHSIG */],
               "stubs and helpers die with the kernel (6.12 sets it itself)"),
        .allow("ptrace", arg: 0, in64: [0x4200 /* PTRACE_SETOPTIONS */],
               "6.12 sets PTRACE_O_TRACESYSGOOD|EXITKILL with SETOPTIONS instead of OLDSETOPTIONS"),
    ])
}
