#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import COWEngine
import Foundation
import Sandbox

/// Runs one planned boot: spawns the helper on a fresh pty, relays the
/// console, enforces the timeout and signals, and tears the whole process
/// tree down. `Boot.run` is the public entry point.
struct BootSession: ~Copyable {
    let plan: BootPlan
    let out: Int32 = 1
    let err: Int32 = 2
    /// corral's stdin, or /dev/null when init was told nothing will be typed
    /// (`ConsoleInput.none`, maint jobs): then whatever stdin is stays
    /// unread, and the guest sees end of input at once.
    let input: Int32

    private var transcript: Transcript?
    private var demux: ConsoleDemux
    private var panic = PanicDetector()
    private var escape = EscapeScanner()
    /// Kernel text before init, replayed on stderr if the boot fails there.
    private var kernelTail: [UInt8] = []
    private var helperError: [UInt8] = []
    private var guestStatus: Int32?
    private var started = false
    /// A custom init's console, probed until it echoes (ConsoleProbe); nil
    /// with hostfs-init (its START marker says when) or a person typing.
    private var probe: ConsoleProbe?
    /// The command's output not yet written to stdout (with an observer,
    /// what it hands back). corral never blocks writing it (a reader that
    /// stops reading would otherwise stall the timeout, the observer's stop
    /// check and signals); while this is full the console is not read, so
    /// the guest waits instead and memory stays bounded. Nothing is dropped
    /// while the boot runs; what is left when it ends gets a bounded flush.
    private var pendingOutput: [UInt8] = []
    private var outputBroken = false
    /// A stop signal cut the final flush short: some output was never written.
    private var flushInterrupted: Int32?
    /// The boot directory while it holds the nonce file.
    private var nonceDirectory: Directory?
    private static let outputLimit = 256 * 1024

    init(plan: BootPlan) throws {
        // Everything that can throw first: once a property is set, deinit may run.
        let transcript = try plan.options.logPath.map { try Transcript(path: $0) }
        let input = plan.options.input == ConsoleInput.none
            ? try LauncherError.systemCall("open", "/dev/null") { open("/dev/null", O_RDONLY | O_CLOEXEC) } : 0
        self.plan = plan
        self.input = input
        self.transcript = transcript
        self.demux = ConsoleDemux(nonce: plan.nonce, normalizeNewlines: !plan.interactive)
    }

    deinit {
        if input != 0 { close(input) }
    }

    enum Stop { case none, timeout, signal(Int32), escape }

