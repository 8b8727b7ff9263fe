#if canImport(Glibc)
import Glibc
#endif
import COWEngine
import CorralSystem

/// A uniquely named file, removed when the value goes away: next to a
/// user's file when that directory is writable (same filesystem, cheap
/// reflinks), otherwise in TMPDIR.
///
/// Created O_EXCL|O_NOFOLLOW and held open (``descriptor``), so corral
/// writes to it without reopening the name; ``path`` is for readers that
/// need one (the kernel). Dropped, it removes its name if that is still
/// the file it created (``NewFile``).
final class TemporaryFile {
    let path: String
    private let created: NewFile

    var fd: Int32 { created.fd }

    init(near original: String, tag: String) throws {
        let (dir, name) = PathResolution.split(PathResolution.absolute(original))
        var candidates = [dir]
        let tmp = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        if tmp != dir { candidates.append(tmp) }
        for candidate in candidates {
            if let made = try? NewFile(in: Directory(candidate), for: name, tag: tag), let path = made.temporaryPath {
                created = made
                self.path = path
                return
            }
        }
        throw MaintenanceError.io("cannot create a temporary file next to '\(original)' or in \(tmp); free space or set TMPDIR")
    }

    /// The file as an engine `OpenFile`, through a second descriptor (never by name).
    func open() throws(EngineError) -> OpenFile {
        try OpenFile(duplicating: created.fd, path: path)
    }
}
