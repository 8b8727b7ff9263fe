#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralHelper
import CorralSystem
import Foundation
import Sandbox

/// The supervisor's side of the spawn: the kernel helper (`KernelExec`, run
/// as `corral-kernel-exec`, or as corral itself where that is missing:
/// `BootOptions.helperExecutable`) started with an error pipe on fd 3, which
/// reads as end of file once the helper has exec'd the kernel, and two pipes
/// that each carry one message: its spec on fd 4 (``send(_:in:)``), and
/// the go on fd 5 (``start()``).
///
/// Spawned as `corral boot` starts, before its command line is parsed
/// (``EarlyKernelHelper``; a boot started as a library call spawns its own
/// as it starts, before the preflight), and sent its spec as soon as the
/// boot's uml_dir and console exist; it starts the kernel only on the go,
/// once the boot is cleared. What it does in between (loading,
/// about 6 ms for corral-kernel-exec and 19 ms for corral, then the kernel's
/// session, and under the sandbox its namespaces, jail, cgroup join, seccomp
/// filter, and the kernel's process up to its exec) thus runs beside the
/// preflight instead of after it. A boot that is refused
/// never says go; the helper is killed and reaped when this goes away, and
/// its cgroup removed.
final class KernelHelper {
    /// The helper's pid, which its setsid makes the boot's session id.
    let pid: pid_t
    /// The read end of the error pipe until it ends.
    var errors: Descriptor?
    /// The write ends of the two message pipes, each until its message is sent.
    private var spec: Descriptor?
    private var go: Descriptor?
    /// The helper being put into its boot's cgroup, beside the preflight;
    /// nil when the sandbox is off.
    let cgroup: CgroupPlacement?

    /// A spawned helper process and the launcher's ends of its three pipes,
    /// before any boot has taken it.
    struct Spawned {
        var pid: pid_t
        var errors: Descriptor
        var spec: Descriptor
        var go: Descriptor
    }

    /// Spawns `executable` as the helper with `environment`, waiting for
    /// its spec. `expecting`: the boot runs under the default sandbox
    /// policy, and this kernel ("" when unknown): the helper sets up the
    /// host's half of the jail while it waits (`PreparedJail`).
    static func spawn(executable: String, environment: [String: String], expecting kernel: String?) throws(LauncherError) -> Spawned {
        // A helper that died before reading a message must make that write
        // fail with EPIPE, not kill corral (BootSession keeps it so).
        signal(SIGPIPE, SIG_IGN)
        let errorPipe = try Self.pipe("the kernel helper's error pipe")
        let specPipe = try Self.pipe("the kernel helper's spec pipe")
        let goPipe = try Self.pipe("the kernel helper's start pipe")
        var helper: pid_t = 0
        let spawnError = withCStrings(KernelExecSpec.arguments) { argv in
            withCStrings(Self.environment(environment, expecting: kernel)) { envp in
                corral_launch_spawn(executable, argv, envp, errorPipe.write.fd, specPipe.read.fd,
                                    goPipe.read.fd, &helper)
            }
        }
        if spawnError != 0 {
            throw .launch("cannot start the kernel helper \(executable): \(SystemError.describe(spawnError))")
        }
        return Spawned(pid: helper, errors: errorPipe.read, spec: specPipe.write, go: goPipe.write)
    }

    /// Takes the helper spawned as corral started (``EarlyKernelHelper``)
    /// when it was spawned as `plan` would spawn one, else spawns one; it
    /// waits for its spec. Then starts putting it into the boot's cgroup.
    init(_ plan: BootPlan) throws(LauncherError) {
        let options = plan.options
        let spawned: Spawned
        if let early = EarlyKernelHelper.take(executable: options.helperExecutable, environment: options.environment,
                                              policy: plan.policy) {
            spawned = early
        } else {
            spawned = try Self.spawn(executable: options.helperExecutable, environment: options.environment,
                                     expecting: PreparedJail.preparable(plan.policy) ? plan.kernelPath : nil)
        }
        pid = spawned.pid
        errors = spawned.errors
        spec = spawned.spec
        go = spawned.go
        cgroup = SandboxRunner.placeInCgroup(helper: spawned.pid, argv: plan.argv, policy: plan.policy)
    }

