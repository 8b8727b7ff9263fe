import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif

/// Starts the kernel under a reaper and waits for it (the fork/exec itself is
/// in C, reaper.c: no Swift runs between fork and exec).
///
/// The reaper is PID 1 of the kernel's PID namespace, the kernel PID 2. The
/// reaper dies with this helper (PDEATHSIG) and exits as soon as the kernel
/// exits, so nothing of the guest survives either (sandbox.md §0.5).
struct ReapedKernel {
    private var reaper: corral_reaper

    /// Spawns the kernel; returns once it has been exec'd, or throws the
    /// child's setup failure. With `start` (the launcher's go pipe) the
    /// child, set up to its last step, execs only once a byte arrives there,
    /// and this returns only then (or once the boot was called off: end of
    /// file, and the reaper reports a clean exit).
    init(execFD: Int32, argv: [String], filter: BPFProgram?, user: UserIdentity?,
         notify: NotifyMode = .none, mountProc: Bool = false, landlockRuleset: Int32 = -1,
         processLimit: UInt = 0, dropCapabilities: Bool = false,
         reaperKeepsKill: Bool = false, console: Int32? = nil, start: Int32? = nil) throws(SandboxError) {
        // Leaked on purpose: the child reads them after fork, and this
        // process only ever waits and exits afterwards.
        let cArgs = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: argv.count + 1)
        for (i, arg) in argv.enumerated() { cArgs[i] = strdup(arg) }
        cArgs[argv.count] = nil
        let bpf = filter.map { program in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: program.bytes.count)
            p.initialize(from: program.bytes, count: program.bytes.count)
            return UnsafePointer(p)
        }
        let groups = UnsafeMutablePointer<gid_t>.allocate(capacity: max(user?.groups.count ?? 0, 1))
        if let user { groups.initialize(from: user.groups, count: user.groups.count) }

        var spec = corral_kernel_spec(
            exec_fd: execFD,
            argv: UnsafePointer(cArgs),
            bpf: bpf,
            bpf_len: filter?.bytes.count ?? 0,
            drop_user: user == nil ? 0 : 1,
            uid: user?.uid ?? 0,
            gid: user?.gid ?? 0,
            groups: UnsafePointer(groups),
            group_count: user?.groups.count ?? 0,
            notify_mode: notify.rawValue,
            mount_proc: mountProc ? 1 : 0,
            landlock_fd: landlockRuleset,
            nproc_limit: processLimit,
            drop_capabilities: dropCapabilities ? 1 : 0,
            reaper_keeps_kill: reaperKeepsKill ? 1 : 0,
            console_fd: console ?? -1,
            start_fd: start ?? -1
        )
        var out = corral_reaper()
        var step: Int32 = 0
        if corral_spawn_reaped_kernel(&spec, &out, &step) != 0 {
            throw SandboxError.call(Self.stepName(step), step == 8 ? argv.first : nil, errno: errno)
        }
        reaper = out
    }

    /// Waits for the kernel (forwarding SIGTERM/SIGINT/SIGHUP) and returns
    /// its wait status.
    func wait() -> Int32 {
        withUnsafePointer(to: reaper) { corral_wait_reaper($0) }
    }

    /// How the filter's notify action is answered (`corral_kernel_spec.notify_mode`).
    enum NotifyMode: Int32 {
        /// The filter kills by itself (no notify action).
        case none = 0
        /// The first unlisted call is recorded and the kernel killed.
        case deny = 1
        /// Every unlisted call is recorded and allowed.
        case learn = 2
    }

    /// Waits like `wait()`, collecting what the filter handed to the reaper:
    /// each call as a text line on `learnFD` (when given), and the first one.
    func wait(learnFD: Int32?) -> (status: Int32, first: corral_seccomp_event?) {
        var event = corral_seccomp_event()
        var seen: Int32 = 0
        let status = withUnsafePointer(to: reaper) { corral_wait_reaper_events($0, learnFD ?? -1, &event, &seen) }
        return (status, seen != 0 ? event : nil)
    }

    private static func stepName(_ step: Int32) -> String {
        switch step {
        case 1: "fork(reaper)"
        case 2: "fork(kernel)"
        case 3: "setrlimit(RLIMIT_CORE or RLIMIT_NPROC)"
        case 4: "setgroups"
        case 5: "setresgid"
        case 6: "setresuid"
        case 7: "seccomp(SECCOMP_SET_MODE_FILTER)"
        case 8: "execveat"
        case 10: "mount(proc, /proc)"
        case 11: "landlock_restrict_self"
        case 12: "capabilities (PR_CAPBSET_DROP, PR_SET_SECUREBITS, capset)"
        default: "kernel start-up"
        }
    }
}
