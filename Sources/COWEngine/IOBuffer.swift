import CCorralShim

/// A page-aligned scratch buffer of fixed size: the engine's memory use is
/// a few of these, never proportional to the image.
final class IOBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(size: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    }

    deinit { bytes.deallocate() }

    var count: Int { bytes.count }

    func slice(_ offset: Int, _ length: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
    }

    func zero(_ offset: Int, _ length: Int) {
        guard length > 0 else { return }
        (bytes.baseAddress! + offset).initializeMemory(as: UInt8.self, repeating: 0, count: length)
    }

    static func isZero(_ buffer: UnsafeRawBufferPointer) -> Bool {
        buffer.count == 0 || corral_is_zero(buffer.baseAddress, buffer.count) != 0
    }
}
