/// Why a byte buffer is not a usable COW header or geometry.
///
/// Messages are short and lowercase so the engine and the CLI can prefix
/// them with the file name.
public enum COWFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer than 8 bytes: no magic and version to look at.
    case shortHeader(length: Int)
    /// The first four bytes are neither "OOOM" nor "MOOO".
    case badMagic(UInt32)
    /// A version other than 1, 2 or 3.
    case unknownVersion(UInt32)
    /// The file ends inside the header of the detected layout.
    case truncatedHeader(layout: COWLayout, length: Int)
    /// The backing path field has no NUL terminator.
    case unterminatedPath(layout: COWLayout)
    /// Alignment 0: the kernel divides by it and panics (spec §1.7).
    case zeroAlignment
    /// Sector size 0 makes the geometry undefined.
    case zeroSectorSize
    /// The data area would start past 2^31 − 1: no kernel or tool can address it (spec §2.2).
    case geometryTooLarge(size: UInt64)
    /// The backing path does not fit the header's path field.
    case pathTooLong(length: Int, maximum: Int)
    /// An empty path cannot be stored in a v3 header (it would read back as broken v3, §1.6).
    case emptyPath

    public var description: String {
        switch self {
        case .shortHeader(let n):
            "not a UML COW file: only \(n) bytes, too short for a header"
        case .badMagic(let m):
            "not a UML COW file: it does not start with a COW header (its first 4 bytes are 0x\(String(m, radix: 16, uppercase: true)), a COW's are 'OOOM')"
        case .unknownVersion(let v):
            "unknown COW version \(v) (only 1, 2 and 3 exist)"
        case .truncatedHeader(let layout, let n):
            "truncated \(layout.rawValue) header: \(n) of \(layout.headerLength) bytes"
        case .unterminatedPath(let layout):
            "backing path in the \(layout.rawValue) header has no terminating NUL"
        case .zeroAlignment:
            "alignment is 0 (the kernel would divide by zero and panic)"
        case .zeroSectorSize:
            "sector size is 0"
        case .geometryTooLarge(let size):
            "backing size \(size) is too large: the data offset would pass the kernel's 31-bit limit (~8 TiB)"
        case .pathTooLong(let n, let max):
            "backing path is \(n) bytes; the header holds at most \(max)"
        case .emptyPath:
            "backing path is empty"
        }
    }
}
