import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Runs the kernel: under `.off` by replacing this process with it, under
/// `.enforce` inside the sandbox, in this order (sandbox.md §6.3):
/// 1. open the kernel `O_PATH` at `Allowlist.kernelExecFD`;
/// 2. new PID, IPC and mount namespaces, a network namespace where Landlock
///    cannot scope abstract sockets (plus a user namespace when not root),
///    entered before the spec when the boot was expected (``PreparedJail``);
///    pivot_root into a read-only root of its own (`JailRoot`,
///    `MountJail`) with the writable paths (`WritablePaths`) writable;
/// 3. `no_new_privs`, then Landlock (when the host has it), and the seccomp
///    filter compiled (``KernelFilter``);
/// 4. fork the reaper (PID 1), which forks the kernel child (PID 2): drop to
///    `policy.user`, Landlock, install the filter *last*; then the child
///    waits for the caller's go (`start`: the launcher sends it once its
///    preflight passed, so steps 1-4 run beside that preflight) and
///    `execveat`s the kernel.
///
/// Under `.enforce` this process stays as the launcher's child (it is not
/// the kernel): it waits and then ends the way the kernel did (same exit
/// code or same signal), so the launcher sees the kernel's status, and it
/// forwards SIGTERM/SIGINT/SIGHUP to the kernel.
///
/// A feature the host lacks (Landlock; namespaces for a non-root caller
/// without user namespaces) is skipped and `report(policy:)` says so; seccomp
/// is never skipped: without it the kernel is not started.
public enum SandboxRunner {
    /// Called in the launcher's re-exec'd helper (already setsid, controlling
    /// tty on 0/1/2, PDEATHSIG set). Throws only before the kernel runs.
    ///
    /// `onDenial` gets the syscall the profile stopped the kernel at (when
    /// the host has seccomp user notification); the process then ends as if
    /// killed by SIGSYS, as it would without notification.
    ///
    /// `start`: the pipe the caller's go comes on. The kernel is set up to
    /// its last step (under `.enforce` the kernel child waits there with its
    /// filter installed; under `.off` this process waits before its exec)
    /// and starts once a byte arrives; at end of file the boot was called
    /// off, and this process exits 0 without starting it. Nil: at once.
    ///
    /// `cgroupRemovedByCaller`: the caller removes the boot's cgroup once
    /// this process is gone (the launcher does, `removeCgroup`), so the
    /// helper does not first move itself out of it at the end, a cgroup move
    /// that waited for an RCU grace period on the boot's path.
    ///
    /// `console`: under `.enforce`, the boot's terminal (on an fd of this
    /// process, which holds it as nobody's controlling terminal); the kernel
    /// leads a session of its own with it as controlling terminal, as under
    /// `.off`, where the helper's own session has it.
    ///
    /// `prepared`: what this process set up before it knew the boot
    /// (``prepareJail(kernelPath:)``); only a boot whose policy is
    /// ``PreparedJail/preparable(_:)`` fits it, any other is refused.
    public static func execKernel(
        kernelPath: String, argv: [String], policy: SandboxPolicy, console: Int32? = nil,
        cgroupRemovedByCaller: Bool = false, start: Int32? = nil, prepared: PreparedJail? = nil,
        onDenial: (SeccompDenial) -> Void = { _ in }
    ) throws(SandboxError) -> Never {
        // Namespaces entered before the spec cannot be left.
        if prepared != nil && !PreparedJail.preparable(policy) {
            throw .preparedForAnotherPolicy
        }
        switch policy.mode {
        case .off:
            if let start { awaitGo(start) }
            try execPlain(kernelPath: kernelPath, argv: argv)
        case .enforce:
            try execSandboxed(kernelPath: kernelPath, argv: argv, policy: policy, console: console,
                              environment: currentEnvironment(), cgroupRemovedByCaller: cgroupRemovedByCaller,
                              start: start, prepared: prepared, onDenial: onDenial)
        }
    }