    /// Tells the helper what to boot, on `workspace`'s console: it sets up
    /// everything up to the kernel's start, then waits for ``start()``.
    /// Its session is recorded in the uml_dir from then on, so that a corral
    /// SIGKILLed meanwhile leaves a uml_dir the next boot can tell is stale
    /// (``StaleBoots``). Once per helper; a helper that is already gone
    /// shows when the go is sent.
    func send(_ plan: BootPlan, in workspace: BootWorkspace) {
        guard let pipe = spec else { return }
        spec = nil
        let message = KernelExecSpec(kernelPath: plan.kernelPath, argv: plan.argv, policy: plan.policy,
                                     ttyPath: workspace.console.slavePath, parentPID: getpid())
        if let json = try? JSONEncoder().encode(message) { try? pipe.writeAll(Array(json)) }
        StaleBoots.record(session: pid, in: workspace.directory.directory)
    }

    /// Tells the helper to start the kernel; the boot then owns its process
    /// tree. False when the helper is already gone: setting up around the
    /// kernel failed, and what it said is on the error pipe (``BootSession``
    /// reports it as it would a later failure).
    func start() -> Bool {
        guard let pipe = go else { return false }
        go = nil
        do {
            try pipe.writeAll(KernelStart.message)
            return true
        } catch {
            return false
        }
    }

    /// Removes the boot's cgroup once the helper's processes are gone (a
    /// helper killed mid-boot could not), after the placement's thread,
    /// which would otherwise make it again. True when nothing of it is left.
    @discardableResult
    func removeCgroup() -> Bool {
        guard let cgroup else { return true }
        cgroup.wait()
        return SandboxRunner.removeCgroup(helper: pid)
    }

    /// A helper never told to start (the preflight refused the boot, or
    /// setting the boot up failed) has started nothing: it is killed and
    /// reaped, and its cgroup removed, so that no boot leaves either behind.
    /// (Its namespaces and jail go with it.)
    deinit {
        guard go != nil else { return }
        spec = nil
        go = nil
        _ = corral_launch_kill(pid, SIGKILL)
        var exited: Int32 = 0
        var code: Int32 = 0
        _ = corral_launch_wait(pid, 0, &exited, &code)
        removeCgroup()
    }

    /// The helper's environment: the caller's, with the spec descriptor
    /// named and TMPDIR dropped. UML puts its physical-memory file in
    /// $TMPDIR, else /dev/shm; without TMPDIR it lands on tmpfs (UML warns
    /// otherwise, and a disk-backed guest memory is slow), and the sandbox
    /// need not leave all of /tmp writable.
    static func environment(_ environment: [String: String], expecting kernel: String?) -> [String] {
        let dropped: Set<String> = [KernelExecSpec.environmentKey, KernelExecSpec.prepareKey, "TMPDIR", "TMP", "TEMP"]
        return environment.filter { !dropped.contains($0.key) }.map { "\($0.key)=\($0.value)" }
            + ["\(KernelExecSpec.environmentKey)=\(KernelExecSpec.specFD)"]
            + (kernel.map { ["\(KernelExecSpec.prepareKey)=\($0)"] } ?? [])
    }

    private static func pipe(_ name: String) throws(LauncherError) -> (read: Descriptor, write: Descriptor) {
        var fds: [Int32] = [0, 0]
        guard corral_launch_pipe(&fds) == 0 else { throw .launch("pipe failed: \(SystemError.describe(corral_errno()))") }
        return (Descriptor(owning: fds[0], name: name), Descriptor(owning: fds[1], name: name))
    }
}
