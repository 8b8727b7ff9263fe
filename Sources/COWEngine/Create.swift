#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Creates a new, empty COW file over a backing file (`uml_mkcow`, done right).
public enum Create {
    public struct Result: Sendable, Encodable {
        public var path: String
        public var backingFile: String
        public var size: UInt64
        public var dataOffset: UInt64
        public var fileLength: UInt64
        public var warnings: [String]
    }

    /// - Parameters:
    ///   - force: replace an existing file with a truly empty COW (uml_mkcow -f keeps old bits, §5.2).
    ///   - fingerprint: record a digest of the backing's content after the
    ///     path's NUL (``BackingFingerprint``) so `check --deep` can detect a
    ///     changed backing; costs one read of the backing's data.
    public static func run(cow: String, backing: String, force: Bool = false,
                           fingerprint: Bool = true) throws(EngineError) -> Result {
        let stamp = try BackingStamp.of(backing, missing: .backingMissing(backing: backing, cow: cow))
        let status = stamp.status
        let stored = stamp.storedPath
        let print = fingerprint
            ? try BackingFingerprint.compute(try OpenFile(backing, flags: O_RDONLY), storedPath: stored) : nil
        let header = stamp.header(remainder: print?.encoded ?? [])
        let geometry: COWGeometry
        let bytes: [UInt8]
        do {
            geometry = try COWGeometry(header: header)
            bytes = try header.encode()
        } catch {
            throw .format(path: backing, error)
        }
        if let existing = try FileStatus.of(cow), existing.isRegular, force {
            // Never replace a COW that a running UML has open.
            let file = try OpenFile(cow, flags: O_RDONLY)
            if let pid = file.lockHolder(conflictingWith: .write) { throw .inUse(path: cow, pid: pid) }
        }
        let out = try AtomicOutput(path: cow, replace: force, inputs: [(status, "backing file")])
        try out.file.write(bytes, at: 0)
        // Exactly data_offset + size, sparse: what the kernel makes (§3.3).
        try out.file.truncate(to: max(geometry.createdFileLength, UInt64(bytes.count)))
        try out.commit()

        var warnings: [String] = []
        if geometry.bitmapLength <= 8 && status.size > 0 {
            warnings.append("backing is \(status.size) bytes (≤ 32 KiB): the 6.1 kernel hangs on the first write to such a small COW disk")
        }
        if stored.contains(",") || stored.contains(":") {
            warnings.append("backing path contains ',' or ':': attach this COW as ubdN=COW without naming the backing on the kernel command line")
        }
        return Result(path: cow, backingFile: stored, size: status.size, dataOffset: geometry.dataOffset,
                      fileLength: geometry.createdFileLength, warnings: warnings)
    }
}