    /// Waits for the go on `fd` (any bytes, up to end of file); exits 0 when
    /// there were none: the boot was called off, or its launcher is gone.
    static func awaitGo(_ fd: Int32) {
        let pipe = Descriptor(owning: fd, name: "the launcher's start pipe")
        if ((try? pipe.read(upTo: 64)) ?? []).isEmpty { exit(0) }
    }

    /// Set in the helper's environment to a file name: learning mode. The
    /// kernel runs under its profile (or the union), but every call the
    /// profile does not allow is let through and appended to the file as
    /// "nr arch a0 .. a5" (hex); `scripts/seccomp-profile` turns that into a
    /// profile draft. For tracing a new kernel, never for untrusted guests.
    public static let learnVariable = "CORRAL_SECCOMP_LEARN"

    /// The warning for a kernel without a shipped profile, nil for a known one.
    public static func profileWarning(_ kernel: KernelProfile.Selection, policy: SandboxPolicy) -> String? {
        policy.mode == .enforce ? kernel.warning : nil
    }

    /// Human-readable lines saying what the sandbox applies on this host;
    /// when a feature is missing, its line says so and why.
    public static func report(policy: SandboxPolicy, kernelPath: String? = nil) -> [String] {
        guard policy.mode == .enforce else {
            return ["sandbox: off (no seccomp, no namespaces: the guest can reach the host as this user)"]
        }
        let host = HostFeatures.probe()
        let selection = kernelPath.map { KernelProfile.select(kernelPath: $0) }
        let list = selection?.profile.allowlist ?? KernelProfile.union.allowlist
        var lines = ["sandbox: enforce"]
        if host.seccompKillProcess {
            let size = (try? SeccompFilter(allowlist: list).bpf().instructionCount).map { ", \($0) BPF instructions" } ?? ""
            let fallback = host.seccompNotify ? "default: the reaper names the call and stops the kernel" : "default kill-process"
            lines.append("seccomp: applied (profile \(list.name); \(list.allowedSyscalls.count) syscalls allowed, \(list.rules.filter(\.isArgumentFiltered).count) with argument filters, \(fallback), x86_64 only\(size))")
            if let selection { lines.append("kernel: \(selection.kernelName)" + (selection.known ? "" : ", no profile of its own")) }
        } else {
            lines.append("seccomp: unavailable (kernel lacks SECCOMP_RET_KILL_PROCESS); the kernel will not be started")
        }
        lines.append("no_new_privs: applied")
        let how = host.isRoot ? "" : " inside a user namespace"
        switch host.namespaces {
        case .success:
            lines.append("pid namespace: applied\(how) (reaper as PID 1, kernel as PID 2)")
            lines.append("ipc namespace: applied\(how) (no host SysV IPC)")
            if !host.scopesAbstractSockets {
                lines.append("network namespace: applied\(how) (no host network, no abstract sockets)")
            }
        case .failure(let why):
            lines.append("pid namespace: unavailable (\(why.description)); stubs of a killed kernel are left to seccomp")
            lines.append("network and ipc namespaces: unavailable (\(why.description))")
        }
        if host.scopesAbstractSockets {
            lines.append("abstract unix sockets: scoped by Landlock (only the kernel's own; the filter allows no other socket family, so no host network)")
        }
        switch host.mountJail {
        case .success: lines.append("mount namespace: applied\(how) (a read-only root of its own: /usr, /etc and the /bin, /lib links, the kernel, hostfs-init, the readable and writable paths, a minimal /dev; no /home, /root, /tmp, /var, /run contents; a /proc of the kernel's own processes, a private /dev/shm and devpts, /etc/shadow and /etc/gshadow empty)")
        case .failure(let why): lines.append("mount namespace: unavailable (\(why.description)); Landlock alone guards host files")
        }
        switch host.landlock {
        case .success(let abi): lines.append("landlock: applied (ABI \(abi), writes only to the writable paths; executes only the kernel and its interpreter)")
        case .failure(let why): lines.append("landlock: unavailable (\(why.description))")
        }
        let writable = (try? WritablePaths(policy: policy, argv: [], environment: currentEnvironment()).paths)
            ?? policy.writablePaths
        lines.append("writable: " + (writable + ["uml_dir= from the command line"]).joined(separator: ", "))
        if policy.kernelAsRoot {
            lines.append("user: root, as asked (--sandbox-user root): every capability; the guest reaches what root reaches, through the mounts above")
        } else if let user = policy.user {
            lines.append("user: \(user) " + ((try? UserIdentity(user)).map { "(uid \($0.uid), gid \($0.gid))" } ?? "(cannot be resolved)"))
        } else if host.isRoot, case .success = host.namespaces, case .success = host.mountJail {
            lines.append("user: a uid of its own (\(KernelAccount.base) + the helper's pid), no groups, no capabilities, RLIMIT_NPROC \(KernelAccount.processLimit); writable paths through idmapped mounts (root's files show as its own). A boot where that uid cannot work (a writable path's filesystem without idmapped mounts, a file it cannot reach) is refused, never run as root unasked")
        } else if host.isRoot {
            lines.append("user: none can be given (the mount jail is unavailable): boots are refused unless --sandbox-user root")
        } else {
            let inNamespace = (try? host.namespaces.get()) != nil
            lines.append("user: the caller (uid \(geteuid()))" + (inNamespace ? ", inside a user namespace where root's files show as 65534; no capabilities there either, RLIMIT_NPROC \(policy.processLimit ?? Int(KernelAccount.processLimit)) counted in that namespace" : ""))
        }
        let mib = { (bytes: UInt64) in "\(bytes >> 20) MiB" }
        let shm = "memory file: a private /dev/shm of mem= + \(mib(KernelLimits.memoryFileMargin))"
        switch KernelCgroup.locate() {
        case .success(let location):
            let memoryFile = location.version == .v2 ? "memory.max" : "memory.limit_in_bytes"
            lines.append("limits: cgroup \(location.version.rawValue) \(KernelCgroup.prefix)<helper pid> under " + location.places.map(\.parent).joined(separator: " and ")
                         + " (pids.max \(KernelLimits(argv: [], processes: policy.processLimit).processes), \(memoryFile) mem= + \(mib(KernelLimits.memoryFileMargin + KernelLimits.hostOverhead))), removed after the boot; \(shm)")
        case .failure(let why):
            lines.append("limits: cgroup unavailable (\(why.description)): \(processBound(policy: policy)), host memory by the memory file's tmpfs; \(shm)")
        }
        return lines
    }

