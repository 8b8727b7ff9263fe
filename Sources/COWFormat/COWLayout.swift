/// The four on-disk header layouts a UML COW file can have (spec §1).
///
/// The version number alone does not identify the layout: version 3 exists
/// in a correct packed form and in the "broken" unpacked form written by
/// 64-bit builds before December 2005, told apart by bytes 32..35 (§1.6).
public enum COWLayout: String, Sendable, Codable, CaseIterable {
    case v1
    case v2
    case v3
    case v3Broken = "v3-broken"

    /// The version number stored in the header.
    public var version: UInt32 {
        switch self {
        case .v1: 1
        case .v2: 2
        case .v3, .v3Broken: 3
        }
    }

    /// Bytes the header occupies; a file shorter than this is not a valid COW
    /// of this layout (the kernel fails with EINVAL).
    public var headerLength: Int {
        switch self {
        case .v1: 280
        case .v2: 4120
        case .v3: 4128
        case .v3Broken: 4136
        }
    }

    /// Length of the NUL-terminated backing path field.
    public var pathFieldLength: Int {
        self == .v1 ? 256 : 4096
    }

    /// Offset of the backing path field.
    public var pathFieldOffset: Int {
        switch self {
        case .v1, .v2: 8
        case .v3: 32
        case .v3Broken: 36
        }
    }

    /// Whether the layout stores its own alignment (v1/v2 align to the sector size).
    public var hasAlignmentField: Bool { self == .v3 || self == .v3Broken }

    /// The largest header any layout has: readers fetch this many bytes.
    public static let maximumHeaderLength = 4136

    /// Where the layout keeps its fixed fields: the one table that
    /// ``COWHeader/decode(_:)`` and ``COWHeader/encode()`` both read.
    var fields: FieldOffsets {
        switch self {
        // v1 fields are host order and never byte-swapped, whatever the magic (§1.2).
        case .v1: FieldOffsets(order: .little, mtime: 264, size: 268, sectorSize: 276)
        case .v2: FieldOffsets(order: .big, mtime: 4104, size: 4108, sectorSize: 4116)
        case .v3: FieldOffsets(order: .big, mtime: 8, size: 12, sectorSize: 20, alignment: 24, cowFormat: 28)
        // Bytes 12..15 are struct padding (garbage); mtime is only bytes 8..11 (§1.5).
        case .v3Broken: FieldOffsets(order: .big, mtime: 8, size: 16, sectorSize: 24, alignment: 28, cowFormat: 32)
        }
    }

    /// Byte offsets of a layout's fixed fields, after the magic (offset 0)
    /// and the version (offset 4), which are in the same byte order.
    struct FieldOffsets {
        var order: ByteOrder
        var mtime: Int
        var size: Int
        var sectorSize: Int
        /// v3 layouts only; v1/v2 align to the sector size.
        var alignment: Int? = nil
        var cowFormat: Int? = nil
    }
}
