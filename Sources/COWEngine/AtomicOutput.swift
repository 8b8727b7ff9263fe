#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

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
    /// The temporary file's path, for readers that need a name (the UML
    /// kernel opens disks by path); corral itself only uses ``file``.
    public let temporaryPath: String
    public let file: OpenFile
    private let created: NewFile
    private let finalName: String
    private let replace: Bool

    /// - Parameters:
    ///   - path: the final name.
    ///   - replace: an existing file may be replaced (`--force`); otherwise
    ///     one that appears meanwhile is not overwritten either
    ///     (renameat2 RENAME_NOREPLACE).
    ///   - inputs: files that must never be the output, with their roles
    ///     ("COW file", "backing file"), checked by device and inode.
    ///
    /// The temporary file is created O_EXCL|O_NOFOLLOW in the output's
    /// directory, held open, and never reopened by name: its mode is set on
    /// the descriptor, so a name swapped for a symlink by another user who
    /// can write that directory is never followed (issue 13).
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
        do {
            let directory = try Directory(dir)
            created = try NewFile(in: directory, for: name)
            try created.descriptor.setPermissions(0o644 & ~UInt32(Self.umask))
        } catch {
            throw EngineError(error, path: path)
        }
        file = try OpenFile(duplicating: created.fd, path: created.temporaryPath ?? path)
        self.finalPath = path
        self.finalName = name
        self.replace = replace
        self.temporaryPath = created.temporaryPath ?? path
    }

    /// Makes the file durable and visible under its final name.
    public func commit() throws(EngineError) {
        try file.sync()
        do {
            try created.publish(as: finalName, replace: replace)
        } catch where error.errno == .fileExists {
            throw .outputExists(path: finalPath)
        } catch {
            throw EngineError(error, path: finalPath)
        }
    }

    /// fsync the directory holding `path`, so a rename or unlink is durable.
    public static func syncDirectory(of path: String) {
        (try? Directory(PathResolution.split(path).directory))?.sync()
    }

    private static let umask: mode_t = {
        let old = Glibc.umask(0o022)
        Glibc.umask(old)
        return old
    }()
}
