import Testing
import TestSupport
@testable import Launcher

/// The one framing rule (`"\n<marker>\n"`, both line breaks removed) over
/// random output: what is not a marker comes back byte for byte.
@Suite struct MarkerParserTests {
    let nonce = "0123abcd"
    let bodies = ["READY", "STEP copy BEGIN 5", "NOTE two  spaces", "DONE 0"]

    func grammar(_ body: Substring) -> String? {
        bodies.contains(String(body)) ? String(body) : nil
    }

    /// Feeds `reads`, asking for an idle flush after some writes (a writer
    /// pausing there); returns the text and the markers.
    func parse(_ reads: [(bytes: [UInt8], endsWrite: Bool)], idle: inout SeededGenerator) -> (text: [UInt8], markers: [String]) {
        var parser = MarkerParser(nonce: nonce)
        var text: [UInt8] = []
        var markers: [String] = []
        for read in reads {
            for piece in parser.feed(read.bytes, grammar) {
                switch piece {
                case .text(let bytes): text += bytes
                case .marker(let body): markers.append(body)
                }
            }
            if read.endsWrite && Bool.random(using: &idle) { text += parser.flushIdle() }
        }
        text += parser.finish()
        return (text, markers)
    }

    @Test func randomOutputAroundMarkersComesBackByteForByte() {
        let tokens = MarkedConsole.outputTokens(nonces: [nonce])
        for seed in UInt64(0)..<3000 {
            var rng = SeededGenerator(seed: seed)
            let console = MarkedConsole.random(nonce: nonce, bodies: bodies, tokens: tokens, writes: 10, using: &rng)
            // Half the runs as a cooked pty gives them: every "\n" as "\r\n".
            let cooked = Bool.random(using: &rng)
            let writes = console.writes.map { cooked ? MarkedConsole.onlcr(MarkedConsole.bytes(of: $0)) : MarkedConsole.bytes(of: $0) }
            let reads = MarkedConsole.reads(of: writes, using: &rng)
            let result = parse(reads, idle: &rng)
            let expected = cooked ? MarkedConsole.onlcr(console.output) : console.output
            #expect(result.text == expected, "seed \(seed): \(console.writes)")
            #expect(result.markers == console.markers, "seed \(seed): \(console.writes)")
        }
    }

    @Test func framingIsExactlyOneLineBreakEachSide() {
        var parser = MarkerParser(nonce: nonce)
        // The command's own empty lines and its missing final line break stay.
        let pieces = parser.feed(Array("a\n\n\nCORRAL-0123abcd READY\n\nb\nCORRAL-0123abcd DONE 0\nc".utf8), grammar)
        #expect(pieces == [.text(Array("a\n\n".utf8)), .marker("READY"), .text(Array("\nb".utf8)), .marker("DONE 0"), .text(Array("c".utf8))])
        #expect(!parser.isHolding)
        // At the start of the stream and right after a marker, a marker needs no line break before it.
        var start = MarkerParser(nonce: nonce)
        #expect(start.feed(Array("CORRAL-0123abcd READY\nCORRAL-0123abcd DONE 0\r\n".utf8), grammar) == [.marker("READY"), .marker("DONE 0")])
    }

    @Test func aLineBreakIsHeldUntilWhatFollowsIsKnown() {
        var parser = MarkerParser(nonce: nonce)
        #expect(parser.feed(Array("out\r\n".utf8), grammar) == [.text(Array("out".utf8))])
        #expect(parser.isHolding)
        // A possible marker is never released by an idle flush; a lone line break is.
        #expect(parser.feed(Array("CORRAL-01".utf8), grammar).isEmpty)
        #expect(parser.flushIdle().isEmpty)
        #expect(parser.feed(Array("23abcd DONE 0\r\n".utf8), grammar) == [.marker("DONE 0")])
        #expect(parser.feed(Array("\n".utf8), grammar).isEmpty)
        #expect(parser.flushIdle() == [10])
        #expect(!parser.isHolding)
    }

    /// A line that starts like a marker but never ends is passed on once it
    /// is longer than `longestLine`, and nothing in it is a marker.
    @Test func anOverlongMarkerLikeLineIsText() {
        var parser = MarkerParser(nonce: nonce, longestLine: 64)
        let long = Array("CORRAL-0123abcd NOTE ".utf8) + [UInt8](repeating: 120, count: 80)
        var text: [UInt8] = []
        for piece in parser.feed(long, grammar) {
            if case .text(let bytes) = piece { text += bytes }
        }
        #expect(text == long)
        #expect(!parser.isHolding)
        #expect(parser.feed(Array("CORRAL-0123abcd READY\n".utf8), grammar) == [.text(Array("CORRAL-0123abcd READY".utf8))])
        // A complete overlong line is text too; the next line is read again.
        var complete = MarkerParser(nonce: nonce, longestLine: 24)
        #expect(complete.feed(Array("CORRAL-0123abcd NOTE two  spaces\nCORRAL-0123abcd READY\n".utf8), grammar)
            == [.text(Array("CORRAL-0123abcd NOTE two  spaces".utf8)), .marker("READY")])
    }
}
