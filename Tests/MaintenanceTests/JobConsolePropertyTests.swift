import Launcher
import Testing
import TestSupport
@testable import Maintenance

/// A whole job's console as the boot reads it: kernel text, hostfs-init's
/// START, the steps' markers around the commands' random output, DONE,
/// hostfs-init's EXIT, the kernel's last words; through a cooked pty and
/// cut into random reads. ConsoleDemux and StepMonitor, stacked as a boot
/// stacks them, must hand back exactly what the commands wrote.
@Suite struct JobConsolePropertyTests {
    let bootNonce = "0123abcd"
    let jobNonce = "00112233445566778899aabbccddeeff"

    /// A random job: its console writes, and what the monitor must report.
    func randomJob(_ rng: inout SeededGenerator) -> (console: MarkedConsole, steps: [StepResult], notes: [String], done: Int32) {
        let tokens = MarkedConsole.outputTokens(nonces: [bootNonce, jobNonce])
        var writes: [MarkedConsole.Write] = [.output(Array("[    0.000000] Linux version\n".utf8)),
                                            .marker(nonce: bootNonce, body: "START"),
                                            .marker(nonce: jobNonce, body: "READY")]
        var steps: [StepResult] = []
        var notes: [String] = []
        var done: Int32 = 0
        for index in 0..<Int.random(in: 0...4, using: &rng) {
            writes.append(.output(MarkedConsole.randomOutput(tokens, maxTokens: 4, using: &rng)))
            if Bool.random(using: &rng) {
                notes.append("note \(index)")
                writes.append(.marker(nonce: jobNonce, body: "NOTE note \(index)"))
            }
            let name = "step\(index)"
            let status: Int32 = Int.random(in: 0..<4, using: &rng) == 0 ? 1 : 0
            writes.append(.marker(nonce: jobNonce, body: "STEP \(name) BEGIN default"))
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                writes.append(.output(MarkedConsole.randomOutput(tokens, maxTokens: 5, using: &rng)))
            }
            writes.append(.marker(nonce: jobNonce, body: "STEP \(name) EXIT \(status)"))
            steps.append(StepResult(name: name, status: status, seconds: 0))
            if status != 0 { done = status; break }
        }
        writes.append(.output(MarkedConsole.randomOutput(tokens, maxTokens: 3, using: &rng)))
        writes.append(.marker(nonce: jobNonce, body: "DONE \(done)"))
        writes.append(.marker(nonce: bootNonce, body: "EXIT \(done)"))
        writes.append(.output(Array("reboot: Power down\n".utf8)))
        return (MarkedConsole(writes).unambiguous(), steps, notes, done)
    }

    /// The command's output between START and EXIT, as a cooked pty read
    /// through ConsoleDemux's normalizing gives it: "\r+\n" as "\n".
    func expectedOutput(_ console: MarkedConsole) -> [UInt8] {
        var output: [UInt8] = []
        var inCommand = false
        for write in console.writes {
            switch write {
            case .marker(let nonce, let body) where nonce == bootNonce: inCommand = body == "START"
            case .output(let bytes) where inCommand: output += bytes
            default: break
            }
        }
        var normalized: [UInt8] = []
        for byte in output {
            if byte == 10 { while normalized.last == 13 { normalized.removeLast() } }
            normalized.append(byte)
        }
        return normalized
    }

    @Test func randomJobsHandBackTheirOutputByteForByte() {
        for seed in UInt64(0)..<1500 {
            var rng = SeededGenerator(seed: seed)
            let job = randomJob(&rng)
            let writes = job.console.writes.map { MarkedConsole.onlcr(MarkedConsole.bytes(of: $0)) }
            var demux = ConsoleDemux(nonce: bootNonce, normalizeNewlines: true)
            let monitor = StepMonitor(nonce: jobNonce, nonceFile: nil, limits: .init(), passthrough: true)
            var shown: [UInt8] = []
            var status: Int32?
            func deliver(_ events: [ConsoleDemux.Event]) {
                for event in events {
                    switch event {
                    case .output(let bytes): shown += monitor.output(bytes)
                    case .exited(let code): status = code
                    case .kernel, .started: break
                    }
                }
            }
            for read in MarkedConsole.reads(of: writes, using: &rng) {
                deliver(demux.feed(read.bytes))
                // The console loop flushes after a quiet moment, which can
                // only fall between two writes.
                if read.endsWrite && Bool.random(using: &rng) { deliver(demux.flushIdle()) }
            }
            deliver(demux.finish())
            shown += monitor.outputEnded()
            let outcome = monitor.finish()
            let context = "seed \(seed): \(job.console.writes)"
            let expected = expectedOutput(job.console)
            #expect(shown == expected, "\(context)\nshown:    \(String(decoding: shown, as: UTF8.self).debugDescription)\nexpected: \(String(decoding: expected, as: UTF8.self).debugDescription)")
            if shown != expected { break }
            #expect(status == job.done, "\(context)")
            #expect(outcome.done == job.done, "\(context)")
            #expect(outcome.ready, "\(context)")
            #expect(outcome.steps.map(\.name) == job.steps.map(\.name), "\(context)")
            #expect(outcome.steps.map(\.status) == job.steps.map(\.status), "\(context)")
            #expect(outcome.notes == job.notes, "\(context)")
        }
    }
}
