/// A decoded UML COW header, any layout (spec §1).
///
/// Decoding is total: every buffer either yields a header or a
/// ``COWFormatError``, and nothing is allocated in proportion to a field's
/// value. Semantic limits that the kernel does not enforce at parse time
/// (sector size other than 512, a backing mtime it can never match) are left
/// to ``COWGeometry`` and to the engine's check, so `info` can still show a
/// header that `check` then explains.
public struct COWHeader: Sendable, Equatable {
    /// Magic constant 0x4F4F4F4D: "OOOM" when stored big-endian.
    public static let magic: UInt32 = 0x4F4F_4F4D

    public var layout: COWLayout
    /// Backing file mtime in whole seconds, an unsigned 32-bit value (§1.7).
    public var mtime: UInt32
    /// Exact size of the backing file in bytes; need not be a sector multiple.
    public var size: UInt64
    public var sectorSize: UInt32
    /// Rounding unit for the bitmap and data offsets. v1/v2 have no field and
    /// align to ``sectorSize``.
    public var alignment: UInt32
    /// Never checked by any reader; 0 is the only defined value.
    public var cowFormat: UInt32
    /// The backing path, up to (not including) the first NUL.
    public var backingPath: [UInt8]
    /// The path field after the path's NUL. The kernel leaves slab garbage
    /// there and ignores it; corral stores a backing fingerprint in it.
    public var pathFieldRemainder: [UInt8]

    public init(
        layout: COWLayout = .v3,
        mtime: UInt32,
        size: UInt64,
        sectorSize: UInt32 = 512,
        alignment: UInt32 = 4096,
        cowFormat: UInt32 = 0,
        backingPath: [UInt8],
        pathFieldRemainder: [UInt8] = []
    ) {
        self.layout = layout
        self.mtime = mtime
        self.size = size
        self.sectorSize = sectorSize
        self.alignment = layout.hasAlignmentField ? alignment : sectorSize
        self.cowFormat = cowFormat
        self.backingPath = backingPath
        self.pathFieldRemainder = pathFieldRemainder
    }

    /// The backing path as text (paths are bytes; invalid UTF-8 is repaired for display).
    public var backingPathString: String {
        String(decoding: backingPath, as: UTF8.self)
    }

    /// Decodes the header at the start of `bytes` (pass up to
    /// ``COWLayout/maximumHeaderLength`` bytes from offset 0; fewer at EOF).
    public static func decode(_ input: some Collection<UInt8>) throws(COWFormatError) -> COWHeader {
        let bytes = Array(input.prefix(COWLayout.maximumHeaderLength))
        guard bytes.count >= 8 else { throw .shortHeader(length: bytes.count) }

        let stored = bytes.readInteger(UInt32.self, at: 0, .big)
        let versionOrder: ByteOrder
        if stored == magic {
            versionOrder = .big
        } else if stored == magic.byteSwapped {
            // Magic in host order: the version is host order too (§1.1).
            versionOrder = .little
        } else {
            throw .badMagic(stored)
        }

        let layout: COWLayout
        switch bytes.readInteger(UInt32.self, at: 4, versionOrder) {
        case 1: layout = .v1
        case 2: layout = .v2
        case 3:
            // Correct v3 has the path at 32; broken v3 has cow_format (always 0) there (§1.6).
            guard bytes.count >= 36 else { throw .truncatedHeader(layout: .v3, length: bytes.count) }
            layout = bytes[32..<36].allSatisfy({ $0 == 0 }) ? .v3Broken : .v3
        case let other:
            throw .unknownVersion(other)
        }
        guard bytes.count >= layout.headerLength else {
            throw .truncatedHeader(layout: layout, length: bytes.count)
        }

        let pathField = bytes[layout.pathFieldOffset..<(layout.pathFieldOffset + layout.pathFieldLength)]
        guard let nul = pathField.firstIndex(of: 0) else { throw .unterminatedPath(layout: layout) }
        let path = Array(pathField[pathField.startIndex..<nul])
        let remainder = Array(pathField[(nul + 1)...])

        let field = layout.fields
        let sectorSize = bytes.readInteger(UInt32.self, at: field.sectorSize, field.order)
        return COWHeader(
            layout: layout,
            mtime: bytes.readInteger(UInt32.self, at: field.mtime, field.order),
            size: bytes.readInteger(UInt64.self, at: field.size, field.order),
            sectorSize: sectorSize,
            alignment: field.alignment.map { bytes.readInteger(UInt32.self, at: $0, field.order) } ?? sectorSize,
            cowFormat: field.cowFormat.map { bytes.readInteger(UInt32.self, at: $0, field.order) } ?? 0,
            backingPath: path, pathFieldRemainder: remainder)
    }

    /// Encodes the header in its layout, `layout.headerLength` bytes.
    ///
    /// The path field is the path, a NUL, then ``pathFieldRemainder``
    /// (truncated to fit), then zeros: unlike the kernel, corral never
    /// leaves uninitialised bytes in a header.
    public func encode() throws(COWFormatError) -> [UInt8] {
        guard !backingPath.isEmpty else { throw .emptyPath }
        guard !backingPath.contains(0) else { throw .pathTooLong(length: backingPath.count, maximum: layout.pathFieldLength - 1) }
        guard backingPath.count <= layout.pathFieldLength - 1 else {
            throw .pathTooLong(length: backingPath.count, maximum: layout.pathFieldLength - 1)
        }
        var out = [UInt8](repeating: 0, count: layout.headerLength)
        let pathAt = layout.pathFieldOffset
        out.replaceSubrange(pathAt..<(pathAt + backingPath.count), with: backingPath)
        let room = layout.pathFieldLength - backingPath.count - 1
        let extra = pathFieldRemainder.prefix(room)
        let extraAt = pathAt + backingPath.count + 1
        out.replaceSubrange(extraAt..<(extraAt + extra.count), with: extra)

        let field = layout.fields
        out.writeInteger(Self.magic, at: 0, field.order)
        out.writeInteger(layout.version, at: 4, field.order)
        out.writeInteger(mtime, at: field.mtime, field.order)
        out.writeInteger(size, at: field.size, field.order)
        out.writeInteger(sectorSize, at: field.sectorSize, field.order)
        if let offset = field.alignment { out.writeInteger(alignment, at: offset, field.order) }
        // Broken v3 is told from v3 by a zero cow_format where v3's path starts (§1.6).
        if let offset = field.cowFormat { out.writeInteger(layout == .v3Broken ? 0 : cowFormat, at: offset, field.order) }
        return out
    }
}
