#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem

/// One boot's `uml_dir`, made in the runtime directory through its
/// descriptor (leftovers of SIGKILLed boots are cleared first), and removed
/// with everything in it when this goes away, once the kernel is gone.
final class BootDirectory {
    private let runtime: Directory
    private let name: String
    let directory: Directory

    init(_ plan: BootPlan) throws(LauncherError) {
        let (runtimePath, name) = PathResolution.split(plan.umlDir)
        do { runtime = try RuntimeDirectory.open(runtimePath) } catch { throw .launch("\(error)") }
        StaleBoots.sweep(runtime)
        do {
            try runtime.makeDirectory(name, mode: 0o700)
        } catch where error.errno == .fileExists {
            throw .launch("umid \(plan.commandLine.umid) is in use by another boot (\(plan.umlDir) exists); choose another --umid")
        } catch {
            throw .launch("mkdir(\(plan.umlDir)) failed: \(SystemError.describe(error.errno.rawValue)); set TMPDIR to a writable directory of your own")
        }
        self.name = name
        guard let directory = try? runtime.openDirectory(name) else {
            try? runtime.removeTree(name)
            throw .launch("cannot open \(plan.umlDir) after making it")
        }
        self.directory = directory
    }

    deinit { try? runtime.removeTree(name) }
}

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
