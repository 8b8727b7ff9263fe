#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import Sandbox

/// Runs one planned boot once its preflight passed: tells the helper
/// (spawned as the boot began, ``KernelHelper``) to start the kernel on the
/// boot's pty, relays the console, enforces the timeout and signals, and
/// tears the whole process tree down. `Boot.run` is the public entry point.
///
/// The parts: the resources a boot holds (``BootDirectory``, ``NonceFile``,
/// ``SupervisorSignals``, ``Pseudoterminal``, ``KernelHelper``) close or
/// remove themselves; the console loop here does the I/O and leaves every
/// decision to ``ConsoleState``; what the console says is taken apart by
/// ``ConsoleDemux``; and the exit status and what to say about it come from
/// ``BootEnding``, a pure function of what the boot saw. Nothing here
/// prints: what the user should hear goes to ``BootOptions/events``.
struct BootSession: ~Copyable {
    let plan: BootPlan
    /// Where the command's output goes, the caller's (``ConsoleStreams``); nil:
    /// nowhere but the observer and the transcript. The console loop queues
    /// it and never blocks writing it.
    let output: Int32?
    /// The caller's input, or /dev/null when init was told nothing will be
    /// typed (`ConsoleInput.none`, maint jobs) or there is no caller's
    /// console: then whatever that input is stays unread, and the guest sees
    /// end of input at once.
    let input: Int32
    private let nullInput: Descriptor?

    private var transcript: Transcript?
    private var demux: ConsoleDemux
    private var panic = PanicDetector()
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
    private static let outputLimit = 256 * 1024

    // What the boot holds, released in this order when it ends (``release()``).
    private var console: Pseudoterminal?
    private var signals: SupervisorSignals?
    private var nonceFile: NonceFile?
    private var bootDirectory: BootDirectory?

    /// The helper, spawned as the boot started (``KernelHelper``), or why it could not be.
    private let spawned: Result<KernelHelper, LauncherError>
    /// The uml_dir and console made before the preflight, until ``prepare()`` takes them.
    private var workspace: Result<BootWorkspace, LauncherError>?

    init(plan: BootPlan, helper: Result<KernelHelper, LauncherError>, workspace: Result<BootWorkspace, LauncherError>) throws(LauncherError) {
        var transcript: Transcript?
        if let path = plan.options.logPath { transcript = try Transcript(path: path) }
        var nullInput: Descriptor?
        if Self.callerInput(plan) == nil {
            do { nullInput = try Descriptor(open: "/dev/null", flags: O_RDONLY, noFollow: false) } catch { throw LauncherError(error) }
        }
        self.plan = plan
        self.spawned = helper
        self.workspace = workspace
        self.nullInput = nullInput
        self.input = nullInput?.fd ?? Self.callerInput(plan) ?? -1
        self.output = plan.options.streams?.output
        self.transcript = transcript
        self.demux = ConsoleDemux(nonce: plan.nonce, normalizeNewlines: !plan.interactive)
    }

    /// The caller's input when the boot reads it; nil when init was told
    /// nothing will be typed or there is no caller's console (``input`` is
    /// then /dev/null).
    static func callerInput(_ plan: BootPlan) -> Int32? {
        plan.options.input == ConsoleInput.none ? nil : plan.options.streams?.input
    }

    mutating func run() -> BootExitStatus {
        announce()
        let helper: KernelHelper
        // Whether the helper took the go (KernelHelper.start).
        var told = false
        var raw = RawTerminal(fd: -1)
        do {
            let workspace = try prepare()
            if plan.interactive { say(.consoleAttached) }
            raw = RawTerminal(fd: plan.interactive ? input : -1)
            helper = try spawned.get()
            // Sent before the preflight unless a disk was still to be made.
            helper.send(plan, in: workspace)
            told = helper.start()
        } catch {
            let status = launchFailure(error)
            raw.restore()
            release()
            return status
        }
        if plan.options.verbose { say(.helperStarted(pid: helper.pid)) }
        transcript?.note("helper pid \(helper.pid)")

        let deadline = plan.options.timeout.map { (plan.options.timeoutStart ?? MonotonicClock.seconds()) + $0 }
        if plan.nonce == nil && !plan.interactive { probe = ConsoleProbe(now: MonotonicClock.seconds()) }
        var state = ConsoleState(interactive: plan.interactive, deadline: deadline)
        if told {
            relay(&state, helper)
        } else {
            // It ended while setting up, before it could take the go: all it
            // said is on the error pipe, whose writers are gone with it.
            while helper.errors != nil { readHelperErrors(helper) }
        }
        wrapUp(&state, helper)
        raw.restore()
        transcript?.flush()
        let status = conclude(state)
        release()
        return status
    }

