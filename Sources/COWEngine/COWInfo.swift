#if canImport(Glibc)
import Glibc
#endif
import COWFormat

/// Everything `corral cow info` shows. The JSON keys are part of corral's
/// interface (documented in corral-cow(1)): rename nothing.
public struct COWInfo: Sendable, Encodable {
    public var path: String
    /// "v1", "v2", "v3" or "v3-broken".
    public var version: String
    public var versionNumber: UInt32
    public var backingFile: String
    /// Header values.
    public var size: UInt64
    public var mtime: UInt32
    public var sectorSize: UInt32
    public var alignment: UInt32
    public var headerLength: Int
    public var bitmapOffset: UInt64
    public var bitmapLength: UInt64
    public var dataOffset: UInt64
    public var sectorCount: UInt64
    /// The COW file itself.
    public var fileLength: UInt64
    public var allocatedBytes: UInt64
    public var dirtySectors: UInt64
    public var dirtyBytes: UInt64
    public var mixedPages: UInt64
    public var backing: BackingMatch
    /// Pid of a process (normally a running UML) holding the COW open for writing.
    public var inUseBy: Int32?

    public static func read(path: String, backing: String? = nil) throws(EngineError) -> COWInfo {
        let cow = try COWFile(path: path)
        let survey = try BitmapSurvey(cow)
        let g = cow.geometry
        let h = cow.header
        return COWInfo(
            path: path, version: h.layout.rawValue, versionNumber: h.layout.version,
            backingFile: h.backingPathString, size: h.size, mtime: h.mtime,
            sectorSize: h.sectorSize, alignment: h.alignment, headerLength: h.layout.headerLength,
            bitmapOffset: g.bitmapOffset, bitmapLength: g.bitmapLength, dataOffset: g.dataOffset,
            sectorCount: g.sectorCount, fileLength: cow.status.size, allocatedBytes: cow.status.allocated,
            dirtySectors: survey.dirtySectors, dirtyBytes: survey.dirtyBytes, mixedPages: survey.mixedPages,
            backing: try cow.backingMatch(override: backing),
            inUseBy: cow.file.lockHolder(conflictingWith: .read))
    }
}
