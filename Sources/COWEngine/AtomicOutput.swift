#if canImport(Glibc)
import Glibc
#endif
import CCorralShim

/// A new file that appears under its final name only when complete.
///
/// Data goes to a temporary file in the target directory (same filesystem,
/// so the rename is atomic); ``commit()`` fsyncs it, renames it over the
/// final name and fsyncs the directory. If the value is dropped without a
/// commit (an error, a full disk), the temporary file is removed. A SIGKILL
/// leaves only a `.name.corral-*` file behind, never a half-written final
/// name; ``LeftoverOutputs`` removes it on a later run.
public final class AtomicOutput {
    public let finalPath: String
    public let temporaryPath: String
    public let file: OpenFile
    private var committed = false

    /// - Parameters:
    ///   - path: the final name.
    ///   - replace: an existing file may be replaced (`--force`).
    ///   - inputs: files that must never be the output, with their roles
    ///     ("COW file", "backing file"), checked by device and inode.
    public init(path: String, replace: Bool, inputs: [(status: FileStatus, role: String)]) throws(EngineError) {
        if let existing = try FileStatus.of(path) {
            for input in inputs where existing.isSameFile(as: input.status) {
                throw .outputIsInput(path: path, role: input.role)
            }
            if existing.isDirectory { throw .invalidArgument("\(path): is a directory") }
            if !replace { throw .outputExists(path: path) }
        }
        let (dir, name) = PathResolution.split(path)
        guard let dirStatus = try FileStatus.of(dir), dirStatus.isDirectory else {
            throw .invalidArgument("\(path): directory \(dir) does not exist")
        }
        var template = Array("\(dir)/.\(name).corral-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { corral_mkstemp($0.baseAddress!) }
        let tmp = String(cString: template)
        if fd < 0 {
            let code = errno
            if code == ENOSPC { throw .noSpace(path: path) }
            throw .system(call: "mkstemp", path: tmp, errno: code)
        }
        close(fd)
        self.finalPath = path
        self.temporaryPath = tmp
        do {
            self.file = try OpenFile(tmp, flags: O_RDWR)
            // Held until the file is renamed or removed: LeftoverOutputs
            // removes only unlocked ones, so never the file of a live run.
            _ = flock(file.fd, LOCK_EX | LOCK_NB)
            _ = fchmod(file.fd, 0o644 & ~Self.umask)
        } catch {
            unlink(tmp)
            throw error
        }
    }

    deinit {
        if !committed { unlink(temporaryPath) }
    }

    /// Makes the file durable and visible under its final name.
    public func commit() throws(EngineError) {
        try file.sync()
        guard rename(temporaryPath, finalPath) == 0 else {
            throw .system(call: "rename", path: finalPath, errno: errno)
        }
        committed = true
        Self.syncDirectory(of: finalPath)
    }

    /// fsync the directory holding `path`, so a rename or unlink is durable.
    public static func syncDirectory(of path: String) {
        let dir = PathResolution.split(path).directory
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    private static let umask: mode_t = {
        let old = Glibc.umask(0o022)
        Glibc.umask(old)
        return old
    }()
}
