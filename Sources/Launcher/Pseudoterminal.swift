#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

/// The guest's console: a fresh pty whose master corral reads and writes
/// (non-blocking), and whose slave the kernel helper opens by its path.
/// Both ends close themselves.
final class Pseudoterminal {
    let master: Descriptor
    let slavePath: String
    /// corral's own hold on the slave until the kernel is gone, so the
    /// master never reads as hung up (EIO) before the helper has opened it;
    /// the end of the boot is told by the helper's exit instead.
    private var slaveHold: Descriptor?

    /// Opens the pty and gives it `input`'s window size (80x24 when
    /// `input` is no terminal).
    init(windowSizeFrom input: Int32) throws(LauncherError) {
        var name = [CChar](repeating: 0, count: 256)
        let fd = corral_open_pty(&name, name.count)
        guard fd >= 0 else { throw .launch("cannot open a pseudo-terminal: \(SystemError.describe(corral_errno()))") }
        master = Descriptor(owning: fd, name: "the console's pty")
        _ = corral_set_nonblock(fd, 1)
        slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        copyWindowSize(from: input)
        let hold = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        if hold >= 0 {
            slaveHold = Descriptor(owning: hold, name: slavePath)
            // Raw from the start (UML makes it raw only when its console
            // opens): the host's line discipline must not echo what corral
            // types (the ConsoleProbe would take that for the guest's echo)
            // nor turn ^D into a zero-length read, which UML takes as a hangup.
            _ = corral_tty_make_raw(hold)
        }
    }

    /// Lets go of the slave once the kernel is gone: the master then ends
    /// (EIO) after the last of the kernel's output.
    func releaseSlave() { slaveHold = nil }

    /// The window size of `input` (the user's terminal), or 80x24.
    func copyWindowSize(from input: Int32) {
        var rows: UInt16 = 0
        var cols: UInt16 = 0
        if corral_get_winsize(input, &rows, &cols) == 0 && rows > 0 && cols > 0 {
            _ = corral_set_winsize(master.fd, rows, cols)
        } else {
            _ = corral_set_winsize(master.fd, 24, 80)
        }
    }
}
