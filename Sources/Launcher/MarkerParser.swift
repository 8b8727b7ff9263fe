/// Finds nonce-tagged marker lines in a console byte stream and passes
/// everything else on, byte for byte.
///
/// One framing rule serves both protocols on the console: hostfs-init's
/// (`START`, `EXIT n`, read by ``ConsoleDemux``) and the maintenance steps'
/// (`READY`, `STEP … BEGIN`, …, read by Maintenance's `StepMonitor`). A
/// producer writes every marker as
///
///     "\n" + "CORRAL-<nonce> " + body + "\n"
///
/// in one write. The leading line break puts the marker at a line start
/// whatever the output before it ended with; the trailing one ends it. The
/// parser removes exactly those two line breaks (each as `\r*\n`, as a pty
/// gives them) and the marker line, so the text around markers is
/// concatenated unchanged: output without a final newline stays without
/// one, and empty lines the command printed stay.
///
/// A marker counts only at a line start (the stream's start, right after a
/// line break, or right after another marker) and only with this parser's
/// nonce, so nothing that merely quotes a marker mid-line can fake one.
///
/// A line break at the end of what has arrived may be the framing of a
/// marker still to come, so it is held back until the next bytes show what
/// follows it (or ``flushIdle()`` releases it); so is a line start that may
/// still become a marker, and trailing carriage returns.
public struct MarkerParser: Sendable {
    public enum Piece<Marker> {
        /// Ordinary bytes, unchanged.
        case text([UInt8])
        /// A marker line, framing removed, as the caller's grammar read it.
        case marker(Marker)
    }

    /// `CORRAL-<nonce> `: what every marker line starts with.
    public let prefix: [UInt8]
    /// A line that starts like a marker but runs longer than this without a
    /// line break is ordinary text, so the held-back bytes stay bounded.
    public let longestLine: Int
    private var buffer: [UInt8] = []
    /// Whether `buffer[0]` begins a line.
    private var atLineStart = true

    public init(nonce: String, longestLine: Int = 64 * 1024) {
        prefix = Array(Self.prefix(nonce: nonce).utf8)
        self.longestLine = longestLine
    }

    /// What every marker line with this nonce starts with.
    public static func prefix(nonce: String) -> String {
        "CORRAL-\(nonce) "
    }

    /// True while bytes are held back waiting for what follows them.
    public var isHolding: Bool { !buffer.isEmpty }

    /// Adds bytes; take what they complete with ``next(_:)``.
    public mutating func append(_ bytes: [UInt8]) {
        buffer += bytes
    }

    /// Appends `bytes` and returns every piece they complete.
    public mutating func feed<Marker>(_ bytes: [UInt8], _ grammar: (Substring) -> Marker?) -> [Piece<Marker>] {
        append(bytes)
        var pieces: [Piece<Marker>] = []
        while let piece = next(grammar) { pieces.append(piece) }
        return pieces
    }

    /// The next complete piece, or nil when what is left must wait for more
    /// bytes. `grammar` reads a marker line's body (the text after the
    /// prefix, without its line break); a body it refuses is ordinary text.
    /// Callers whose grammar changes with a marker (``ConsoleDemux``: START,
    /// then EXIT) pull one piece at a time.
    public mutating func next<Marker>(_ grammar: (Substring) -> Marker?) -> Piece<Marker>? {
        var lineStart: Int? = atLineStart ? 0 : lineStart(after: 0)
        while let start = lineStart {
            // The line break before this line: framing, if a marker follows.
            let framing = start > 0 ? breakStart(before: start) : 0
            let available = buffer.count - start
            if available < prefix.count {
                guard buffer[start...].elementsEqual(prefix.prefix(available)) else {
                    lineStart = self.lineStart(after: start)
                    continue
                }
                // Possibly a marker (or the framing of one) still arriving.
                return take(text: framing)
            }
            guard buffer[start..<(start + prefix.count)].elementsEqual(prefix) else {
                lineStart = self.lineStart(after: start)
                continue
            }
            guard let newline = buffer[(start + prefix.count)...].firstIndex(of: 10) else {
                if available > longestLine {
                    // Overlong: ordinary text, and so is the rest of the line.
                    return take(text: holdCarriageReturns(from: buffer.count), lineStartAfter: false)
                }
                return take(text: framing)
            }
            if newline - start <= longestLine {
                var bodyEnd = newline
                while bodyEnd > start + prefix.count && buffer[bodyEnd - 1] == 13 { bodyEnd -= 1 }
                let body = String(decoding: buffer[(start + prefix.count)..<bodyEnd], as: UTF8.self)
                if let marker = grammar(body[...]) {
                    // The text before the framing first; the marker on the next call.
                    if framing > 0 { return take(text: framing, lineStartAfter: false) }
                    buffer.removeSubrange(...newline)
                    atLineStart = true
                    return .marker(marker)
                }
            }
            lineStart = self.lineStart(after: start)
        }
        // No line start left to wait for: all text but trailing carriage
        // returns (the start of a line break, perhaps a marker's framing).
        return take(text: holdCarriageReturns(from: buffer.count))
    }

    /// After a quiet moment: a held line break alone is the command's own
    /// (a producer writes a marker's framing and the marker in one write),
    /// so it is released; a possible marker is not, nor carriage returns
    /// after the last line feed (whether they start a "\r\n" must not
    /// depend on timing).
    public mutating func flushIdle() -> [UInt8] {
        guard buffer.allSatisfy({ $0 == 10 || $0 == 13 }), let newline = buffer.lastIndex(of: 10) else { return [] }
        let released = Array(buffer[...newline])
        buffer.removeSubrange(...newline)
        atLineStart = true
        return released
    }

    /// The end of the stream: everything held is text (a marker line needs
    /// its closing line break).
    public mutating func finish() -> [UInt8] {
        let rest = buffer
        buffer.removeAll()
        if let last = rest.last { atLineStart = last == 10 }
        return rest
    }

    /// Removes and returns `buffer[..<end]` as text (nil when empty).
    private mutating func take<Marker>(text end: Int, lineStartAfter: Bool? = nil) -> Piece<Marker>? {
        guard end > 0 else { return nil }
        let text = Array(buffer[..<end])
        buffer.removeSubrange(..<end)
        atLineStart = lineStartAfter ?? (text.last == 10)
        return .text(text)
    }

    /// The index just past the next line feed at or after `index`.
    private func lineStart(after index: Int) -> Int? {
        buffer[index...].firstIndex(of: 10).map { $0 + 1 }
    }

    /// Start of the `\r*\n` that ends right before `index`.
    private func breakStart(before index: Int) -> Int {
        var start = index - 1
        while start > 0 && buffer[start - 1] == 13 { start -= 1 }
        return start
    }

    private func holdCarriageReturns(from end: Int) -> Int {
        var end = end
        while end > 0 && buffer[end - 1] == 13 { end -= 1 }
        return end
    }
}

extension MarkerParser.Piece: Equatable where Marker: Equatable {}
extension MarkerParser.Piece: Sendable where Marker: Sendable {}
