/// The last lines of some output, kept to explain a failure (the failed
/// step's tail in the report). Bytes arrive in pieces of any size; a line
/// is complete at its line break, and the unfinished one counts as a line
/// too (a marker or the end of the stream ends it for the reader).
struct OutputTail: Sendable {
    static let lineCount = 30
    /// A line longer than this is kept in pieces of this size.
    static let longestLine = 64 * 1024

    private var complete: [String] = []
    private var partial: [UInt8] = []

    var lines: [String] {
        partial.isEmpty ? complete : Array((complete + [String(decoding: partial, as: UTF8.self)]).suffix(Self.lineCount))
    }

    mutating func append(_ bytes: [UInt8]) {
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 10) {
            partial += bytes[start..<newline]
            endLine()
            start = newline + 1
        }
        partial += bytes[start...]
        if partial.count >= Self.longestLine { endLine() }
    }

    private mutating func endLine() {
        complete.append(String(decoding: partial, as: UTF8.self))
        partial.removeAll(keepingCapacity: true)
        if complete.count > Self.lineCount { complete.removeFirst() }
    }
}