    /// The line a boot says when no cgroup of its own can limit the
    /// kernel's tree (`why`, from `KernelCgroup.locate`): what bounds it instead (less
    /// than a cgroup: nothing bounds the memory the kernel process itself
    /// allocates, and under `policy.kernelAsRoot` nothing its processes), and for
    /// cgroup v2 how a user gets a delegated cgroup. Said before the boot,
    /// since a user who counted on the limits should hear it first.
    static func noCgroupWarning(_ why: SandboxError, policy: SandboxPolicy) -> String {
        let fix: String
        switch why {
        case .noCgroup(.controllerNotDelegated), .noCgroup(.parentNotWritable), .noCgroup(.notInCgroup2):
            fix = "; for them, boot in a delegated cgroup (systemd: systemd-run --user --scope corral boot ...)"
        case .noCgroup(.v1NeedsRoot):
            fix = "; for them, boot as root"
        default:
            fix = ""
        }
        return "no cgroup limits this boot's kernel (\(why)): \(processBound(policy: policy)), its memory file by a private tmpfs\(fix)"
    }

    /// What bounds the kernel's processes when no cgroup does, in the words
    /// of the warning and of the report. RLIMIT_NPROC never binds uid 0: a
    /// kernel run as root is bounded by nothing else. Otherwise it is set to
    /// the limits' process count.
    static func processBound(policy: SandboxPolicy) -> String {
        policy.kernelAsRoot
            ? "nothing bounds its processes (it runs as root, which RLIMIT_NPROC does not bind)"
            : "its processes are bounded by RLIMIT_NPROC (\(KernelLimits(argv: [], processes: policy.processLimit).processes))"
    }

