#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import FoundationEssentials
import Sandbox

/// The helper side of the spawn: runs in a fresh process, never in the
/// supervisor, because setsid, a controlling terminal and the sandbox all
/// change the calling process for good. Its own small executable
/// (`corral-kernel-exec`: this module, the sandbox and FoundationEssentials,
/// not the whole CLI) loads in a third of the time corral does, so that it
/// is set up around the kernel by the time the launcher's preflight is over.
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
    /// the error pipe, which the supervising `BootSession` (Launcher) reads; started
    /// by hand rather than by corral boot there is no pipe, and `toPerson`
    /// gets the message instead (the CLI prints it).
    public static func run(toPerson: (String) -> Void) -> Never {
        let byHand = getenv(KernelExecSpec.environmentKey) == nil
        _ = corral_set_cloexec(KernelExecSpec.errorFD, 1)
        func report(_ message: String) {
            if byHand { toPerson(message) } else { Output.writeAll(KernelExecSpec.errorFD, message) }
        }
        do {
            if byHand {
                throw HelperError.runByHand
            }
            unsetenv(KernelExecSpec.environmentKey)
            let expected = getenv(KernelExecSpec.prepareKey).map { String(cString: $0) }
            unsetenv(KernelExecSpec.prepareKey)
            // If corral dies, so does the kernel (PDEATHSIG survives execve);
            // set before the wait, so a corral that dies meanwhile takes this along.
            try HelperError.systemCall("prctl(PR_SET_PDEATHSIG)", "SIGKILL") { corral_launch_set_pdeathsig(SIGKILL) }
            _ = corral_set_cloexec(KernelStart.fd, 1)
            // Before anything below opens a descriptor it keeps.
            _ = corral_launch_close_from(KernelStart.fd + 1)
            // A boot expected under the default sandbox: its namespaces, the
            // host's half of its root and its filter are set up while the
            // launcher parses and plans, instead of after the spec.
            let prepared = expected.map { SandboxRunner.prepareJail(kernelPath: $0.isEmpty ? nil : $0) }
            // Spawned as the boot started; the spec comes once its uml_dir and console exist.
            let spec = try decode(KernelExecSpec.self, on: KernelExecSpec.specFD)
            if getppid() != spec.parentPID {
                throw HelperError.launcherGone
            }
            try HelperError.systemCall("setsid", "") { corral_launch_setsid() }
            if spec.policy.mode == .off {
                // UML itself is this session's leader: it sees the pty as its
                // controlling terminal and takes SIGWINCH directly.
                try HelperError.systemCall("open as controlling tty", spec.ttyPath) { corral_attach_tty(spec.ttyPath) }
            } else {
                // The sandboxed kernel is not this process: it makes a session
                // of its own and takes the pty as its controlling terminal
                // there (`console:` below), which it cannot while this session
                // holds it. So here the pty is nobody's controlling terminal.
                try HelperError.systemCall("open", spec.ttyPath) { attachWithoutControlling(spec.ttyPath) }
            }
            // UML wants a fixed address layout. With its heap placed at random
            // it counts the hole between its bss and its heap as guest memory
            // (the "exec-shield gap": 100-880 MiB more at mem=256M, seen on 6.1,
            // 6.12 and, in the jail, 7.2), then sets up and touches a page
            // struct for every page of it at each boot. 7.2 re-execs itself to
            // turn randomisation off, but cannot do that in the jail. The kernel
            // binary is not position-independent, so its code and data are at
            // fixed addresses either way. Kept across execve.
            try HelperError.systemCall("personality", "ADDR_NO_RANDOMIZE") { corral_launch_no_randomize() }
            // Everything up to the kernel's start is done before the launcher
            // says go (KernelStart); BootSession removes the boot's cgroup
            // after the helper ends.
            try SandboxRunner.execKernel(kernelPath: spec.kernelPath, argv: spec.argv, policy: spec.policy,
                                         console: STDIN_FILENO, cgroupRemovedByCaller: true, start: KernelStart.fd,
                                         prepared: prepared) { denial in
                report("\(denial)")
            }
        } catch {
            report("\(error)")
            exit(127)
        }
    }

    /// The message on `fd` (``message(on:)``) as a `T`.
    static func decode<T: Decodable>(_ type: T.Type, on fd: Int32) throws(HelperError) -> T {
        let bytes = try message(on: fd)
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .badMessage("\(error)")
        }
    }

    /// One message from the launcher: all of `fd` up to end of file, which
    /// is then closed. Nothing at all means the boot was called off (the
    /// preflight refused it): nothing was started, and the helper just ends.
    static func message(on fd: Int32) throws(HelperError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try Descriptor(owning: fd, name: "the launcher's pipe").read(upTo: KernelExecSpec.messageLimit)
        } catch {
            throw HelperError(error)
        }
        if bytes.isEmpty { exit(0) }
        return bytes
    }
}
