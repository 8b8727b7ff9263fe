#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import Foundation
import Sandbox

/// What the supervising corral tells its re-exec'd helper (`corral _kernel-exec`).
/// Travels as JSON in one environment variable, removed before the kernel runs.
public struct KernelExecSpec: Codable, Sendable, Equatable {
    public var kernelPath: String
    public var argv: [String]
    public var policy: SandboxPolicy
    /// The pty slave that becomes the kernel's controlling terminal and fds 0–2.
    public var ttyPath: String
    /// The supervisor; if it is already gone, the helper does not start the kernel.
    public var parentPID: Int32
    /// The kernel's seccomp filter, compiled by the supervisor; nil: the helper compiles it.
    public var filter: KernelFilter?

    public static let environmentKey = "CORRAL_KERNEL_EXEC_SPEC"
    /// Setup errors go back on this fd (close-on-exec: EOF means exec happened).
    public static let errorFD: Int32 = 3
}

/// The helper side of the spawn: runs in a fresh process, never in the
/// supervisor, because setsid, a controlling terminal and the sandbox all
/// change the calling process for good.
public enum KernelExec {
    /// The pty on fds 0-2, not as the controlling terminal.
    static func attachWithoutControlling(_ path: String) -> Int32 {
        let fd = open(path, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return -1 }
        for target: Int32 in 0..<3 where fd != target {
            if dup2(fd, target) < 0 {
                let code = corral_errno()
                close(fd)
                errno = code
                return -1
            }
        }
        if fd > 2 { close(fd) }
        return 0
    }

    /// Sets up the session and terminal and becomes the kernel. Returns only
    /// through exit: 127 after reporting an error.
    ///
    /// A failure (or the sandbox stopping the kernel later) is reported on
    /// the error pipe, which the supervising ``BootSession`` reads; started
    /// by hand rather than by corral boot there is no pipe, and `toPerson`
    /// gets the message instead (the CLI prints it).
    public static func run(toPerson: (String) -> Void) -> Never {
        let byHand = getenv(KernelExecSpec.environmentKey) == nil
        _ = corral_set_cloexec(KernelExecSpec.errorFD, 1)
        func report(_ message: String) {
            if byHand { toPerson(message) } else { Output.writeAll(KernelExecSpec.errorFD, message) }
        }
        do {
            guard let json = getenv(KernelExecSpec.environmentKey).map({ String(cString: $0) }) else {
                throw LauncherError.helper("_kernel-exec is internal to corral boot; run corral boot instead")
            }
            unsetenv(KernelExecSpec.environmentKey)
            let spec = try JSONDecoder().decode(KernelExecSpec.self, from: Data(json.utf8))

            // If corral dies, so does the kernel (PDEATHSIG survives execve).
            try LauncherError.systemCall("prctl(PR_SET_PDEATHSIG)", "SIGKILL") { corral_launch_set_pdeathsig(SIGKILL) }
            if getppid() != spec.parentPID {
                throw LauncherError.helper("corral exited before the kernel started")
            }
            try LauncherError.systemCall("setsid", "") { corral_launch_setsid() }
            if spec.policy.mode == .off {
                // UML itself is this session's leader: it sees the pty as its
                // controlling terminal and takes SIGWINCH directly.
                try LauncherError.systemCall("open as controlling tty", spec.ttyPath) { corral_attach_tty(spec.ttyPath) }
            } else {
                // The sandboxed kernel is not this process: it makes a session
                // of its own and takes the pty as its controlling terminal
                // there (`console:` below), which it cannot while this session
                // holds it. So here the pty is nobody's controlling terminal.
                try LauncherError.systemCall("open", spec.ttyPath) { attachWithoutControlling(spec.ttyPath) }
            }
            _ = corral_launch_close_from(KernelExecSpec.errorFD + 1)
            // UML wants a fixed address layout. With its heap placed at random
            // it counts the hole between its bss and its heap as guest memory
            // (the "exec-shield gap": 100-880 MiB more at mem=256M, seen on 6.1,
            // 6.12 and, in the jail, 7.2), then sets up and touches a page
            // struct for every page of it at each boot. 7.2 re-execs itself to
            // turn randomisation off, but cannot do that in the jail. The kernel
            // binary is not position-independent, so its code and data are at
            // fixed addresses either way. Kept across execve.
            try LauncherError.systemCall("personality", "ADDR_NO_RANDOMIZE") { corral_launch_no_randomize() }
            // BootSession removes the boot's cgroup after the helper ends.
            try SandboxRunner.execKernel(kernelPath: spec.kernelPath, argv: spec.argv, policy: spec.policy,
                                         filter: spec.filter, console: STDIN_FILENO, cgroupRemovedByCaller: true) { denial in
                report("\(denial)")
            }
        } catch {
            report("\(error)")
            exit(127)
        }
    }
}
