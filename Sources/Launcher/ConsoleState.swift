#if canImport(Glibc)
import Glibc
#endif

/// The console loop's own state between two polls, and every decision the
/// loop makes from it, as pure transitions: when the loop ends and why,
/// which descriptors it polls and for how long, and what typed input does.
/// The loop (``BootSession``) does the I/O and feeds the results in here,
/// so all of this is unit-tested without a kernel.
struct ConsoleState: Sendable {
    /// Why the loop stopped the guest; `.none` when the kernel ended by itself.
    enum Stop: Sendable, Equatable { case none, timeout, signal(Int32), escape }

    /// How the `_kernel-exec` helper (the kernel, after its exec) ended:
    /// `exited` with `code`, or killed by signal `code`.
    struct HelperExit: Sendable, Equatable {
        var exited: Bool
        var code: Int32

        init(exited: Bool, code: Int32) {
            self.exited = exited
            self.code = code
        }

        /// As ``ProcessTree`` reports it.
        init(_ exit: (exited: Bool, code: Int32)) {
            self.init(exited: exit.exited, code: exit.code)
        }
    }

    /// What the loop does instead of polling again.
    enum End: Sendable, Equatable {
        /// The kernel is gone: read what is left on the pty (its last words), then stop.
        case drain
        case finish
    }

    /// What one signal from the signalfd asks of the loop.
    enum SignalAction: Sendable, Equatable { case reap, resize, stop }

    /// What the loop waits for in one poll.
    struct Interest: Sendable, Equatable {
        /// Read the pty master (the output queue has room).
        var readConsole: Bool
        /// Write typed input (or a probe) to the pty master.
        var writeConsole: Bool
        /// Read the user's input.
        var readInput: Bool
        var pollsConsole: Bool { readConsole || writeConsole }
    }

    let interactive: Bool
    /// When `--timeout` runs out (monotonic seconds), if it was given.
    let deadline: Double?
    private(set) var stop = Stop.none
    private(set) var helperExit: HelperExit?
    private(set) var inputOpen = true
    /// Typed bytes (or probes) not yet written to the guest's console.
    private(set) var outgoing: [UInt8] = []
    /// Once the command's status is in, how long hostfs-init has to power off.
    private(set) var exitGraceDeadline: Double?
    private(set) var consoleOpen = true
    private var escape = EscapeScanner()

    /// hostfs-init powers off right after its EXIT marker; this long at most.
    static let exitGrace = 10.0

    init(interactive: Bool, deadline: Double?) {
        self.interactive = interactive
        self.deadline = deadline
    }

    /// Whether the loop ends before the next poll. A passed deadline stops
    /// the guest (only while its command has not reported a status), and so
    /// does `stopAsked` (the observer), asked only when nothing else ended
    /// the loop first.
    mutating func end(now: Double, guestStatus: Int32?, stopAsked: () -> Bool) -> End? {
        if helperExit != nil { return consoleOpen ? .drain : .finish }
        if let deadline, now >= deadline, guestStatus == nil {
            stop = .timeout
            return .finish
        }
        if guestStatus == nil, stopAsked() {
            stop = .timeout
            return .finish
        }
        if let grace = exitGraceDeadline, now >= grace { return .finish }
        return nil
    }

    /// Whether a console probe may be queued now (nothing else is waiting to go).
    var mayProbe: Bool { outgoing.isEmpty && consoleOpen }

    mutating func queue(_ bytes: [UInt8]) { outgoing += bytes }

    /// `guestReads`: the guest is ready for input (interactive, command
    /// started, or a custom init's console answered); `outputRoom`: the
    /// output queue can take more of the console.
    func interest(guestReads: Bool, outputRoom: Bool) -> Interest {
        let readInput = inputOpen && outgoing.isEmpty && consoleOpen && guestReads
        return Interest(readConsole: consoleOpen && outputRoom,
                        writeConsole: consoleOpen && !outgoing.isEmpty,
                        readInput: readInput)
    }

    /// Milliseconds the next poll may wait: a second at most, 100 ms while
    /// the demultiplexer holds a line break back, never past the deadline,
    /// the exit grace or the next probe (`probeIn` seconds).
    func pollTimeout(now: Double, holding: Bool, probeIn: Double?) -> Int32 {
        var wait = holding ? 100.0 : 1000.0
        if let deadline { wait = min(wait, max(0, (deadline - now) * 1000)) }
        if let exitGraceDeadline { wait = min(wait, max(0, (exitGraceDeadline - now) * 1000)) }
        if let probeIn { wait = min(wait, probeIn * 1000) }
        return Int32(wait.rounded(.up))
    }

    /// A signal from the signalfd: SIGCHLD reaps, SIGWINCH resizes, any
    /// other (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stops the guest.
    mutating func received(signal: Int32) -> SignalAction {
        switch signal {
        case SIGCHLD: return .reap
        case SIGWINCH: return .resize
        default:
            stop = .signal(signal)
            return .stop
        }
    }

    /// The helper was reaped (after a SIGCHLD, or when the session was killed).
    mutating func helperEnded(_ exit: HelperExit?) {
        if helperExit == nil, let exit { helperExit = exit }
    }

    /// `count` queued bytes went to the guest's console.
    mutating func wroteToConsole(_ count: Int) {
        outgoing.removeFirst(min(count, outgoing.count))
    }

    /// The console was read; `stillOpen` false once the pty has no writer.
    /// Once the command's status is in, the exit grace starts.
    mutating func readConsole(stillOpen: Bool, guestStatus: Int32?, now: Double) {
        if !stillOpen { consoleOpen = false }
        if guestStatus != nil && exitGraceDeadline == nil { exitGraceDeadline = now + Self.exitGrace }
    }

    /// The user typed `bytes`. Interactive input goes through the escape
    /// scanner: Ctrl-] q stops the guest (true), the rest is queued.
    mutating func typed(_ bytes: [UInt8]) -> Bool {
        var forward = bytes
        if interactive {
            let scanned = escape.scan(bytes)
            if scanned.stop {
                stop = .escape
                return true
            }
            forward = scanned.forward
        }
        outgoing += forward
        return false
    }

    /// End of input: the guest's canonical-mode tty turns ^D into its EOF.
    mutating func inputEnded() {
        inputOpen = false
        outgoing += [4]
    }
}
