#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// How a backing file compares with what the COW header recorded. The kernel
/// checks exactly these two things, size first (spec §4.2e).
public struct BackingMatch: Sendable, Encodable, Equatable {
    public var path: String
    public var exists: Bool
    public var actualSize: UInt64?
    public var actualMtime: Int64?
    public var sizeMatches: Bool
    public var mtimeMatches: Bool
    public var matches: Bool { exists && sizeMatches && mtimeMatches }

    enum CodingKeys: String, CodingKey { case path, exists, actualSize, actualMtime, sizeMatches, mtimeMatches, matches }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(exists, forKey: .exists)
        try c.encode(actualSize, forKey: .actualSize)
        try c.encode(actualMtime, forKey: .actualMtime)
        try c.encode(sizeMatches, forKey: .sizeMatches)
        try c.encode(mtimeMatches, forKey: .mtimeMatches)
        try c.encode(matches, forKey: .matches)
    }

    public init(path: String, header: COWHeader, status: FileStatus?) {
        self.path = path
        self.exists = status != nil
        self.actualSize = status?.size
        self.actualMtime = status?.mtime
        self.sizeMatches = status?.size == header.size
        // The header's u32 is widened without sign and compared with the full
        // 64-bit mtime, so negative or ≥ 2^32 mtimes never match (§1.7).
        self.mtimeMatches = status.map { Int64(header.mtime) == $0.mtime } ?? false
    }
}

extension COWFile {
    public func backingMatch(override: String? = nil) throws(EngineError) -> BackingMatch {
        let path = backingPath(override: override)
        return BackingMatch(path: path, header: header, status: try FileStatus.of(path))
    }

    /// Opens the backing file after the kernel's own checks. With `force`, a
    /// size or mtime mismatch is accepted (the caller knows better), but a
    /// missing file never is.
    public func openBacking(override: String?, force: Bool, writable: Bool = false) throws(EngineError) -> OpenFile {
        let path = backingPath(override: override)
        guard try FileStatus.of(path) != nil else {
            throw .backingMissing(backing: path, cow: self.path)
        }
        if override == nil, let reason = BackingPolicy.objection(backing: path, cow: self) {
            throw .backingRefused(backing: path, cow: self.path, reason: reason)
        }
        let backing = try OpenFile(path, flags: writable ? O_RDWR : O_RDONLY)
        let status = try backing.status()
        if status.isSameFile(as: self.status) {
            throw .invalidArgument("\(path): the backing file is the COW file itself")
        }
        if !force {
            if status.size != header.size {
                throw .backingSizeMismatch(backing: path, header: header.size, actual: status.size)
            }
            if Int64(header.mtime) != status.mtime {
                throw .backingMtimeMismatch(backing: path, header: header.mtime, actual: status.mtime)
            }
        }
        return backing
    }
}