    /// Makes a just-spawned helper's boot cgroup (with the limits for
    /// `argv`) on a thread of its own, and on cgroup v2 puts the helper
    /// into it from outside. Called as the boot starts, when the helper is
    /// spawned before the preflight and waits for its spec: a v2 move waits
    /// for an RCU grace period (Linux guards every move of a process with
    /// one percpu rwsem, and a writer that finds it idle waits for one,
    /// 10-20 ms on this host kind), which then passes beside the preflight
    /// instead of on the boot's path. On v1 the helper moves its one thread
    /// itself, which waits for nothing (`KernelCgroup.join`). The same thread
    /// finds whether a cgroup can be made at all (the handle's
    /// `limitsWarning`). Failures are left to the helper, which retries the
    /// same steps and reports what fails; the launcher removes the cgroup
    /// after the boot (`removeCgroup`), once the handle's `wait` returned.
    /// Nil when the sandbox is off.
    public static func placeInCgroup(helper: Int32, argv: [String], policy: SandboxPolicy) -> CgroupPlacement? {
        guard policy.mode == .enforce else { return nil }
        let placement = CgroupPlacement()
        let limits = KernelLimits(argv: argv, processes: policy.processLimit)
        SignalMask.startThread {
            switch KernelCgroup.locate() {
            case .success(let location):
                placement.found(nil)
                _ = try? KernelCgroup.enter(helper: helper, limits: limits, at: location, pid: helper)
            case .failure(let why):
                placement.found(why)
            }
            placement.done.signal()
        }
        return placement
    }

    /// Starts, on a thread of its own, the wait the boot's first cgroup move
    /// has to make on cgroup v2 (``KernelCgroup/warmUpMigration(at:)``), so
    /// that it passes while corral reads its command line and plans the
    /// boot: the move that puts the helper into its cgroup
    /// (``placeInCgroup``) then waits only for the rest of it. Does nothing
    /// under `.off`, and nothing on v1, where no move of the boot's waits.
    public static func warmUpCgroupMove(mode: SandboxPolicy.Mode) {
        guard mode == .enforce else { return }
        SignalMask.startThread {
            if case .success(let location) = KernelCgroup.locate() { KernelCgroup.warmUpMigration(at: location) }
        }
    }

    /// Removes the cgroup of the boot whose helper had pid `helper`, once its
    /// tasks are gone: the launcher calls this after killing a boot, whose
    /// helper then had no chance to. True when nothing of it is left.
    @discardableResult
    public static func removeCgroup(helper: Int32) -> Bool {
        KernelCgroup.remove(helper: helper)
    }

    static func execPlain(kernelPath: String, argv: [String]) throws(SandboxError) -> Never {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        execv(kernelPath, &cArgs)
        throw SandboxError.call("execv", kernelPath, errno: errno)
    }

    /// What a helper sets up for a jailed boot with the default policy
    /// before it knows the boot (``PreparedJail``): called as the helper
    /// starts, while the launcher parses and plans. `kernelPath`, the
    /// kernel the boot is expected to run, has its filter compiled; nil
    /// when unknown. Never fails: a step that fails is recorded and thrown
    /// when the boot's spec arrives, where the same step would fail.
    public static func prepareJail(kernelPath: String?) -> PreparedJail {
        prepare(kernelPath: kernelPath, policy: nil, environment: currentEnvironment())
    }

