import CCorralShim

/// The user's terminal in raw mode for the life of this value. Restoring is
/// tied to its lifetime (and every exit path of the supervisor runs through
/// it), so the terminal is never left raw; only SIGKILL can skip it.
public struct RawTerminal: ~Copyable {
    private let fd: Int32
    private var saved = corral_termios()
    private var active = false

    /// Puts `fd` in raw mode; does nothing when it is not a terminal.
    public init(fd: Int32) {
        self.fd = fd
        guard corral_launch_isatty(fd) == 1, corral_tty_save(fd, &saved) == 0 else { return }
        active = corral_tty_make_raw(fd) == 0
    }

    public mutating func restore() {
        guard active else { return }
        _ = corral_tty_restore(fd, &saved)
        active = false
    }

    deinit {
        var copy = saved
        if active { _ = corral_tty_restore(fd, &copy) }
    }
}
