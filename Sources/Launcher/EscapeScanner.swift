/// Watches interactive keyboard input for the escape sequence Ctrl-] then q,
/// which stops the guest. In raw mode Ctrl-C belongs to the guest, so the user
/// needs a way out that the guest cannot swallow. Ctrl-] twice sends one
/// Ctrl-] to the guest; Ctrl-] then any other key sends both.
public struct EscapeScanner: Sendable {
    public static let escapeByte: UInt8 = 0x1d
    private var armed = false

    public init() {}

    /// Returns the bytes to forward to the guest, and whether to stop.
    public mutating func scan(_ bytes: [UInt8]) -> (forward: [UInt8], stop: Bool) {
        var forward: [UInt8] = []
        for byte in bytes {
            if armed {
                armed = false
                switch byte {
                case UInt8(ascii: "q"), UInt8(ascii: "Q"): return (forward, true)
                case EscapeScanner.escapeByte: forward.append(byte)
                default: forward += [EscapeScanner.escapeByte, byte]
                }
            } else if byte == EscapeScanner.escapeByte {
                armed = true
            } else {
                forward.append(byte)
            }
        }
        return (forward, false)
    }
}