    /// The host's half of a jailed boot (``PreparedJail``): for the default
    /// policy when `policy` is nil, else for `policy`, with the helper's
    /// `environment` (learning mode). Namespaces are entered here, so this
    /// runs in the helper only.
    static func prepare(kernelPath: String?, policy: SandboxPolicy?, environment: [String: String]) -> PreparedJail {
        let host = HostFeatures.probe()
        var prepared = PreparedJail(host: host)
        // Never silently root: a root caller's kernel gets its own uid, or
        // the boot is refused with the reason, unless a user (root, or
        // another) was asked for.
        let ownUID = host.isRoot && policy?.user == nil
        do throws(SandboxError) {
            guard host.seccompKillProcess else {
                throw .unsupported(.seccompKillProcess)
            }
            if let kernelPath {
                prepared.filter = (kernelPath, Result { () throws(SandboxError) in
                    try KernelFilter.compile(kernelPath: kernelPath, environment: environment, host: host)
                })
            }
            if ownUID, case .failure(let why) = host.mountJail {
                throw .ownUIDRefused(.hostLacks(why))
            }
            // Made (or found) before the namespaces, while /sys/fs/cgroup is
            // in view and this process has its own credentials; limited once
            // the boot is known, joined just before the reaper is born (see
            // KernelCgroup.join).
            if case .success(let location) = KernelCgroup.locate() {
                prepared.cgroup = try KernelCgroup.make(helper: getpid(), at: location)
            }
            if case .success = host.namespaces {
                let jail = (try? host.mountJail.get()) != nil
                if jail && ownUID {
                    let candidate = KernelAccount(helperPID: getpid())
                    do {
                        let made = try candidate.idmapNamespace()
                        prepared.idmap = made.fd
                        prepared.idmapHolder = made.holder
                        prepared.account = candidate
                    } catch {
                        throw .ownUIDRefused(.noIdmapNamespace(error))
                    }
                }
                try Namespaces.enter(isRoot: host.isRoot, mount: jail, network: !host.scopesAbstractSockets)
                if jail {
                    prepared.root = try MountJail.begin(procFromHost: !host.isRoot)
                }
            }
        } catch {
            prepared.failure = error
        }
        return prepared
    }

