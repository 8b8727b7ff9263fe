#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem
import Foundation

/// The job as the guest runs it: a private host directory holding `job.sh`
/// (step library, parameter assignments, template) and `nonce`, mounted
/// read-only into the guest through hostfs. Only the short bootstrap that
/// mounts it travels on the kernel command line.
///
/// Why a directory: the command line holds 4095 bytes, and the guest's /tmp
/// is its own tmpfs (hostfs-init), so the host's temporary files are only
/// reachable through an explicit hostfs mount.
final class GuestScript {
    /// Where the guest mounts the job directory.
    static let guestDirectory = "/run/corral-job"

    let directory: String
    let nonce: String

    var nonceFile: String { "\(directory)/nonce" }

    /// The command hostfs-init runs.
    var bootstrap: String {
        // X-mount.mkdir: mount makes the directory itself, one program start
        // fewer (each costs 0.05-0.1 s under UML).
        "mount -t hostfs -o ro,X-mount.mkdir,\(directory) none \(Self.guestDirectory) && exec /bin/sh \(Self.guestDirectory)/job.sh"
    }

    init(library: String, variables: [(String, String)], template: String, environment: [String: String]) throws(MaintenanceError) {
        let tmp = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var pattern = Array("\(tmp)/corral-maint-XXXXXX".utf8CString)
        guard let made = pattern.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw .io("cannot create a job directory in \(tmp): \(String(cString: strerror(errno))); set TMPDIR to a writable directory")
        }
        let directory = String(cString: made)
        guard directory.allSatisfy({ $0 != "," && $0 != " " && $0 != "'" && $0 != "\"" && $0 != ":" }) else {
            rmdir(directory)
            throw .io("job directory '\(directory)' holds a character hostfs or the kernel command line cannot carry; set TMPDIR to a plain path")
        }
        self.directory = directory
        self.nonce = Random.hex(bytes: 16)
        var text = library + "\n# --- corral: parameters ---\n"
        for (name, value) in variables {
            text += "\(name)=\(Shell.quote(value))\n"
        }
        text += "# --- corral: template ---\n" + template + "\n"
        do {
            try write(text, to: "\(directory)/job.sh")
            try write(nonce + "\n", to: nonceFile)
        } catch {
            remove()
            throw error
        }
    }

    deinit { remove() }

    func remove() {
        unlink("\(directory)/job.sh")
        unlink(nonceFile)
        rmdir(directory)
    }

    private func write(_ text: String, to path: String) throws(MaintenanceError) {
        do {
            let file = try Descriptor(open: path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            try file.writeAll(Array(text.utf8))
        } catch {
            throw .io("cannot write '\(path)': \(SystemError.describe(error.errno.rawValue))")
        }
    }
}
