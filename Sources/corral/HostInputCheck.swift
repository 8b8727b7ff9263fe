import ArgumentParser
import Foundation

/// Host-side inputs of a maintenance job, checked while parsing so a
/// mistake costs no boot: one line each, exit 64.
enum HostInputCheck {
    /// `--modules DIR`: an existing directory holding one kernel release's
    /// modules, not the directory of releases above it.
    static func modules(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--modules '\(path)' is not a directory; give one release's module tree, e.g. /usr/lib/uml/modules/RELEASE")
        }
        let fm = FileManager.default
        if !fm.fileExists(atPath: path + "/kernel") && !fm.fileExists(atPath: path + "/modules.order") {
            let releases = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().filter {
                fm.fileExists(atPath: "\(path)/\($0)/kernel") || fm.fileExists(atPath: "\(path)/\($0)/modules.order")
            }
            if let first = releases.first {
                throw ValidationError("--modules '\(path)' holds release directories (\(releases.joined(separator: ", "))), not modules; give one of them, e.g. --modules \(path.hasSuffix("/") ? path : path + "/")\(first)")
            }
        }
    }

    /// `--mount N=DIR`: the guest must be able to make DIR. Its / is the
    /// host's, read-only, with its own /proc, /sys and /dev and fresh /tmp
    /// and /run: DIR must be under /tmp or /run, or already a directory on
    /// the host outside /proc, /sys and /dev.
    static func mountPoint(_ dir: String) throws {
        let pseudo = ["/proc", "/sys", "/dev"]
        if pseudo.contains(where: { dir == $0 || dir.hasPrefix($0 + "/") }) {
            throw ValidationError("--mount N=\(dir): the guest's \(dir.split(separator: "/").first.map { "/" + $0 } ?? dir) is its own kernel file system, where no disk can be mounted; use a directory under /mnt, /tmp or /run")
        }
        if dir == "/" { throw ValidationError("--mount ...=/: the guest's root cannot be replaced; use a directory such as /mnt") }
        if dir.hasPrefix("/tmp/") || dir.hasPrefix("/run/") || dir == "/tmp" || dir == "/run" { return }
        var isDirectory: ObjCBool = false
        if !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw ValidationError("--mount N=\(dir): the guest sees the host's / read-only, so it cannot create \(dir); use an existing directory (e.g. /mnt) or one under /tmp or /run")
        }
    }
}
