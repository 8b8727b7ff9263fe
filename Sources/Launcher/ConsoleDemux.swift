/// Splits the console byte stream into kernel text and the command's output,
/// using hostfs-init's nonce markers.
///
/// hostfs-init prints `CORRAL-<nonce> START` before the command and
/// `CORRAL-<nonce> EXIT <status>` after it, each framed as ``MarkerParser``
/// describes (a line break before and after, both removed), so the output
/// is what the command wrote, byte for byte. The nonce is random per boot,
/// and a marker only counts at the start of a line, so kernel messages
/// cannot end a command or fake its status.
public struct ConsoleDemux: Sendable {
    public enum Event: Sendable, Equatable {
        /// Console text outside the command: kernel messages, init's own lines.
        case kernel([UInt8])
        /// What the command (or the shell) wrote.
        case output([UInt8])
        /// hostfs-init is about to run the command.
        case started
        /// The command ended with this status (0–255).
        case exited(Int32)
    }

    public enum Phase: Sendable, Equatable { case boot, command, finished }

    /// hostfs-init's two markers, each recognised in its own phase only.
    private enum InitMarker {
        case start
        case exit(Int32)

        static func start(_ body: Substring) -> InitMarker? {
            body == "START" ? .start : nil
        }

        /// `EXIT` and the status's digits (none or too many read as 255,
        /// as a status that cannot be trusted to be 0).
        static func exit(_ body: Substring) -> InitMarker? {
            guard body.hasPrefix("EXIT ") else { return nil }
            let digits = body.dropFirst(5)
            guard digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
            return .exit(min(Int32(digits.prefix(3)) ?? 255, 255))
        }
    }

    public private(set) var phase: Phase
    /// Nil when init prints no markers (a custom `--init`): every byte is output.
    private var parser: MarkerParser?
    private let unframed: Stream
    /// Turn "\r\n" (and "\r\r\n" from UML's own output processing) into "\n".
    private let normalizeNewlines: Bool
    /// Outside the markers' phases: trailing carriage returns, whose "\n"
    /// may be in the next read.
    private var carriageReturns = 0

    /// - Parameters:
    ///   - nonce: the per-boot nonce; nil when init prints no markers (a custom
    ///     `--init`), and every byte is output.
    ///   - normalizeNewlines: for a pipe or file, not for a raw terminal.
    public init(nonce: String?, normalizeNewlines: Bool) {
        parser = nonce.map { MarkerParser(nonce: $0) }
        unframed = nonce == nil ? .output : .kernel
        phase = nonce == nil ? .command : .boot
        self.normalizeNewlines = normalizeNewlines
    }

    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        var events: [Event] = []
        guard phase != .finished, var markers = parser.take() else {
            emitUnframed(bytes, &events)
            return events
        }
        defer { parser = markers }
        markers.append(bytes)
        while phase != .finished, let piece = markers.next(phase == .boot ? InitMarker.start : InitMarker.exit) {
            switch piece {
            case .text(let text):
                emit(phase == .boot ? .kernel : .output, text, &events)
            case .marker(.start):
                events.append(.started)
                phase = .command
            case .marker(.exit(let status)):
                events.append(.exited(status))
                phase = .finished
                emitUnframed(markers.finish(), &events)
            }
        }
        return events
    }

    /// True while bytes are held back waiting for what follows them.
    public var isHolding: Bool { parser?.isHolding == true || carriageReturns > 0 }

    /// Releases a held line break once the console has been quiet for a
    /// moment. hostfs-init writes a marker and its framing in one write, so
    /// a line break that sits alone is the command's own: without this,
    /// `echo waiting; sleep 5` would show its newline only after the sleep.
    /// Trailing carriage returns stay held: whether they end up in a
    /// "\r\n" (which normalizing turns into "\n") must not depend on timing.
    public mutating func flushIdle() -> [Event] {
        var events: [Event] = []
        if phase != .finished, let held = parser?.flushIdle() {
            emit(phase == .boot ? .kernel : .output, held, &events)
        }
        return events
    }

    /// Everything still held back, at the end of the stream.
    public mutating func finish() -> [Event] {
        var events: [Event] = []
        if phase != .finished, let held = parser?.finish() {
            emit(phase == .boot ? .kernel : .output, held, &events)
        }
        releaseCarriageReturns(&events)
        return events
    }

    private enum Stream { case kernel, output }

    /// The stream outside the markers' phases: after EXIT (kernel text) or
    /// without a nonce (output), holding trailing carriage returns only.
    private mutating func emitUnframed(_ bytes: [UInt8], _ events: inout [Event]) {
        guard !bytes.isEmpty else { return }
        let text = [UInt8](repeating: 13, count: carriageReturns) + bytes
        var end = text.count
        while end > 0 && text[end - 1] == 13 { end -= 1 }
        carriageReturns = text.count - end
        emit(unframed, Array(text[..<end]), &events)
    }

    private mutating func releaseCarriageReturns(_ events: inout [Event]) {
        guard carriageReturns > 0 else { return }
        let held = [UInt8](repeating: 13, count: carriageReturns)
        carriageReturns = 0
        emit(unframed, held, &events)
    }

    private func emit(_ stream: Stream, _ bytes: [UInt8], _ events: inout [Event]) {
        guard !bytes.isEmpty else { return }
        let out = normalizeNewlines ? ConsoleDemux.normalize(bytes[...]) : bytes
        events.append(stream == .kernel ? .kernel(out) : .output(out))
    }

    static func normalize(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var carriageReturns = 0
        for byte in bytes {
            if byte == 13 { carriageReturns += 1; continue }
            if byte != 10 { out += repeatElement(13, count: carriageReturns) }
            carriageReturns = 0
            out.append(byte)
        }
        out += repeatElement(13, count: carriageReturns)
        return out
    }
}
