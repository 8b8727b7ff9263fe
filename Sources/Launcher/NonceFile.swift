#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// The file that hands hostfs-init its nonce, in the boot directory:
/// removed once the guest has opened it (inotify IN_OPEN on ``watch``), and
/// at the latest when the command starts, so nothing else in the guest can.
final class NonceFile {
    private var directory: Directory?
    /// Readable once the guest has opened the file; nil when inotify is not to be had.
    private(set) var watch: Descriptor?

    /// nil when the plan passes no nonce through a file.
    static func make(_ plan: BootPlan, in directory: Directory) throws(LauncherError) -> NonceFile? {
        guard let nonce = plan.nonce, let path = plan.nonceFile else { return nil }
        do {
            let file = try directory.openFile(BootPlan.nonceFileName, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            try file.writeAll(Array((nonce + "\n").utf8))
        } catch {
            throw .launch("cannot write the nonce file: \(error)")
        }
        return NonceFile(directory: directory, path: path)
    }

    private init(directory: Directory, path: String) {
        self.directory = directory
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return }
        let watch = Descriptor(owning: fd, name: "inotify(\(path))")
        if inotify_add_watch(fd, path, UInt32(IN_OPEN)) >= 0 { self.watch = watch }
    }

    /// Removes the file (once; later calls do nothing).
    func remove() {
        try? directory?.unlink(BootPlan.nonceFileName)
        directory = nil
    }

    /// The guest opened the file: nobody else may.
    func opened() {
        remove()
        watch = nil
    }
}
