import Testing
import TestSupport
@testable import Launcher

@Suite struct ConsoleDemuxTests {
    let nonce = "0123abcd"

    /// Feeds `text` in chunks of every size from 1 to its length, so marker
    /// detection is checked across every possible read boundary.
    func demuxAllSplits(_ text: String, normalize: Bool = true) -> [(kernel: String, output: String, status: Int32?, started: Bool)] {
        let bytes = Array(text.utf8)
        var results: [(String, String, Int32?, Bool)] = []
        for size in 1...max(bytes.count, 1) {
            var demux = ConsoleDemux(nonce: nonce, normalizeNewlines: normalize)
            var kernel: [UInt8] = [], output: [UInt8] = []
            var status: Int32?
            var started = false
            var events: [ConsoleDemux.Event] = []
            var i = 0
            while i < bytes.count {
                events += demux.feed(Array(bytes[i..<min(i + size, bytes.count)]))
                i += size
            }
            events += demux.finish()
            for event in events {
                switch event {
                case .kernel(let b): kernel += b
                case .output(let b): output += b
                case .started: started = true
                case .exited(let s): status = s
                }
            }
            results.append((String(decoding: kernel, as: UTF8.self), String(decoding: output, as: UTF8.self), status, started))
        }
        return results
    }

    @Test func splitsKernelTextFromOutput() {
        // hostfs-init frames each marker as "\n<marker>\n" (a pty makes it "\r\n").
        let console = "boot msg\r\n\r\nCORRAL-0123abcd START\r\nhello\r\r\nworld\r\n\r\nCORRAL-0123abcd EXIT 42\r\nreboot: Power down\r\n"
        for r in demuxAllSplits(console) {
            #expect(r.kernel == "boot msg\nreboot: Power down\n")
            #expect(r.output == "hello\nworld\n")
            #expect(r.status == 42)
            #expect(r.started)
        }
    }

    @Test func outputWithoutFinalNewlineAndEmptyOutput() {
        for r in demuxAllSplits("CORRAL-0123abcd START\nno newline\nCORRAL-0123abcd EXIT 0\n") {
            #expect(r.output == "no newline")
            #expect(r.status == 0)
        }
        for r in demuxAllSplits("k\nCORRAL-0123abcd START\n\nCORRAL-0123abcd EXIT 1\n") {
            #expect(r.output == "")
            #expect(r.status == 1)
        }
    }

    @Test func markersMustBeAtLineStartAndCarryTheNonce() {
        // A kernel line quoting the command line, a wrong nonce, a marker mid-line.
        let console = "Kernel command line: corral_nonce=0123abcd\nCORRAL-ffff START\nx CORRAL-0123abcd START\n"
        for r in demuxAllSplits(console) {
            #expect(!r.started)
            #expect(r.kernel == console)
        }
        let fake = "CORRAL-0123abcd START\nsay CORRAL-0123abcd EXIT 3\nCORRAL-0123abcd EXIT 9x\n\nCORRAL-0123abcd EXIT 7\n"
        for r in demuxAllSplits(fake) {
            #expect(r.status == 7)
            #expect(r.output == "say CORRAL-0123abcd EXIT 3\nCORRAL-0123abcd EXIT 9x\n")
        }
    }

