/// Where the bitmap and the data area of a COW file lie (spec §2).
///
/// Every quantity is 64-bit; construction fails rather than overflow, and
/// refuses geometries whose data offset passes the 31-bit limit that the
/// kernel, `uml_moo` and `uml_mkcow` all share (§2.2).
public struct COWGeometry: Sendable, Equatable, Codable {
    /// Image size in bytes (the header's size field).
    public let size: UInt64
    public let sectorSize: UInt64
    /// `ceil(size / sectorSize)`, counting a trailing partial sector.
    public let sectorCount: UInt64
    public let bitmapOffset: UInt64
    /// Bytes of bitmap the kernel loads. For v1/v2 this rounds *down* and can
    /// miss the last `sectorCount % 8` sectors (§2.1).
    public let bitmapLength: UInt64
    public let dataOffset: UInt64

    /// Largest data offset any implementation can address: `int` in the kernel.
    public static let maximumDataOffset: UInt64 = UInt64(Int32.max)

    public init(header: COWHeader) throws(COWFormatError) {
        guard header.sectorSize != 0 else { throw .zeroSectorSize }
        let ss = UInt64(header.sectorSize)
        let align: UInt64
        switch header.layout {
        case .v1, .v2: align = ss
        case .v3, .v3Broken:
            guard header.alignment != 0 else { throw .zeroAlignment }
            align = UInt64(header.alignment)
        }
        let size = header.size
        let sectors = size / ss + (size % ss == 0 ? 0 : 1)

        let bitmapOffset: UInt64
        let bitmapLength: UInt64
        switch header.layout {
        case .v1:
            bitmapOffset = 280
            bitmapLength = sectors / 8
        case .v2:
            bitmapOffset = 4120
            bitmapLength = sectors / 8
        case .v3:
            bitmapOffset = Self.roundUp(4128, align)
            bitmapLength = sectors / 8 + (sectors % 8 == 0 ? 0 : 1)
        case .v3Broken:
            bitmapOffset = Self.roundUp(4136, align)
            bitmapLength = sectors / 8 + (sectors % 8 == 0 ? 0 : 1)
        }
        // bitmapLength ≤ 2^61 and align ≤ 2^32, so these sums cannot overflow.
        let end = bitmapOffset + bitmapLength
        guard end + align - 1 <= Self.maximumDataOffset else { throw .geometryTooLarge(size: size) }

        self.size = size
        self.sectorSize = ss
        self.sectorCount = sectors
        self.bitmapOffset = bitmapOffset
        self.bitmapLength = bitmapLength
        self.dataOffset = Self.roundUp(end, align)
    }

    /// Length of a freshly created COW file: header and data area, with the
    /// one byte the kernel writes at `dataOffset + size − 1` (§3.3).
    public var createdFileLength: UInt64 { dataOffset + size }

    /// Sectors whose bits lie inside ``bitmapLength``. The rest (v1/v2 only)
    /// always read from the backing file.
    public var mappableSectors: UInt64 { min(sectorCount, bitmapLength * 8) }

    /// Byte offset in the COW file of the data for `sector`.
    public func dataOffset(ofSector sector: UInt64) -> UInt64 { dataOffset + sector * sectorSize }

    /// The image bytes `sector` covers: 512, or less for a partial last sector.
    public func imageLength(ofSector sector: UInt64) -> UInt64 {
        let start = sector * sectorSize
        return start >= size ? 0 : min(sectorSize, size - start)
    }

    static func roundUp(_ value: UInt64, _ align: UInt64) -> UInt64 {
        let r = value % align
        return r == 0 ? value : value + (align - r)
    }
}
