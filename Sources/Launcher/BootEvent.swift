#if canImport(Glibc)
import Glibc
#endif

/// What a boot has to tell the person who started it, as it happens: the
/// launcher never writes these itself (only the `corral` executable prints),
/// it hands them to ``BootOptions/events`` in order. The CLI writes a
/// ``diagnostic(_:)`` as `corral: <text>` on stderr and the console bytes
/// as they are; a library caller may keep, show or drop them.
public enum BootEvent: Sendable, Equatable {
    /// One line corral says about the boot.
    case diagnostic(BootDiagnostic)
    /// Kernel console text as it arrives (only with `--verbose`).
    case kernelText([UInt8])
    /// After a boot that failed before its command ran: the console's last
    /// words (the kernel's text since the boot began, or hostfs-init's own
    /// lines saying why it gave up). May lack its final line break.
    case lastWords([UInt8])
}

/// Receives a boot's events on the boot's own thread; it must return quickly
/// (the console loop waits for it) and must not call back into the boot.
public typealias BootEventHandler = @Sendable (BootEvent) -> Void

/// The lines corral prints about a boot (after `corral: `), each a value a
/// caller can match; ``description`` is the text.
public enum BootDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// A preflight finding (a failure stops the boot; a warning does not).
    case preflight(PreflightIssue)
    /// The sandbox profile does not fit this kernel as well as it should.
    case sandboxWarning(String)
    /// One line of the sandbox report (`--verbose`).
    case sandboxReport(String)
    /// Whether the kernel's RAID-6 benchmark runs, and why (`--verbose`).
    case raid6Benchmark(RAID6Decision)
    /// How guest processes run (`--verbose`): corral's choice, or the
    /// user's own `seccomp=` when given (``UserspaceMode``).
    case guestProcesses(UserspaceMode, userArgument: String?)
    /// An interactive console is attached; how to get out.
    case consoleAttached
    /// The `_kernel-exec` helper runs as `pid`, leader of its own session (`--verbose`).
    case helperStarted(pid: Int32)
    /// What stopped the boot before the kernel ran, in one line.
    case launchFailed(String)
    /// The helper's own report: a setup error, or the sandbox stopping the kernel.
    case helperReport(String)
    /// Nobody here stopped the kernel, yet a signal killed it (the OOM killer, a stray kill -9).
    case kernelKilled(signal: Int32)
    /// What to do about a kernel panic whose cause corral recognises.
    case panicAdvice(String)
    /// A stop cut the final flush short, or stdout was not being read.
    case outputNotWritten(bytes: Int)
    /// The status corral made up itself, with why (never for the guest's own status).
    case ended(BootExitStatus)

    /// Whether the line also goes into the `--log` transcript (as `corral| …`).
    var isTranscribed: Bool {
        switch self {
        case .launchFailed, .kernelKilled, .panicAdvice, .outputNotWritten: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .preflight(let issue): issue.line
        case .sandboxWarning(let warning): "warning: \(warning)"
        case .sandboxReport(let line): line
        case .raid6Benchmark(let decision): "RAID-6 benchmark \(decision)"
        case .guestProcesses(_, let given?): "guest processes: as \(given) on the command line says"
        case .guestProcesses(.seccomp, nil):
            "guest processes: UML's seccomp userspace (seccomp=on: corral's init on a kernel that has it; --kernel-arg seccomp=off keeps ptrace)"
        case .guestProcesses(.ptrace, nil): "guest processes: traced by ptrace"
        case .consoleAttached: "console attached; Ctrl-] then q stops the guest"
        case .helperStarted(let pid): "helper pid \(pid) (session \(pid))"
        case .launchFailed(let message): message
        case .helperReport(let message): message
        case .kernelKilled(let signal): "the kernel was killed by signal \(signal) (\(String(cString: strsignal(signal))))"
        case .panicAdvice(let advice): advice
        case .outputNotWritten(let bytes): "\(bytes) bytes of the command's output were not written: stdout is not being read"
        case .ended(let status): "\(status.explanation ?? "the guest's own status") (exit status \(status.code))"
        }
    }
}

/// Whether the kernel's 0.85 s RAID-6 benchmark runs in this boot, and why.
public enum RAID6Decision: Sendable, Equatable, CustomStringConvertible {
    /// `--raid6 off`.
    case skippedByOption
    /// No disk holds anything that needs it.
    case skippedNotNeeded
    /// Kept, for this reason (a disk's content, `--raid6 on`, or the kernel's own init).
    case kept(for: String)

    public var description: String {
        switch self {
        case .skippedByOption: "skipped (--raid6 off)"
        case .skippedNotNeeded: "skipped (no disk holds md, LVM, btrfs or a partition table; --raid6 on keeps it)"
        case .kept(let reason): "kept for \(reason)"
        }
    }
}