    /// The lines said before anything starts: the sandbox's fit (the
    /// kernel's profile, the cgroup limits) and, with
    /// `--verbose`, its report and the RAID-6 benchmark decision.
    private mutating func announce() {
        if let warning = SandboxRunner.profileWarning(plan.kernelProfile, policy: plan.policy) {
            say(.sandboxWarning(warning))
        }
        if case .success(let helper) = spawned, let warning = helper.cgroup?.limitsWarning(policy: plan.policy) {
            say(.sandboxWarning(warning))
        }
        if plan.options.verbose {
            for line in SandboxRunner.report(policy: plan.policy, kernelPath: plan.kernelPath) { say(.sandboxReport(line)) }
            say(.raid6Benchmark(plan.raid6Decision))
            say(.guestProcesses(plan.commandLine.userspace,
                                userArgument: UserspaceMode.userArgument(in: plan.commandLine.extraArguments)))
        }
        transcript?.note("argv: " + plan.argv.map(Shell.quote).joined(separator: " "))
    }

    /// The boot directory and the pty (made before the preflight,
    /// ``BootWorkspace``), the nonce file and the signals, each kept in the
    /// session until ``release()``.
    private mutating func prepare() throws(LauncherError) -> BootWorkspace {
        let made = workspace ?? .failure(.launch("the boot's workspace was already taken"))
        workspace = nil
        let taken = try made.get()
        self.bootDirectory = taken.directory
        self.console = taken.console
        nonceFile = try NonceFile.make(plan, in: taken.directory.directory)
        // A closed stdout must not kill corral before it stops the kernel (EPIPE instead).
        signal(SIGPIPE, SIG_IGN)
        signals = try SupervisorSignals()
        return taken
    }

    /// Lets go of what the boot held: the pty, the signals and the
    /// subreaper role, the nonce file's watch, then the boot directory.
    private mutating func release() {
        console = nil
        signals = nil
        nonceFile = nil
        bootDirectory = nil
    }

    // MARK: The console loop

    /// Relays the console until the kernel is gone or the guest is stopped.
    private mutating func relay(_ state: inout ConsoleState, _ helper: KernelHelper) {
        guard let console, let signals else { return }
        let observer = plan.options.observer
        var stopReason: String?
        while true {
            let now = MonotonicClock.seconds()
            let asked = { () -> Bool in
                stopReason = observer?.stopReason(now: now)
                return stopReason != nil
            }
            if let end = state.end(now: now, guestStatus: guestStatus, stopAsked: asked) {
                if let stopReason { transcript?.note("stopped: \(stopReason)") }
                // The kernel is gone: whatever is left on the pty is its last words.
                if end == .drain { drain(console.master) }
                return
            }
            if state.mayProbe, let bytes = probe?.due(now: now) { state.queue(bytes) }
            guard pollOnce(&state, console, signals, helper, now: now) else { return }
        }
    }

