#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

/// What a boot's supervisor takes over from the process for the length of
/// one boot, and gives back when this goes away: the stop signals (SIGINT,
/// SIGTERM, SIGHUP, SIGQUIT), SIGWINCH and SIGCHLD, blocked and read from a
/// signalfd instead, and the child-subreaper role, so that the kernel's
/// orphans come back here to be killed and reaped (``ProcessTree``).
/// Library callers (maint) get their signal mask and reaping back afterwards.
final class SupervisorSignals {
    let fd: Int32

    init() throws(LauncherError) {
        let fd = corral_launch_signalfd_open()
        guard fd >= 0 else {
            let code = corral_errno()
            // Puts back the mask the failed open may already have changed.
            corral_launch_signalfd_close(-1)
            throw .launch("signalfd failed: \(SystemError.describe(code))")
        }
        self.fd = fd
        _ = corral_launch_set_subreaper(1)
    }

    deinit {
        _ = corral_launch_set_subreaper(0)
        corral_launch_signalfd_close(fd)
    }

    /// The next signal waiting, or nil when none is.
    func next() -> Int32? {
        let signal = corral_launch_signalfd_read(fd)
        return signal > 0 ? signal : nil
    }
}
