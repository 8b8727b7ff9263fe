/// Splits the console byte stream into kernel text and the command's output,
/// using hostfs-init's nonce markers.
///
/// hostfs-init prints `CORRAL-<nonce> START` on a line of its own before the
/// command, and `\nCORRAL-<nonce> EXIT <status>` after it. The nonce is random
/// per boot, and a marker only counts at the start of a line, so kernel
/// messages cannot end a command or fake its status. The newline hostfs-init
/// puts before the EXIT marker is not part of the output; to strip exactly
/// that one, a trailing line break is held back until the next bytes show
/// what follows it.
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

    public private(set) var phase: Phase
    private let startMarker: [UInt8]?
    private let exitMarker: [UInt8]?
    /// Turn "\r\n" (and "\r\r\n" from UML's own output processing) into "\n".
    private let normalizeNewlines: Bool
    private var pending: [UInt8] = []
    private var atLineStart = true

    /// - Parameters:
    ///   - nonce: the per-boot nonce; nil when init prints no markers (a custom
    ///     `--init`), and every byte is output.
    ///   - normalizeNewlines: for a pipe or file, not for a raw terminal.
    public init(nonce: String?, normalizeNewlines: Bool) {
        if let nonce {
            startMarker = Array("CORRAL-\(nonce) START".utf8)
            exitMarker = Array("CORRAL-\(nonce) EXIT ".utf8)
            phase = .boot
        } else {
            startMarker = nil
            exitMarker = nil
            phase = .command
        }
        self.normalizeNewlines = normalizeNewlines
    }

    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        pending += bytes
        var events: [Event] = []
        var progressed = true
        while progressed {
            progressed = false
            switch phase {
            case .boot: progressed = scanBoot(&events)
            case .command: progressed = scanCommand(&events)
            case .finished:
                // Hold trailing carriage returns: their "\n" may be in the next read.
                var hold = pending.count
                while hold > 0 && pending[hold - 1] == 13 { hold -= 1 }
                emit(.kernel, pending[..<hold], &events)
                pending.removeSubrange(..<hold)
            }
        }
        return events
    }

    /// True while bytes are held back waiting for what follows them.
    public var isHolding: Bool { !pending.isEmpty }

    /// Releases a held line break once the console has been quiet for a
    /// moment. hostfs-init writes its "\n" and the EXIT marker in one write,
    /// so a line break that sits alone is the command's own: without this,
    /// `echo waiting; sleep 5` would show its newline only after the sleep.
    public mutating func flushIdle() -> [Event] {
        guard !pending.isEmpty, pending.allSatisfy({ $0 == 10 || $0 == 13 }) else { return [] }
        var events: [Event] = []
        emit(phase == .command ? .output : .kernel, pending, &events)
        pending.removeAll()
        return events
    }

    /// Everything still held back, at the end of the stream.
    public mutating func finish() -> [Event] {
        var events: [Event] = []
        emit(phase == .command ? .output : .kernel, pending, &events)
        pending.removeAll()
        return events
    }

    private enum Stream { case kernel, output }

    private mutating func emit(_ stream: Stream, _ bytes: ArraySlice<UInt8>, _ events: inout [Event]) {
        guard !bytes.isEmpty else { return }
        atLineStart = bytes.last == 10
        let out = normalizeNewlines ? ConsoleDemux.normalize(bytes) : Array(bytes)
        events.append(stream == .kernel ? .kernel(out) : .output(out))
    }

    private mutating func emit(_ stream: Stream, _ bytes: [UInt8], _ events: inout [Event]) {
        emit(stream, bytes[...], &events)
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

    /// Index of `marker` at a line start in `pending`, at or after `from`.
    private func findAtLineStart(_ marker: [UInt8], from: Int = 0) -> Int? {
        guard marker.count <= pending.count else { return nil }
        var i = from
        while i + marker.count <= pending.count {
            let lineStart = i == 0 ? atLineStart : pending[i - 1] == 10
            if lineStart && pending[i] == marker[0] && pending[i..<(i + marker.count)].elementsEqual(marker) {
                return i
            }
            i += 1
        }
        return nil
    }

    private enum LineEnd { case complete(Int), incomplete, notLineEnd }

    /// Whether "\r*\n" follows at `index`, and the index just past it.
    private func lineEnd(after index: Int) -> LineEnd {
        var j = index
        while j < pending.count && pending[j] == 13 { j += 1 }
        if j == pending.count { return .incomplete }
        return pending[j] == 10 ? .complete(j + 1) : .notLineEnd
    }

    /// Start of the line break right before a marker at `index` (the one
    /// hostfs-init adds), so it is not reported as output.
    private func breakStart(before index: Int) -> Int {
        guard index > 0, pending[index - 1] == 10 else { return index }
        var start = index - 1
        while start > 0 && pending[start - 1] == 13 { start -= 1 }
        return start
    }

    private func isPrefix(_ tail: ArraySlice<UInt8>, of marker: [UInt8]) -> Bool {
        tail.count < marker.count && tail.elementsEqual(marker.prefix(tail.count))
    }

    /// Where to stop emitting so that a possible marker line and the line
    /// break before it stay pending.
    private func holdStart(for marker: [UInt8], holdBreak: Bool) -> Int {
        if let newline = pending.lastIndex(of: 10), isPrefix(pending[(newline + 1)...], of: marker) {
            if !holdBreak { return newline + 1 }
            var start = newline
            while start > 0 && pending[start - 1] == 13 { start -= 1 }
            return start
        }
        if pending.lastIndex(of: 10) == nil && atLineStart && isPrefix(pending[...], of: marker) {
            return 0
        }
        var start = pending.count
        while start > 0 && pending[start - 1] == 13 { start -= 1 }
        return start
    }

    private mutating func scanBoot(_ events: inout [Event]) -> Bool {
        guard let marker = startMarker else { return false }
        var from = 0
        while let i = findAtLineStart(marker, from: from) {
            switch lineEnd(after: i + marker.count) {
            case .complete(let end):
                emit(.kernel, pending[..<i], &events)
                pending.removeSubrange(..<end)
                atLineStart = true
                events.append(.started)
                phase = .command
                return true
            case .incomplete:
                emit(.kernel, pending[..<i], &events)
                pending.removeSubrange(..<i)
                atLineStart = true
                return false
            case .notLineEnd:
                from = i + 1
            }
        }
        let hold = holdStart(for: marker, holdBreak: false)
        emit(.kernel, pending[..<hold], &events)
        pending.removeSubrange(..<hold)
        return false
    }

    private mutating func scanCommand(_ events: inout [Event]) -> Bool {
        guard let marker = exitMarker else {
            var hold = pending.count
            while hold > 0 && pending[hold - 1] == 13 { hold -= 1 }
            emit(.output, pending[..<hold], &events)
            pending.removeSubrange(..<hold)
            return false
        }
        var from = 0
        while let i = findAtLineStart(marker, from: from) {
            var digitsEnd = i + marker.count
            while digitsEnd < pending.count, (48...57).contains(pending[digitsEnd]) { digitsEnd += 1 }
            let digits = pending[(i + marker.count)..<digitsEnd]
            let outputEnd = breakStart(before: i)
            switch digits.isEmpty && digitsEnd < pending.count ? .notLineEnd : lineEnd(after: digitsEnd) {
            case .notLineEnd:
                from = i + 1
            case .incomplete:
                let lineStartFlag = atLineStart
                emit(.output, pending[..<outputEnd], &events)
                if outputEnd == 0 { atLineStart = lineStartFlag }
                pending.removeSubrange(..<outputEnd)
                return false
            case .complete(let end):
                emit(.output, pending[..<outputEnd], &events)
                let status = Int32(String(decoding: digits.prefix(3), as: UTF8.self)) ?? 255
                pending.removeSubrange(..<end)
                atLineStart = true
                events.append(.exited(min(status, 255)))
                phase = .finished
                return true
            }
        }
        let hold = holdStart(for: marker, holdBreak: true)
        emit(.output, pending[..<hold], &events)
        pending.removeSubrange(..<hold)
        return false
    }
}
