#if canImport(Glibc)
import Glibc
#endif
import Sandbox

/// Everything a finished boot leaves to decide its exit status and what to
/// say about it: plain values, so ``status`` and ``report`` are pure
/// functions, unit-tested for every outcome without a kernel.
struct BootEnding: Sendable, Equatable {
    /// Why the console loop stopped the guest, if it did.
    var stop: ConsoleState.Stop = .none
    var helperExit: ConsoleState.HelperExit?
    /// A stop signal that cut the final flush of the command's output short.
    var flushInterrupted: Int32?
    /// The command's status from hostfs-init's EXIT marker.
    var guestStatus: Int32?
    /// What the helper wrote on its error pipe (empty when it exec'd the kernel).
    var helperError = ""
    var panicSeen = false
    /// What corral advises for the panic the console showed, if it knows the cause.
    var panicAdvice: String?
    /// hostfs-init reported the start of the command.
    var started = false
    /// The boot uses hostfs-init's markers (a nonce); false with a custom `--init`.
    var markers = true
    /// Kernel text before init (empty once the command started, and with `--verbose`).
    var kernelTail: [UInt8] = []
    /// `--verbose`: the kernel's text was shown as it came.
    var verbose = false

    /// The helper's report is the seccomp profile stopping the running
    /// kernel (``SeccompDenial``), not a failure to start it.
    var sandboxDenial: Bool { helperError.utf8.starts(with: SeccompDenial.prefix.utf8) }

    /// hostfs-init's own `hostfs-init: …` lines in ``kernelTail`` (each with
    /// the line before it, the failed program's own message), or nil.
    var initFailure: String? { Self.hostfsInitFailure(in: kernelTail) }

    /// The exit status: the command's own when hostfs-init reported it,
    /// else the one corral makes up (``BootExitStatus``).
    var status: BootExitStatus {
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
        if panicSeen, !started, initFailure != nil { return .initNotReached }
        if panicSeen { return .kernelPanic }
        if let helperExit, !helperExit.exited, helperExit.code == SIGABRT { return .kernelPanic }
        if !markers {
            // A custom init reports nothing; a clean power-off is success.
            if let helperExit, helperExit.exited, helperExit.code == 0 { return .guest(0) }
            return .initNotReached
        }
        return started ? .statusLost : .initNotReached
    }

    /// What to tell the user about `status` (``status``), in order: nothing
    /// for the guest's own status; else the console's last words when the
    /// boot failed before the command (unless they were shown already), the
    /// helper's report, a signal nobody here sent, panic advice, and the
    /// status line.
    func report(_ status: BootExitStatus) -> [BootEvent] {
        guard status.explanation != nil else { return [] }
        var events: [BootEvent] = []
        if [.initNotReached, .kernelPanic, .statusLost].contains(status), !verbose, !kernelTail.isEmpty {
            // hostfs-init said why it gave up: that, not the panic it caused.
            events.append(.lastWords(initFailure.map { Array($0.utf8) } ?? kernelTail))
        }
        if !helperError.isEmpty { events.append(.diagnostic(.helperReport(helperError))) }
        if case .none = stop, status != .launchFailed, !sandboxDenial, let helperExit, !helperExit.exited,
           helperExit.code != SIGABRT {
            events.append(.diagnostic(.kernelKilled(signal: helperExit.code)))
        }
        if status == .kernelPanic, let panicAdvice { events.append(.diagnostic(.panicAdvice(panicAdvice))) }
        events.append(.diagnostic(.ended(status)))
        return events
    }

    /// The `hostfs-init: …` lines (with the line before each, the failed
    /// program's own message) in the kernel's output, or nil when there are none.
    static func hostfsInitFailure(in kernelText: [UInt8]) -> String? {
        let lines = String(decoding: kernelText, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var picked: [Substring] = []
        for (i, line) in lines.enumerated() where line.hasPrefix("hostfs-init: ") {
            if i > 0, !lines[i - 1].hasPrefix("hostfs-init: "), !lines[i - 1].hasPrefix(" ") { picked.append(lines[i - 1]) }
            picked.append(line)
        }
        return picked.isEmpty ? nil : picked.joined(separator: "\n") + "\n"
    }
}
