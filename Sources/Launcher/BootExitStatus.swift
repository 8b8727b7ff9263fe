#if canImport(Glibc)
import Glibc
#endif

/// How `corral boot` ends, as its process exit status.
///
/// The scheme:
/// - **0–255, the guest command's own status**, passed through unchanged when
///   hostfs-init reported it with the nonce marker (`CORRAL-<nonce> EXIT n`).
///   Without a command, the status of the guest shell. With a custom `--init`,
///   0 when the kernel powered off cleanly.
/// - **64**: usage error (bad option or `--disk` form), from the argument parser.
/// - **124 timed out**: `--timeout` passed; the whole kernel process tree was
///   stopped. (The same value as coreutils `timeout`.)
/// - **128+n interrupted**: corral got signal n (SIGHUP 129, SIGINT 130,
///   SIGTERM 143) and stopped the kernel.
/// - **130 stopped by the user**: Ctrl-] q at an interactive console; the
///   same status as Ctrl-C, with its own line saying who stopped the guest.
/// - **240 preflight failed**: a disk, the kernel or the command line was
///   refused before anything was spawned.
/// - **241 launch failed**: the kernel could not be started (pty, spawn,
///   sandbox setup or exec failed).
/// - **242 init not reached**: the kernel ran but stopped before hostfs-init
///   reported the start of the command (or, with a custom `--init`, exited
///   with a failure status), without a panic.
/// - **243 kernel panic**: the console showed `Kernel panic` or the kernel
///   aborted (a failed `init=` panics, so `--init /nonexistent` lands here).
/// - **244 status lost**: the command started but the kernel stopped before
///   hostfs-init could report its status (e.g. the command powered off).
///
/// A guest command that itself exits 124 or 240–244 is indistinguishable by
/// status alone; corral prints one line on stderr for every status it makes
/// up itself, and `--log` records which one it was.
public enum BootExitStatus: Sendable, Equatable {
    case guest(Int32)
    case timedOut
    case interrupted(signal: Int32)
    case stoppedByUser
    case preflightFailed
    case launchFailed
    case initNotReached
    case kernelPanic
    case statusLost

    public var code: Int32 {
        switch self {
        case let .guest(status): return status & 0xff
        case .timedOut: return 124
        case let .interrupted(signal): return 128 + signal
        case .stoppedByUser: return 128 + SIGINT
        case .preflightFailed: return 240
        case .launchFailed: return 241
        case .initNotReached: return 242
        case .kernelPanic: return 243
        case .statusLost: return 244
        }
    }

    /// The stderr line for statuses corral made up, nil for a guest status.
    public var explanation: String? {
        switch self {
        case .guest: return nil
        case .timedOut: return "timed out; stopped the kernel and every process of this boot"
        case let .interrupted(signal):
            return "interrupted (signal \(signal)); stopped the kernel and every process of this boot"
        case .stoppedByUser: return "you stopped the guest with Ctrl-] q; the kernel and every process of this boot were stopped"
        case .preflightFailed: return "preflight failed; nothing was started"
        case .launchFailed: return "the kernel could not be started"
        case .initNotReached: return "the kernel stopped before init started the command"
        case .kernelPanic: return "kernel panic"
        case .statusLost: return "the kernel stopped before the command reported its exit status"
        }
    }
}
