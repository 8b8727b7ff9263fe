#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine
import CorralSystem

/// `cp --sparse=always` for one file, built on the engine's primitives: a
/// reflink where the filesystem has them, otherwise copy_file_range over
/// the data extents only (SEEK_DATA/SEEK_HOLE), so a COW whose data area is
/// mostly holes costs what it holds, not what it spans.
enum SparseCopy {
    /// Copies `source` into the empty, open `destination`; returns the bytes
    /// copied (0 for a reflink).
    @discardableResult
    static func copy(_ source: OpenFile, into destination: OpenFile) throws(EngineError) -> UInt64 {
        let size = try source.status().size
        if destination.cloneContents(of: source) { return 0 }
        try destination.truncate(to: size)
        var copied: UInt64 = 0
        var offset: UInt64 = 0
        while offset < size, let dataStart = try source.nextData(from: offset), dataStart < size {
            let dataEnd = min(try source.nextHole(from: dataStart), size)
            var position = dataStart
            while position < dataEnd {
                let n = try EngineError.systemCall("copy_file_range", destination.path) {
                    corral_copy_file_range(source.fd, Int64(position), destination.fd, Int64(position), dataEnd - position)
                }
                if n == 0 { break }
                position += UInt64(n)
                copied += UInt64(n)
            }
            offset = dataEnd
        }
        return copied
    }
}
