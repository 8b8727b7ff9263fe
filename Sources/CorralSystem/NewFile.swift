#if canImport(Glibc)
import Glibc
#endif
import CCorralShim

/// A file corral creates, held by its descriptor from the first moment:
/// its mode and owner are set on the descriptor (`fchmod`/`fchown`), and
/// it gets its final name with `renameat2` in a directory held open, so a
/// name swapped for a symbolic link by another user is never followed.
///
/// The file has a temporary name (`.NAME.corral-<random>`, created with
/// O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600) because some readers (the UML
/// kernel, which opens its disks by path) need one. Dropped without
/// ``publish(as:replace:)``, it is removed again, by name in the held
/// directory and only while that name is still this file.
public final class NewFile: @unchecked Sendable {
    public let directory: Directory
    public let descriptor: Descriptor
    public private(set) var temporaryName: String?
    public var fd: Int32 { descriptor.fd }

    /// The full temporary path, for readers that need a path.
    public var temporaryPath: String? { temporaryName.map { directory.child($0) } }

    /// A new empty file in `directory`, named after `final` (`tag` says what for).
    public init(in directory: Directory, for final: String, tag: String = "") throws(SystemError) {
        self.directory = directory
        var attempt = 0
        while true {
            let name = ".\(final).corral-\(tag.isEmpty ? "" : tag + "-")\(Random.hex(bytes: 6))"
            do {
                descriptor = try directory.openFile(name, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
                temporaryName = name
                return
            } catch where error.errno == .fileExists && attempt < 16 {
                attempt += 1
            }
        }
    }

    deinit { discard() }

    /// Whether `name` in the directory is still the file this descriptor holds.
    public func isStillNamed(_ name: String) -> Bool {
        guard let mine = try? descriptor.status(), let there = try? directory.status(of: name) else { return false }
        return mine.isSameFile(as: there)
    }

    /// Gives the file its final name: renameat2 within the held directory,
    /// refusing an existing `name` unless `replace`. Verifies the temporary
    /// name still holds this file first, and the final name after.
    public func publish(as name: String, replace: Bool) throws(SystemError) {
        guard let tmp = temporaryName else {
            throw SystemError(call: "renameat2", object: directory.child(name), errno: .invalidArgument)
        }
        guard isStillNamed(tmp) else {
            throw SystemError(call: "renameat2", object: directory.child(tmp), errno: .resourceBusy)
        }
        try directory.rename(tmp, to: name, replace: replace)
        temporaryName = nil
        guard isStillNamed(name) else {
            throw SystemError(call: "renameat2", object: directory.child(name), errno: .resourceBusy)
        }
        directory.sync()
    }

    /// Removes the temporary name now, if it still names this file.
    public func discard() {
        guard let tmp = temporaryName else { return }
        temporaryName = nil
        if isStillNamed(tmp) { try? directory.unlink(tmp) }
    }
}
