import CSandboxShim

#if canImport(Glibc)
import Glibc
#endif

/// Runs the kernel: under `.off` by replacing this process with it, under
/// `.enforce` inside the sandbox, in this order (sandbox.md §6.3):
/// 1. compile the seccomp allowlist to BPF; open the kernel `O_PATH` at
///    `Allowlist.kernelExecFD`;
/// 2. new PID, network, IPC and mount namespaces (plus a user namespace when
///    not root); host root read-only, writable paths attached back
///    (`WritablePaths` says which);
/// 3. `no_new_privs`, then Landlock (when the host has it);
/// 4. fork the reaper (PID 1), which forks the kernel child (PID 2): drop to
///    `policy.user`, install the filter *last*, `execveat` the kernel.
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
    public static func execKernel(
        kernelPath: String, argv: [String], policy: SandboxPolicy
    ) throws -> Never {
        switch policy.mode {
        case .off:
            try execPlain(kernelPath: kernelPath, argv: argv)
        case .enforce:
            try execSandboxed(kernelPath: kernelPath, argv: argv, policy: policy,
                              environment: currentEnvironment())
        }
    }

    /// Human-readable lines saying what the sandbox applies on this host;
    /// when a feature is missing, its line says so and why.
    public static func report(policy: SandboxPolicy) -> [String] {
        guard policy.mode == .enforce else {
            return ["sandbox: off (no seccomp, no namespaces: the guest can reach the host as this user)"]
        }
        let host = HostFeatures.probe()
        let list = Allowlist.uml61
        var lines = ["sandbox: enforce"]
        if host.seccompKillProcess {
            let size = (try? SeccompFilter(allowlist: list).bpf().instructionCount).map { ", \($0) BPF instructions" } ?? ""
            lines.append("seccomp: applied (\(list.allowedSyscalls.count) syscalls allowed, \(list.rules.filter(\.isArgumentFiltered).count) with argument filters, default kill-process, x86_64 only\(size))")
        } else {
            lines.append("seccomp: unavailable (kernel lacks SECCOMP_RET_KILL_PROCESS); the kernel will not be started")
        }
        lines.append("no_new_privs: applied")
        let how = host.isRoot ? "" : " inside a user namespace"
        switch host.namespaces {
        case .success:
            lines.append("pid namespace: applied\(how) (reaper as PID 1, kernel as PID 2)")
            lines.append("network and ipc namespaces: applied\(how) (no host network, no abstract sockets)")
        case .failure(let why):
            lines.append("pid namespace: unavailable (\(why.description)); stubs of a killed kernel are left to seccomp")
            lines.append("network and ipc namespaces: unavailable (\(why.description))")
        }
        switch host.mountJail {
        case .success: lines.append("mount namespace: applied\(how) (host root read-only, /proc/sys included)")
        case .failure(let why): lines.append("mount namespace: unavailable (\(why.description)); Landlock alone guards host files")
        }
        switch host.landlock {
        case .success(let abi): lines.append("landlock: applied (ABI \(abi), writes only to the writable paths)")
        case .failure(let why): lines.append("landlock: unavailable (\(why.description))")
        }
        let writable = (try? WritablePaths(policy: policy, argv: [], environment: currentEnvironment()).paths)
            ?? policy.writablePaths
        lines.append("writable: " + (writable + ["uml_dir= from the command line"]).joined(separator: ", "))
        if let user = policy.user {
            lines.append("user: \(user) " + ((try? UserIdentity(user)).map { "(uid \($0.uid), gid \($0.gid))" } ?? "(cannot be resolved)"))
        } else {
            lines.append("user: the caller (uid \(geteuid()))")
        }
        return lines
    }

    static func execPlain(kernelPath: String, argv: [String]) throws -> Never {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        execv(kernelPath, &cArgs)
        throw SandboxError.call("execv", kernelPath, errno: errno)
    }

    static func execSandboxed(
        kernelPath: String, argv: [String], policy: SandboxPolicy, environment: [String: String]
    ) throws(SandboxError) -> Never {
        let host = HostFeatures.probe()
        guard host.seccompKillProcess else {
            throw SandboxError("seccomp: this kernel lacks SECCOMP_RET_KILL_PROCESS; refusing to run unsandboxed (turn the sandbox off explicitly to override)")
        }
        let writable = try WritablePaths(policy: policy, argv: argv, environment: environment)
        let user = try policy.user.map { name throws(SandboxError) in try UserIdentity(name) }
        if user != nil && !host.isRoot {
            throw SandboxError("sandbox user \(policy.user!) needs corral to run as root")
        }
        let filter = try SeccompFilter(allowlist: .uml61).bpf()
        let execFD = try syscall("open", kernelPath) { corral_open_exec_fd(kernelPath, Allowlist.kernelExecFD) }

        if case .success = host.namespaces {
            let jail = (try? host.mountJail.get()) != nil
            try Namespaces.enter(isRoot: host.isRoot, mount: jail)
            if jail { try MountJail(writable: writable).apply() }
        }
        try syscall("prctl(PR_SET_NO_NEW_PRIVS)") { corral_set_no_new_privs() }
        if case .success(let abi) = host.landlock {
            try Landlock(abi: abi, writable: writable).restrictSelf()
        }
        let kernel = try ReapedKernel(execFD: execFD, argv: argv, filter: filter, user: user)
        corral_exit_like(kernel.wait())
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
