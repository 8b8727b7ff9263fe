#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// What a new or rewritten COW header records about its backing file: the
/// absolute path (§4.4), the size and the mtime the kernel will compare at
/// every open (§4.2e). Shared by the commands that write headers, so they
/// all refuse the same unusable backings.
struct BackingStamp {
    let path: String
    let status: FileStatus
    /// The path as the header stores it.
    let storedPath: String

    /// - Parameter missing: the error for a path that does not exist.
    static func of(_ backing: String, missing: EngineError) throws(EngineError) -> BackingStamp {
        guard let status = try FileStatus.of(backing) else { throw missing }
        guard status.isRegular || status.isBlockDevice else {
            throw .invalidArgument("\(backing): not a regular file or block device")
        }
        // The header stores mtime as u32 seconds; anything else can never match (§1.7).
        guard status.mtime >= 0 && status.mtime <= Int64(UInt32.max) else {
            throw .mtimeUnrepresentable(backing: backing, mtime: status.mtime)
        }
        let stored = PathResolution.headerPath(for: backing)
        guard stored.utf8.count <= 4095 else { throw .pathTooLong(path: stored, length: stored.utf8.count) }
        return BackingStamp(path: backing, status: status, storedPath: stored)
    }

    /// A header naming this backing: `layout` and alignment are kept from an
    /// existing header on rebase; a new COW gets what the kernel writes
    /// (v3, 512-byte sectors, 4096 alignment).
    func header(layout: COWLayout = .v3, alignment: UInt32 = 4096, remainder: [UInt8] = []) -> COWHeader {
        COWHeader(layout: layout, mtime: UInt32(status.mtime), size: status.size,
                  sectorSize: 512, alignment: alignment, backingPath: Array(storedPath.utf8),
                  pathFieldRemainder: remainder)
    }
}
