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