    /// One poll and what it found, in a fixed order; false when the loop must end.
    private mutating func pollOnce(_ state: inout ConsoleState, _ console: Pseudoterminal, _ signals: SupervisorSignals,
                                   _ helper: KernelHelper, now: Double) -> Bool {
        let interest = state.interest(guestReads: guestReadsInput, outputRoom: pendingOutput.count < Self.outputLimit)
        var fds = [
            pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: interest.pollsConsole ? console.master.fd : -1,
                   events: (interest.readConsole ? Int16(POLLIN) : 0) | (interest.writeConsole ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: helper.errors?.fd ?? -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: interest.readInput ? input : -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: pendingOutput.isEmpty ? -1 : output ?? -1, events: Int16(POLLOUT), revents: 0),
            pollfd(fd: nonceFile?.watch?.fd ?? -1, events: Int16(POLLIN), revents: 0),
        ]
        let timeout = state.pollTimeout(now: now, holding: demux.isHolding, probeIn: probe?.wait(now: now))
        guard let ready = try? Poll.wait(&fds, milliseconds: timeout, "boot session") else { return false }
        if ready == 0 && demux.isHolding {
            for event in demux.flushIdle() { deliver(event) }
        }
        if ready <= 0 { return true }

        if fds[0].revents != 0 && !takeSignals(&state, signals, console, helper) { return false }
        if fds[1].revents & Int16(POLLOUT) != 0 && !state.outgoing.isEmpty,
           let written = try? console.master.writeAvailable(state.outgoing[...]), written > 0 {
            state.wroteToConsole(written)
        }
        if fds[4].revents != 0 { writeOutput() }
        // The guest opened the nonce file: nobody else may.
        if fds[5].revents != 0 { nonceFile?.opened() }
        if interest.readConsole && fds[1].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            let open = readConsole(console.master, bounded: true)
            state.readConsole(stillOpen: open, guestStatus: guestStatus, now: MonotonicClock.seconds())
        }
        if fds[2].revents != 0 { readHelperErrors(helper) }
        if fds[3].revents != 0 && !readInput(&state) { return false }
        return true
    }

    /// Whether the guest is ready for what the user types: an interactive
    /// console at once, hostfs-init once the command started, a custom init
    /// once its console echoed (or at once when the boot probes nothing).
    private var guestReadsInput: Bool {
        plan.interactive || started || (plan.nonce == nil && probe?.ready != false)
    }

    /// Every signal waiting; false on a stop signal.
    private mutating func takeSignals(_ state: inout ConsoleState, _ signals: SupervisorSignals,
                                      _ console: Pseudoterminal, _ helper: KernelHelper) -> Bool {
        while let signal = signals.next() {
            switch state.received(signal: signal) {
            case .reap: state.helperEnded(ProcessTree.reapAll(helper: helper.pid).map(ConsoleState.HelperExit.init(_:)))
            case .resize: console.copyWindowSize(from: input)
            case .stop: return false
            }
        }
        return true
    }

    private mutating func readHelperErrors(_ helper: KernelHelper) {
        guard let errors = helper.errors else { return }
        switch try? errors.readAvailable(upTo: 4096) {
        case .bytes(let bytes): helperError += bytes
        case .wouldBlock: break
        case .end, nil: helper.errors = nil
        }
    }

    /// What the user typed, or the end of their input; false when they
    /// stopped the guest (Ctrl-] q).
    private mutating func readInput(_ state: inout ConsoleState) -> Bool {
        switch try? StreamIO.read(input, "stdin", upTo: 4096) {
        case .bytes(let bytes): return !state.typed(bytes)
        case .wouldBlock: return true
        case .end, nil:
            state.inputEnded()
            return true
        }
    }

    /// Reads what is available (when `bounded`, only while the output queue
    /// has room); false once the pty has no writer left (EIO).
    private mutating func readConsole(_ master: Descriptor, bounded: Bool = false) -> Bool {
        while true {
            if bounded && pendingOutput.count >= Self.outputLimit { return true }
            switch try? master.readAvailable(upTo: 16384) {
            case .bytes(let bytes): consume(bytes)
            case .wouldBlock: return true
            case .end, nil: return false
            }
        }
    }

    private mutating func drain(_ master: Descriptor) {
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
                emit(.kernelText(bytes))
            } else if !started {
                kernelTail += bytes
                if kernelTail.count > 65536 { kernelTail.removeFirst(kernelTail.count - 65536) }
            }
        case .output(let bytes):
            transcript?.append(.output, bytes)
            let shown = plan.options.observer.map { $0.output(bytes) } ?? bytes
            if !outputBroken && output != nil { pendingOutput += shown }
        case .started:
            nonceFile?.remove()
            started = true
            kernelTail.removeAll()
            transcript?.note("command started")
        case .exited(let status):
            guestStatus = status
            transcript?.note("command exited with status \(status)")
        }
    }

    // MARK: The end of the boot

    /// Stops every process of the boot, takes the console's last words and
    /// delivers what is left of the command's output.
    private mutating func wrapUp(_ state: inout ConsoleState, _ helper: KernelHelper) {
        helper.errors = nil
        state.helperEnded(ProcessTree.killSession(helper.pid, supervisor: getpid(), helper: helper.pid)
            .map(ConsoleState.HelperExit.init(_:)))
        // A helper killed mid-boot could not remove the boot's cgroup.
        helper.removeCgroup()
        if let console {
            console.releaseSlave()
            drain(console.master)
        }
        if let held = probe?.flush(), !held.isEmpty { for event in demux.feed(held) { deliver(event) } }
        for event in demux.finish() { deliver(event) }
        if let observer = plan.options.observer, !outputBroken { pendingOutput += observer.outputEnded() }
        switch state.stop {
        case .none: flushOutput(giveUpAt: nil)
        case .timeout, .signal, .escape: flushOutput(giveUpAt: MonotonicClock.seconds() + 2)
        }
    }

    /// Decides the exit status from what the boot saw, says what the user
    /// should hear about it and notes it in the transcript.
    private mutating func conclude(_ state: ConsoleState) -> BootExitStatus {
        let ending = BootEnding(
            stop: state.stop, helperExit: state.helperExit, flushInterrupted: flushInterrupted,
            guestStatus: guestStatus, helperError: String(decoding: helperError, as: UTF8.self),
            panicSeen: panic.seen, panicAdvice: panic.advice, started: started, markers: plan.nonce != nil,
            kernelTail: kernelTail, verbose: plan.options.verbose)
        let status = ending.status
        for event in ending.report(status) { emit(event) }
        transcript?.note("exit status \(status.code)" + (status.explanation.map { ": \($0)" } ?? ""))
        return status
    }

    /// One write of queued output, after poll said stdout has room: at most a
    /// page, which a pipe with a free slot takes without blocking.
    private mutating func writeOutput() {
        guard !pendingOutput.isEmpty, let output else { return }
        do {
            guard let written = try StreamIO.write(output, "stdout", pendingOutput.prefix(4096)) else { return }
            if written > 0 {
                pendingOutput.removeFirst(written)
                return
            }
        } catch {}
        // EPIPE and the like: nobody will read it, as with a blocking write.
        outputBroken = true
        pendingOutput.removeAll()
    }

    /// Writes the rest of the output once the kernel is gone. Gives up on a
    /// stop signal (SIGINT, SIGTERM, ...; noted in `flushInterrupted`) and,
    /// when given, at `giveUpAt`, saying how much was not written.
    private mutating func flushOutput(giveUpAt: Double?) {
        guard let signals else { return }
        while !pendingOutput.isEmpty && !outputBroken {
            var wait: Int32 = 1000
            if let giveUpAt {
                let left = giveUpAt - MonotonicClock.seconds()
                if left <= 0 { break }
                wait = Int32((left * 1000).rounded(.up))
            }
            var fds = [
                pollfd(fd: output ?? -1, events: Int16(POLLOUT), revents: 0),
                pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0),
            ]
            guard (try? Poll.wait(&fds, milliseconds: wait, "boot output")) != nil else { break }
            var stopSignal: Int32?
            if fds[1].revents != 0 {
                while let signal = signals.next() {
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
            say(.outputNotWritten(bytes: pendingOutput.count))
            pendingOutput.removeAll()
        }
    }

    // MARK: Telling the user

    /// Hands `event` to the caller; a diagnostic that belongs in the
    /// transcript is noted there too.
    private mutating func emit(_ event: BootEvent) {
        if case .diagnostic(let diagnostic) = event, diagnostic.isTranscribed { transcript?.note("\(diagnostic)") }
        plan.options.events?(event)
    }

    private mutating func say(_ diagnostic: BootDiagnostic) { emit(.diagnostic(diagnostic)) }

    private mutating func launchFailure(_ error: LauncherError) -> BootExitStatus {
        say(.launchFailed("\(error)"))
        say(.ended(.launchFailed))
        return .launchFailed
    }
}
