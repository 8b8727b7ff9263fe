import Foundation
import Testing
@testable import Maintenance

/// `StepMonitor` over a job's console output: step timing, time limits, the nonce file
/// and the output it hands back.
@Suite struct StepMonitorTests {
    let nonce = "0123abcd"

    @Test func monitorTimesStepsAndKeepsTheFailingTail() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(ready: 5, step: 5), passthrough: false)
        // Each marker framed as steps.sh writes it: "\n<marker>\n".
        let text = """
            kernel noise

            CORRAL-0123abcd READY

            CORRAL-0123abcd STEP copy BEGIN default
            copying
            CORRAL-ffffffff STEP copy EXIT 0

            CORRAL-0123abcd NOTE copied
            cp: no space left

            CORRAL-0123abcd STEP copy EXIT 1

            """
        // Split in awkward places: markers may arrive in pieces.
        let bytes = Array(text.utf8)
        monitor.output(Array(bytes[0..<17]))
        monitor.output(Array(bytes[17..<90]))
        monitor.output(Array(bytes[90...]))
        let outcome = monitor.finish()
        #expect(outcome.ready)
        #expect(outcome.steps.count == 1)
        #expect(outcome.steps.first?.status == 1)
        #expect(outcome.steps.first?.outputTail == ["copying", "CORRAL-ffffffff STEP copy EXIT 0", "cp: no space left"])
        #expect(outcome.notes == ["copied"])
    }

    @Test func monitorStopsAStepOverItsLimit() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(ready: 100, step: 100), passthrough: false)
        monitor.output(Array("CORRAL-0123abcd READY\nCORRAL-0123abcd STEP slow BEGIN 2\n".utf8))
        #expect(monitor.stopReason(now: StepMonitor.now()) == nil)
        let reason = monitor.stopReason(now: StepMonitor.now() + 3)
        #expect(reason?.contains("slow") == true)
        #expect(monitor.finish().stoppedStep == "slow")
    }

    @Test func monitorStopsAGuestThatNeverGetsReady() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(ready: 1, step: 100), passthrough: false)
        #expect(monitor.stopReason(now: StepMonitor.now() + 2) != nil)
    }

    @Test func readyDeletesTheNonceFile() throws {
        let path = NSTemporaryDirectory() + "corral-nonce-\(UUID().uuidString.prefix(6))"
        try "x".write(toFile: path, atomically: true, encoding: .utf8)
        let monitor = StepMonitor(nonce: nonce, nonceFile: path, limits: .init(), passthrough: false)
        monitor.output(Array("CORRAL-0123abcd READY\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Passthrough is handed back to the boot (which queues it without
    /// blocking), byte for byte, without the job's markers and their framing.
    @Test func monitorHandsBackOrdinaryOutputByteForByte() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(), passthrough: true)
        var shown: [UInt8] = []
        shown += monitor.output(Array("\nCORRAL-0123abcd READY\n\nCORRAL-0123abcd STEP run BEGIN 0\nbin".utf8))
        shown += monitor.output([0xff, 0xfe] + Array("ary\nCORRAL-ffffffff DONE 0\n\nCORRAL-0123abcd STEP run EXIT 0\nlast".utf8))
        shown += monitor.outputEnded()
        // The line breaks around a marker are the protocol's, not output.
        #expect(shown == Array("bin".utf8) + [0xff, 0xfe] + Array("ary\nCORRAL-ffffffff DONE 0\nlast".utf8))
        #expect(monitor.finish().steps.map(\.status) == [0])

        let quiet = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(), passthrough: false)
        #expect(quiet.output(Array("hello\n".utf8)).isEmpty)
    }

    /// A guest printing without line breaks: the monitor passes the line on in
    /// pieces instead of holding it, and no piece of it counts as a marker.
    @Test func monitorPassesAnOverlongLineOnInPieces() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(), passthrough: true)
        let chunk = [UInt8](repeating: 120, count: 16384)
        var shown = 0
        for _ in 0..<(StepMonitor.longestLine / chunk.count) { shown += monitor.output(chunk).count }
        #expect(shown == StepMonitor.longestLine)
        let rest = monitor.output(Array("CORRAL-0123abcd DONE 0\n\nCORRAL-0123abcd DONE 3\n".utf8))
        #expect(rest == Array("CORRAL-0123abcd DONE 0\n".utf8))
        #expect(monitor.finish().done == 3)
    }
}
