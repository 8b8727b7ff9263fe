#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine

/// A uniquely named file, removed when the value goes away: next to a
/// user's file when that directory is writable (same filesystem, cheap
/// reflinks), otherwise in TMPDIR.
final class TemporaryFile {
    let path: String

    init(near original: String, tag: String) throws {
        let (dir, name) = PathResolution.split(PathResolution.absolute(original))
        var candidates = [dir]
        let tmp = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        if tmp != dir { candidates.append(tmp) }
        for candidate in candidates {
            var template = Array("\(candidate)/.\(name).corral-\(tag)-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { corral_mkstemp($0.baseAddress!) }
            if fd >= 0 {
                close(fd)
                path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return
            }
        }
        throw MaintenanceError.io("cannot create a temporary file next to '\(original)' or in \(tmp); free space or set TMPDIR")
    }

    deinit { unlink(path) }
}