    mutating func run() -> BootExitStatus {
        let verbose = plan.options.verbose
        if let warning = SandboxRunner.profileWarning(kernelPath: plan.kernelPath, policy: plan.policy) {
            Output.writeAll(err, "corral: warning: \(warning)\n")
        }
        if verbose {
            for line in SandboxRunner.report(policy: plan.policy, kernelPath: plan.kernelPath) { Output.writeAll(err, "corral: \(line)\n") }
            let raid6 = plan.commandLine.skippedInitcalls.contains(RAID6Benchmark.initcalls[0])
                ? (plan.options.raid6 == .off ? "skipped (--raid6 off)"
                    : "skipped (no disk holds md, LVM, btrfs or a partition table; --raid6 on keeps it)")
                : "kept for \(plan.raid6KeptFor ?? "the kernel's own init")"
            Output.writeAll(err, "corral: RAID-6 benchmark \(raid6)\n")
        }
        transcript?.note("argv: " + plan.argv.map(Shell.quote).joined(separator: " "))

        // Per-boot uml_dir in the runtime directory, through its descriptor;
        // leftovers of SIGKILLed boots are cleared first.
        let (runtimePath, bootName) = PathResolution.split(plan.umlDir)
        let runtime: Directory
        do { runtime = try RuntimeDirectory.open(runtimePath) } catch { return launchFailure("\(error)") }
        StaleBoots.sweep(runtime)
        do {
            try runtime.makeDirectory(bootName, mode: 0o700)
        } catch where error.errno == .fileExists {
            return launchFailure("umid \(plan.commandLine.umid) is in use by another boot (\(plan.umlDir) exists); choose another --umid")
        } catch {
            return launchFailure("mkdir(\(plan.umlDir)) failed: \(SystemError.describe(error.errno.rawValue)); set TMPDIR to a writable directory of your own")
        }
        defer { try? runtime.removeTree(bootName) }
        guard let bootDir = try? runtime.openDirectory(bootName) else {
            return launchFailure("cannot open \(plan.umlDir) after making it")
        }
        // The nonce file: removed once the guest has opened it (inotify
        // IN_OPEN), and at the latest when the command starts.
        var nonceWatch: Int32 = -1
        defer { if nonceWatch >= 0 { close(nonceWatch) } }
        if let nonce = plan.nonce, let nonceFile = plan.nonceFile {
            do {
                let file = try bootDir.openFile(BootPlan.nonceFileName, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
                try file.writeAll(Array((nonce + "\n").utf8))
            } catch {
                return launchFailure("cannot write the nonce file: \(error)")
            }
            nonceDirectory = bootDir
            nonceWatch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if nonceWatch >= 0 && inotify_add_watch(nonceWatch, nonceFile, UInt32(IN_OPEN)) < 0 {
                close(nonceWatch)
                nonceWatch = -1
            }
        }

        // A closed stdout must not kill corral before it stops the kernel (EPIPE instead).
        signal(SIGPIPE, SIG_IGN)
        let signals = corral_launch_signalfd_open()
        guard signals >= 0 else { return launchFailure("signalfd failed: \(SystemError.describe(corral_errno()))") }
        // Library callers (maint) get their signal mask and reaping back afterwards.
        defer { corral_launch_signalfd_close(signals) }
        _ = corral_launch_set_subreaper(1)
        defer { _ = corral_launch_set_subreaper(0) }

        var slaveName = [CChar](repeating: 0, count: 256)
        let master = corral_open_pty(&slaveName, slaveName.count)
        guard master >= 0 else { return launchFailure("cannot open a pseudo-terminal: \(SystemError.describe(corral_errno()))") }
        defer { close(master) }
        _ = corral_set_nonblock(master, 1)
        let slavePath = String(decoding: slaveName.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        copyWindowSize(to: master)
        // Hold the slave open ourselves until the kernel is gone, so the master
        // never reads as hung up (EIO) before the helper has opened it; the end
        // of the boot is told by the helper's exit instead.
        var slaveHold = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        defer { if slaveHold >= 0 { close(slaveHold) } }
        // Raw from the start (UML makes it raw only when its console opens):
        // the host's line discipline must not echo what corral types (the
        // ConsoleProbe would take that for the guest's echo) nor turn ^D
        // into a zero-length read, which UML takes as a hangup.
        if slaveHold >= 0 { _ = corral_tty_make_raw(slaveHold) }

        if plan.interactive {
            Output.writeAll(err, "corral: console attached; Ctrl-] then q stops the guest\n")
        }
        var raw = RawTerminal(fd: plan.interactive ? input : -1)
        defer { raw.restore() }

        // Spawn `corral _kernel-exec` with the spec in its environment and the error pipe on fd 3.
        var pipeFDs: [Int32] = [0, 0]
        guard corral_launch_pipe(&pipeFDs) == 0 else { return launchFailure("pipe failed: \(SystemError.describe(corral_errno()))") }
        let spec = KernelExecSpec(
            kernelPath: plan.kernelPath, argv: plan.argv, policy: plan.policy,
            ttyPath: slavePath, parentPID: getpid())
        guard let json = try? JSONEncoder().encode(spec) else {
            close(pipeFDs[0]); close(pipeFDs[1])
            return launchFailure("cannot encode the helper spec")
        }
        // UML puts its physical-memory file in $TMPDIR, else /dev/shm. Without
        // TMPDIR it lands on tmpfs (UML warns otherwise, and a disk-backed guest
        // memory is slow), and the sandbox need not leave all of /tmp writable.
        let dropped: Set<String> = [KernelExecSpec.environmentKey, "TMPDIR", "TMP", "TEMP"]
        var environment = plan.options.environment.filter { !dropped.contains($0.key) }
            .map { "\($0.key)=\($0.value)" }
        environment.append("\(KernelExecSpec.environmentKey)=\(String(decoding: json, as: UTF8.self))")
        var helper: pid_t = 0
        let spawnError = withCStrings(["corral", "_kernel-exec"]) { argv in
            withCStrings(environment) { envp in
                corral_launch_spawn(plan.options.helperExecutable, argv, envp, pipeFDs[1], &helper)
            }
        }
        close(pipeFDs[1])
        var errorPipe: Int32 = pipeFDs[0]
        if spawnError != 0 {
            close(errorPipe)
            return launchFailure("cannot start the kernel helper \(plan.options.helperExecutable): \(SystemError.describe(spawnError))")
        }
        // While the helper starts up: the cgroup move's wait is then off the boot's path.
        SandboxRunner.placeInCgroup(helper: helper, argv: plan.argv, policy: plan.policy)
        StaleBoots.record(session: helper, in: bootDir)
        if verbose { Output.writeAll(err, "corral: helper pid \(helper) (session \(helper))\n") }
        transcript?.note("helper pid \(helper)")

        let deadline = plan.options.timeout.map { (plan.options.timeoutStart ?? MonotonicClock.seconds()) + $0 }
        if plan.nonce == nil && !plan.interactive { probe = ConsoleProbe(now: MonotonicClock.seconds()) }
        var stop = Stop.none
        var helperExit: (exited: Bool, code: Int32)?
        var inputOpen = true
        var outgoing: [UInt8] = []
        var exitGraceDeadline: Double?
        var masterOpen = true

        loop: while true {
            if helperExit != nil && !masterOpen { break }
            if helperExit != nil {
                // The kernel is gone: whatever is left on the pty is its last words.
                drain(master)
                break
            }
            let now = MonotonicClock.seconds()
            if let deadline, now >= deadline, guestStatus == nil { stop = .timeout; break }
            if guestStatus == nil, let observer = plan.options.observer, let reason = observer.stopReason(now: now) {
                transcript?.note("stopped: \(reason)")
                stop = .timeout
                break
            }
            if let grace = exitGraceDeadline, now >= grace { break }

            if outgoing.isEmpty, masterOpen, let bytes = probe?.due(now: now) { outgoing += bytes }
            let forwardInput = inputOpen && outgoing.isEmpty && masterOpen
                && (plan.interactive || started || (plan.nonce == nil && probe?.ready != false))
            let readMaster = pendingOutput.count < Self.outputLimit
            let pollMaster = masterOpen && (readMaster || !outgoing.isEmpty)
            var fds = [
                pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                pollfd(fd: pollMaster ? master : -1, events: (readMaster ? Int16(POLLIN) : 0) | (outgoing.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                pollfd(fd: errorPipe, events: Int16(POLLIN), revents: 0),
                pollfd(fd: forwardInput ? input : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: pendingOutput.isEmpty ? -1 : out, events: Int16(POLLOUT), revents: 0),
                pollfd(fd: nonceWatch, events: Int16(POLLIN), revents: 0),
            ]
            var wait = 1000.0
            // A held line break is released after 100 ms of quiet (ConsoleDemux.flushIdle).
            if demux.isHolding { wait = 100 }
            if let deadline { wait = min(wait, max(0, (deadline - now) * 1000)) }
            if let grace = exitGraceDeadline { wait = min(wait, max(0, (grace - now) * 1000)) }
            if let next = probe?.wait(now: now) { wait = min(wait, next * 1000) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(wait.rounded(.up)))
            if ready < 0 && corral_errno() != EINTR { break }
            if ready == 0 && demux.isHolding {
                for event in demux.flushIdle() { deliver(event) }
            }
            if ready <= 0 { continue }

            if fds[0].revents != 0 {
                while case let signal = corral_launch_signalfd_read(signals), signal > 0 {
                    switch signal {
                    case SIGCHLD:
                        if let reaped = ProcessTree.reapAll(helper: helper) { helperExit = reaped }
                    case SIGWINCH:
                        copyWindowSize(to: master)
                    default:
                        stop = .signal(signal)
                        break loop
                    }
                }
            }
            if fds[1].revents & Int16(POLLOUT) != 0 && !outgoing.isEmpty {
                let n = outgoing.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
                if n > 0 { outgoing.removeFirst(n) }
            }
            if fds[4].revents != 0 { writeOutput() }
            if fds[5].revents != 0 {
                // The guest opened the nonce file: nobody else may.
                removeNonceFile()
                close(nonceWatch)
                nonceWatch = -1
            }
            if readMaster && fds[1].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                if !readConsole(master, bounded: true) { masterOpen = false }
                if guestStatus != nil && exitGraceDeadline == nil {
                    // hostfs-init powers off right after the marker; give it time to.
                    exitGraceDeadline = MonotonicClock.seconds() + 10
                }
            }
            if fds[2].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = buffer.withUnsafeMutableBytes { read(errorPipe, $0.baseAddress, $0.count) }
                if n > 0 {
                    helperError += buffer[0..<n]
                } else if n == 0 || corral_errno() != EINTR {
                    close(errorPipe)
                    errorPipe = -1
                }
            }
            if fds[3].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n > 0 {
                    var bytes = Array(buffer[0..<n])
                    if plan.interactive {
                        let scanned = escape.scan(bytes)
                        if scanned.stop { stop = .escape; break loop }
                        bytes = scanned.forward
                    }
                    outgoing += bytes
                } else if n == 0 || corral_errno() != EINTR {
                    // End of input: the guest's canonical-mode tty turns ^D into EOF.
                    inputOpen = false
                    outgoing += [4]
                }
            }
        }

        if errorPipe >= 0 { close(errorPipe) }
        let killed = ProcessTree.killSession(helper, supervisor: getpid(), helper: helper)
        if helperExit == nil { helperExit = killed }
        // A helper killed mid-boot could not remove the boot's cgroup.
        if plan.policy.mode == .enforce { SandboxRunner.removeCgroup(helper: helper) }
        if slaveHold >= 0 { close(slaveHold); slaveHold = -1 }
        drain(master)
        if let held = probe?.flush(), !held.isEmpty { for event in demux.feed(held) { deliver(event) } }
        for event in demux.finish() { deliver(event) }
        if let observer = plan.options.observer, !outputBroken { pendingOutput += observer.outputEnded() }
        switch stop {
        case .none: flushOutput(signals: signals, giveUpAt: nil)
        case .timeout, .signal, .escape: flushOutput(signals: signals, giveUpAt: MonotonicClock.seconds() + 2)
        }
        raw.restore()
        transcript?.flush()

        let status = resolve(stop: stop, helperExit: helperExit)
        if let explanation = status.explanation {
            if status != .guest(0), [.initNotReached, .kernelPanic, .statusLost].contains(status), !verbose, !kernelTail.isEmpty {
                if let initLines = hostfsInitFailure() {
                    // hostfs-init said why it gave up: that, not the panic it caused.
                    Output.writeAll(err, initLines)
                } else {
                    Output.writeAll(err, kernelTail)
                    if kernelTail.last != 10 { Output.writeAll(err, "\n") }
                }
            }
            if !helperError.isEmpty {
                Output.writeAll(err, "corral: \(String(decoding: helperError, as: UTF8.self))\n")
            }
            if case .none = stop, status != .launchFailed, !sandboxDenial, let helperExit, !helperExit.exited, helperExit.code != SIGABRT {
                // Nobody here stopped it: say so (e.g. the OOM killer or a stray kill -9).
                let line = "the kernel was killed by signal \(helperExit.code) (\(String(cString: strsignal(helperExit.code))))"
                Output.writeAll(err, "corral: \(line)\n")
                transcript?.note(line)
            }
            if status == .kernelPanic, let advice = panic.advice {
                Output.writeAll(err, "corral: \(advice)\n")
                transcript?.note(advice)
            }
            Output.writeAll(err, "corral: \(explanation) (exit status \(status.code))\n")
        }
        transcript?.note("exit status \(status.code)" + (status.explanation.map { ": \($0)" } ?? ""))
        return status
    }

    /// The `hostfs-init: …` lines (with the line before each, the failed
    /// program's own message) in the kernel's output, or nil when there are none.
    private func hostfsInitFailure() -> String? {
        let lines = String(decoding: kernelTail, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var picked: [Substring] = []
        for (i, line) in lines.enumerated() where line.hasPrefix("hostfs-init: ") {
            if i > 0, !lines[i - 1].hasPrefix("hostfs-init: "), !lines[i - 1].hasPrefix(" ") { picked.append(lines[i - 1]) }
            picked.append(line)
        }
        return picked.isEmpty ? nil : picked.joined(separator: "\n") + "\n"
    }

    /// The helper's report is the seccomp profile stopping the running
    /// kernel (``SeccompDenial``), not a failure to start it.
    private var sandboxDenial: Bool {
        helperError.starts(with: Array(SeccompDenial.prefix.utf8))
    }

    private func resolve(stop: Stop, helperExit: (exited: Bool, code: Int32)?) -> BootExitStatus {
        // The command had ended, but corral was stopped before it delivered
        // what the command printed: the signal's status, not the command's
        // (a maintenance job must not commit what nobody saw finish).
        if case .none = stop, let flushInterrupted { return .interrupted(signal: flushInterrupted) }
        if let guestStatus { return .guest(guestStatus) }
        switch stop {
        case .timeout: return .timedOut
        case .signal(let signal): return .interrupted(signal: signal)
        case .escape: return .stoppedByUser
        case .none: break
        }
        if !helperError.isEmpty && !sandboxDenial { return .launchFailed }
        // hostfs-init ends PID 1 when it cannot set the guest up: init was
        // not reached in the sense that matters (the command never ran).
        if panic.seen, !started, hostfsInitFailure() != nil { return .initNotReached }
        if panic.seen { return .kernelPanic }
        if let helperExit, !helperExit.exited, helperExit.code == SIGABRT { return .kernelPanic }
        if plan.nonce == nil {
            // A custom init reports nothing; a clean power-off is success.
            if let helperExit, helperExit.exited, helperExit.code == 0 { return .guest(0) }
            return .initNotReached
        }
        return started ? .statusLost : .initNotReached
    }

    private mutating func removeNonceFile() {
        try? nonceDirectory?.unlink(BootPlan.nonceFileName)
        nonceDirectory = nil
    }

    /// Reads what is available (when `bounded`, only while the output queue
    /// has room); false once the pty has no writer left (EIO).
    private mutating func readConsole(_ master: Int32, bounded: Bool = false) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            if bounded && pendingOutput.count >= Self.outputLimit { return true }
            let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n > 0 {
                consume(Array(buffer[0..<n]))
                continue
            }
            if n < 0 && corral_errno() == EINTR { continue }
            if n < 0 && corral_errno() == EAGAIN { return true }
            return false
        }
    }