    @Test func idleFlushReleasesOnlyALoneLineBreak() {
        var demux = ConsoleDemux(nonce: nonce, normalizeNewlines: true)
        _ = demux.feed(Array("CORRAL-0123abcd START\nwaiting\r\n".utf8))
        #expect(demux.isHolding)
        #expect(demux.flushIdle() == [.output(Array("\n".utf8))])
        #expect(!demux.isHolding)
        // Later, hostfs-init's own "\n" before the marker is still not output.
        #expect(demux.feed(Array("done\r\n\r\nCORRAL-0123abcd EXIT 0\r\n".utf8))
            == [.output(Array("done\n".utf8)), .exited(0)])
        // A partial marker is never flushed as output.
        var partial = ConsoleDemux(nonce: nonce, normalizeNewlines: true)
        _ = partial.feed(Array("CORRAL-0123abcd START\nx\nCORRAL-01".utf8))
        #expect(partial.flushIdle().isEmpty)
        #expect(partial.isHolding)
    }

    @Test func rawModeKeepsCarriageReturns() {
        for r in demuxAllSplits("CORRAL-0123abcd START\r\n# ls\r\nfile\r\n\r\nCORRAL-0123abcd EXIT 0\r\n", normalize: false) {
            #expect(r.output == "# ls\r\nfile\r\n")
        }
    }

    @Test func noMarkersWithoutNonce() {
        var demux = ConsoleDemux(nonce: nil, normalizeNewlines: true)
        #expect(demux.feed(Array("CORRAL-x START\r\nhi\r\n".utf8)) == [.output(Array("CORRAL-x START\nhi\n".utf8))])
    }

    /// Kernel text, START, random command output, EXIT, the kernel's last
    /// words, through a cooked pty, cut into random reads: the output comes
    /// back as the command wrote it (on a terminal) or with "\r+\n" as
    /// "\n" (normalized), the kernel text likewise, the status exactly.
    @Test func randomCommandOutputComesBackByteForByte() {
        let tokens = MarkedConsole.outputTokens(nonces: [nonce])
        for seed in UInt64(0)..<2000 {
            var rng = SeededGenerator(seed: seed)
            let status = Int32.random(in: 0...255, using: &rng)
            var writes: [MarkedConsole.Write] = [.output(Array("[    0.1] Linux\nhostfs-init: x".utf8)), .marker(nonce: nonce, body: "START")]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                writes.append(.output(MarkedConsole.randomOutput(tokens, maxTokens: 6, using: &rng)))
            }
            writes += [.marker(nonce: nonce, body: "EXIT \(status)"), .output(Array("reboot: Power down\n".utf8))]
            let console = MarkedConsole(writes).unambiguous()
            let command = MarkedConsole(Array(console.writes.dropFirst(2).dropLast(2))).output
            let normalize = Bool.random(using: &rng)
            var demux = ConsoleDemux(nonce: nonce, normalizeNewlines: normalize)
            var kernel: [UInt8] = [], output: [UInt8] = []
            var exited: Int32?
            var events: [ConsoleDemux.Event] = []
            let reads = MarkedConsole.reads(of: console.writes.map { MarkedConsole.onlcr(MarkedConsole.bytes(of: $0)) }, using: &rng)
            for read in reads {
                events += demux.feed(read.bytes)
                if read.endsWrite && Bool.random(using: &rng) { events += demux.flushIdle() }
            }
            events += demux.finish()
            for event in events {
                switch event {
                case .kernel(let bytes): kernel += bytes
                case .output(let bytes): output += bytes
                case .exited(let code): exited = code
                case .started: break
                }
            }
            func expected(_ bytes: [UInt8]) -> [UInt8] {
                let cooked = MarkedConsole.onlcr(bytes)
                guard normalize else { return cooked }
                var out: [UInt8] = []
                for byte in cooked {
                    if byte == 10 { while out.last == 13 { out.removeLast() } }
                    out.append(byte)
                }
                return out
            }
            let context = "seed \(seed): \(console.writes)"
            #expect(output == expected(command), "\(context)")
            #expect(kernel == expected(Array("[    0.1] Linux\nhostfs-init: xreboot: Power down\n".utf8)), "\(context)")
            #expect(exited == status, "\(context)")
        }
    }

    @Test func escapeSequence() {
        var scanner = EscapeScanner()
        #expect(scanner.scan([0x61, 0x1d]).forward == [0x61])
        let r = scanner.scan([UInt8(ascii: "q"), 0x62])
        #expect(r.stop)
        var other = EscapeScanner()
        #expect(other.scan([0x1d, 0x1d]) == ([0x1d], false))
        #expect(other.scan([0x1d, 0x78]) == ([0x1d, 0x78], false))
        #expect(other.scan([0x71]) == ([0x71], false))
    }

    @Test func panicDetectionAcrossReads() {
        var detector = PanicDetector()
        detector.scan(Array("abc Kernel pan".utf8))
        #expect(!detector.seen)
        detector.scan(Array("ic - not syncing: boom".utf8))
        #expect(detector.seen)
    }
}