    static func execSandboxed(
        kernelPath: String, argv: [String], policy: SandboxPolicy, console: Int32? = nil,
        environment: [String: String], cgroupRemovedByCaller: Bool = false,
        start: Int32? = nil, prepared: PreparedJail? = nil, onDenial: (SeccompDenial) -> Void
    ) throws(SandboxError) -> Never {
        // Made before the spec by a helper spawned for this policy, else now.
        let prepared = prepared ?? prepare(kernelPath: kernelPath, policy: policy, environment: environment)
        let host = prepared.host
        // The idmap namespace's holder, killed, and reaped once it is dead
        // (else after the kernel, or when setting up fails): waiting for its
        // death cost 2-6 ms of every boot's path on a busy host.
        var idmapHolder = prepared.idmapHolder
        defer { _ = corral_reap_child(idmapHolder, 1) }
        var idmap = prepared.idmap
        defer { if let fd = idmap { close(fd) } }
        var root = prepared.root
        defer { root?.closeAll() }
        if let failure = prepared.failure {
            throw failure
        }
        let writable = try WritablePaths(policy: policy, argv: argv, environment: environment)
        let user = policy.kernelAsRoot ? nil : try policy.user.map { name throws(SandboxError) in try UserIdentity(name) }
        if let name = policy.user, !host.isRoot {
            throw .userNeedsRoot(name)
        }
        // Compiled before the spec for the kernel the boot was expected to
        // run; like everything here, while the launcher checks the boot.
        let compiled: KernelFilter
        if let (path, result) = prepared.filter, path == kernelPath {
            compiled = try result.get()
        } else {
            compiled = try KernelFilter.compile(kernelPath: kernelPath, environment: environment, host: host)
        }
        let notify = compiled.notify
        let learnPath = KernelFilter.learnPath(environment)
        var learnFD: Int32?
        if let learnPath {
            learnFD = try SandboxError.systemCall("open", learnPath) { open(learnPath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        }
        let execFD = try SandboxError.systemCall("open", kernelPath) { corral_open_exec_fd(kernelPath, Allowlist.kernelExecFD) }

        let interpreter = KernelBuildID.interpreter(path: kernelPath)
        // With no step failed, a root was begun exactly where the kernel
        // gets a mount namespace of its own.
        let jail = root != nil
        // A root caller's kernel runs as a uid of its own (KernelAccount)
        // when its writable paths can be idmapped and it can reach its files.
        let account = prepared.account
        // What the kernel's root holds read-only beyond the system trees:
        // the policy's paths, the kernel itself, its interpreter and libraries.
        let jailReadable = policy.readablePaths.map(WritablePaths.absolute) + [WritablePaths.absolute(kernelPath)]
            + (interpreter.map { [$0] } ?? []) + KernelBuildID.libraryDirectories(path: kernelPath)
        let readable = jailReadable.compactMap { try? WritablePaths.canonical($0, what: "readable path") }
        if let account, let path = account.unreachable(execFD: execFD, interpreter: interpreter, own: writable.paths + readable, argv: argv) {
            throw .ownUIDRefused(.unreachable(path))
        }
        let limits = KernelLimits(argv: argv, processes: policy.processLimit)
        let cgroup = prepared.cgroup
        try cgroup?.limit(limits)
        if let begun = root {
            root = nil
            try MountJail(writable: writable, readable: jailReadable, memoryFileBytes: limits.memoryFileBytes)
                .apply(begun, idmap: idmap, account: account)
        }
        if let fd = idmap {
            close(fd)
            idmap = nil
        }
        try SandboxError.systemCall("prctl(PR_SET_NO_NEW_PRIVS)", "") { corral_set_no_new_privs() }
        if corral_reap_child(idmapHolder, 0) != 0 { idmapHolder = 0 }
        var landlock: Int32 = -1
        if case .success(let abi) = host.landlock {
            let executables = [kernelPath] + (interpreter.map { [$0] } ?? [])
            landlock = try Landlock(abi: abi, writable: writable, executables: executables).ruleset()
        }
        // Capabilities: the kernel holds none (unless root was asked for),
        // nor can it regain any at exec; it starts with some only as root
        // or as the first process of the caller's user namespace, and it is
        // in those cases that they are taken. The reaper keeps CAP_KILL
        // where the kernel runs as another uid than itself (root's caller).
        let inUserNamespace = !host.isRoot && (try? host.namespaces.get()) != nil
        let dropCapabilities = !policy.kernelAsRoot && (host.isRoot || inUserNamespace)
        // RLIMIT_NPROC binds a non-root uid only: the kernel's own (root's
        // caller), or the caller's inside its user namespace, where Linux
        // 5.14+ counts the namespace's processes only (before 5.14 all of
        // the caller's processes count).
        let processLimit = account != nil || inUserNamespace ? UInt(limits.processes) : 0
        // The reaper and the kernel are born inside. On v2 placed there by
        // the launcher as a rule (placeInCgroup), which then also removes
        // it; moved here (always on v1, where that waits for nothing), and
        // removed here when the launcher does not remove it.
        var ownCgroup: KernelCgroup?
        if let cgroup {
            do {
                if try cgroup.join() { ownCgroup = cgroup }
            } catch {
                cgroup.removeMade()
                throw error
            }
        }
        if let learnFD {
            let header = "# kernel \(compiled.kernelName) profile \(compiled.profileName)\n"
            _ = header.withCString { write(learnFD, $0, strlen($0)) }
        }
        let kernel = try ReapedKernel(execFD: execFD, argv: argv, filter: compiled.program, user: user ?? account?.identity,
                                      notify: notify, mountProc: jail, landlockRuleset: landlock,
                                      processLimit: processLimit, dropCapabilities: dropCapabilities,
                                      reaperKeepsKill: host.isRoot, console: console, start: start)
        let (status, first) = kernel.wait(learnFD: learnFD)
        _ = corral_reap_child(idmapHolder, 1)  // long dead by now
        idmapHolder = 0
        if !cgroupRemovedByCaller { ownCgroup?.remove() }
        if notify == .deny, let first {
            onDenial(SeccompDenial(number: first.nr,
                                   arguments: withUnsafeBytes(of: first.args) { Array($0.bindMemory(to: UInt64.self)) },
                                   kernel: compiled.kernelName, profile: compiled.profileName))
            corral_exit_like(SIGSYS)  // the wait status of a SIGSYS death, as without notification
        }
        corral_exit_like(status)
    }

    static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let eq = pair.firstIndex(of: "=") {
                result[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            }
            entry += 1
        }
        return result
    }
}