    private mutating func drain(_ master: Int32) {
        _ = readConsole(master)
    }

    private mutating func consume(_ bytes: [UInt8]) {
        panic.scan(bytes)
        var shown = bytes
        if var current = probe {
            shown = current.filter(bytes, now: MonotonicClock.seconds())
            probe = current
        }
        for event in demux.feed(shown) { deliver(event) }
    }

    private mutating func deliver(_ event: ConsoleDemux.Event) {
        switch event {
        case .kernel(let bytes):
            transcript?.append(.kernel, bytes)
            if plan.options.verbose {
                Output.writeAll(err, bytes)
            } else if !started {
                kernelTail += bytes
                if kernelTail.count > 65536 { kernelTail.removeFirst(kernelTail.count - 65536) }
            }
        case .output(let bytes):
            transcript?.append(.output, bytes)
            let shown = plan.options.observer.map { $0.output(bytes) } ?? bytes
            if !outputBroken { pendingOutput += shown }
        case .started:
            removeNonceFile()
            started = true
            kernelTail.removeAll()
            transcript?.note("command started")
        case .exited(let status):
            guestStatus = status
            transcript?.note("command exited with status \(status)")
        }
    }

    /// One write of queued output, after poll said stdout has room: at most a
    /// page, which a pipe with a free slot takes without blocking.
    private mutating func writeOutput() {
        guard !pendingOutput.isEmpty else { return }
        let n = pendingOutput.withUnsafeBytes { write(out, $0.baseAddress, min($0.count, 4096)) }
        if n > 0 {
            pendingOutput.removeFirst(n)
        } else if n == 0 || (corral_errno() != EINTR && corral_errno() != EAGAIN) {
            // EPIPE and the like: nobody will read it, as with a blocking write.
            outputBroken = true
            pendingOutput.removeAll()
        }
    }

