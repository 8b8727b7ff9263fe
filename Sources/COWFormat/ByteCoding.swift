/// Fixed-width integer access on byte buffers, in the two byte orders the
/// COW layouts use (v1: host order, which is little-endian on every host
/// that runs UML today; v2/v3: big-endian).
enum ByteOrder: Sendable {
    case big
    case little
}

extension Array where Element == UInt8 {
    func readInteger<T: FixedWidthInteger>(_: T.Type, at offset: Int, _ order: ByteOrder) -> T {
        var value: T = 0
        let width = MemoryLayout<T>.size
        for i in 0..<width {
            let byte = T(self[offset + i])
            switch order {
            case .big: value |= byte << ((width - 1 - i) * 8)
            case .little: value |= byte << (i * 8)
            }
        }
        return value
    }

    mutating func writeInteger<T: FixedWidthInteger>(_ value: T, at offset: Int, _ order: ByteOrder) {
        let width = MemoryLayout<T>.size
        for i in 0..<width {
            let shift = order == .big ? (width - 1 - i) * 8 : i * 8
            self[offset + i] = UInt8(truncatingIfNeeded: value >> shift)
        }
    }
}