    /// Writes the rest of the output once the kernel is gone. Gives up on a
    /// stop signal (SIGINT, SIGTERM, ...; noted in `flushInterrupted`) and,
    /// when given, at `giveUpAt`, saying how much was not written.
    private mutating func flushOutput(signals: Int32, giveUpAt: Double?) {
        while !pendingOutput.isEmpty && !outputBroken {
            var wait: Int32 = 1000
            if let giveUpAt {
                let left = giveUpAt - MonotonicClock.seconds()
                if left <= 0 { break }
                wait = Int32((left * 1000).rounded(.up))
            }
            var fds = [
                pollfd(fd: out, events: Int16(POLLOUT), revents: 0),
                pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&fds, 2, wait) < 0 && corral_errno() != EINTR { break }
            var stopSignal: Int32?
            if fds[1].revents != 0 {
                while case let signal = corral_launch_signalfd_read(signals), signal > 0 {
                    if signal != SIGCHLD && signal != SIGWINCH { stopSignal = signal }
                }
            }
            if let stopSignal {
                flushInterrupted = stopSignal
                break
            }
            if fds[0].revents != 0 { writeOutput() }
        }
        if !pendingOutput.isEmpty && !outputBroken {
            let line = "\(pendingOutput.count) bytes of the command's output were not written: stdout is not being read"
            Output.writeAll(err, "corral: \(line)\n")
            transcript?.note(line)
            pendingOutput.removeAll()
        }
    }

    private func copyWindowSize(to master: Int32) {
        var rows: UInt16 = 0
        var cols: UInt16 = 0
        if corral_get_winsize(input, &rows, &cols) == 0 && rows > 0 && cols > 0 {
            _ = corral_set_winsize(master, rows, cols)
        } else {
            _ = corral_set_winsize(master, 24, 80)
        }
    }

    private mutating func launchFailure(_ message: String) -> BootExitStatus {
        Output.writeAll(err, "corral: \(message)\n")
        transcript?.note(message)
        Output.writeAll(err, "corral: \(BootExitStatus.launchFailed.explanation ?? "") (exit status \(BootExitStatus.launchFailed.code))\n")
        return .launchFailed
    }
}

/// A NULL-terminated C string array alive for the duration of `body`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
