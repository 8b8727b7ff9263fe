import Foundation
import Testing
@testable import Maintenance

@Suite struct TemplateTests {
    static let header = """
        #!/bin/sh
        # corral-template: demo
        # description: a demo job
        # param: cow          the guest
        # param: out          the result
        # param: force=no     reuse
        # disk: 1 source cow writable-if=force
        # disk: 2 output out size-of=cow force=force

        echo "# param: not-a-header"
        """

    @Test func parsesTheHeader() throws {
        let t = try Template.parse(Self.header, path: "demo.sh")
        #expect(t.name == "demo")
        #expect(t.summary == "a demo job")
        #expect(t.parameters.map(\.name) == ["cow", "out", "force"])
        #expect(t.parameters[2].defaultValue == "no")
        #expect(t.parameters[0].defaultValue == nil)
        #expect(t.disks.count == 2)
        #expect(t.disks[0].writableIf == "force")
        #expect(t.disks[1].role == .output && t.disks[1].sizeOf == "cow" && t.disks[1].forceParameter == "force")
        #expect(t.disks[1].device == "/dev/ubdc")
    }

    /// `# dry-run: boot` marks a template that answers a dry run itself;
    /// any other value is refused, naming the line.
    @Test func dryRunHeader() throws {
        #expect(try Template.parse(Self.header, path: "demo.sh").dryRunBoots == false)
        let marked = Self.header.replacingOccurrences(of: "# disk: 1 source", with: "# dry-run: boot\n# disk: 1 source")
        #expect(try Template.parse(marked, path: "demo.sh").dryRunBoots == true)
        #expect(throws: MaintenanceError.invalidTemplate(path: "a.sh", line: 2, reason: "dry-run: the only value is 'boot'")) {
            try Template.parse("# corral-template: x\n# dry-run: yes\n", path: "a.sh")
        }
    }

    @Test func refusesBadHeaders() {
        #expect(throws: MaintenanceError.self) { try Template.parse("# description: x\n", path: "a.sh") }
        #expect(throws: MaintenanceError.self) {
            try Template.parse("# corral-template: x\n# disk: 1 source nope\n", path: "a.sh")
        }
        #expect(throws: MaintenanceError.self) {
            try Template.parse("# corral-template: x\n# param: a\n# disk: 1 output a\n", path: "a.sh")
        }
        #expect(throws: MaintenanceError.self) {
            try Template.parse("# corral-template: x\n# param: Bad-Name\n", path: "a.sh")
        }
    }

    @Test func requestAppliesDefaultsAndRefusesUnknowns() throws {
        var request = JobRequest(template: try Template.parse(Self.header, path: "demo.sh"))
        request.parameters = ["cow": "g.cow", "out": "o.img"]
        #expect(try request.resolvedParameters()["force"] == "no")
        request.parameters["colour"] = "red"
        #expect(throws: MaintenanceError.unknownParameter(template: "demo", name: "colour")) { try request.resolvedParameters() }
        request.parameters = ["cow": "g.cow"]
        #expect(throws: MaintenanceError.missingParameter(template: "demo", name: "out")) { try request.resolvedParameters() }
    }

    @Test func builtInTemplatesParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let library = TemplateLibrary(builtinDirectory: "\(root)/templates")
        let names = try library.all().map(\.name)
        #expect(names == ["flatten-rsync", "fsck", "install-modules", "rebuild-cow", "run"])
        #expect(try library.stepLibrary().contains("step()"))
    }

    @Test func userTemplatesReplaceBuiltInsByName() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let dir = NSTemporaryDirectory() + "corral-templates-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# corral-template: fsck\n# description: mine\n".write(toFile: "\(dir)/fsck.sh", atomically: true, encoding: .utf8)
        try "# corral-template: hello\n".write(toFile: "\(dir)/hello.sh", atomically: true, encoding: .utf8)
        let library = TemplateLibrary(builtinDirectory: "\(root)/templates", userDirectories: [dir])
        #expect(try library.template(named: "fsck").summary == "mine")
        #expect(try library.template(named: "hello").path == "\(dir)/hello.sh")
        #expect(throws: MaintenanceError.self) { try library.template(named: "nope") }
    }
}

@Suite struct StepProtocolTests {
    let nonce = "0123abcd"

    @Test func parsesMarkers() {
        #expect(StepMarker.parse("CORRAL-0123abcd READY", nonce: nonce) == .ready)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync BEGIN 0", nonce: nonce) == .begin(step: "rsync", timeout: 0))
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync BEGIN default", nonce: nonce) == .begin(step: "rsync", timeout: nil))
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync EXIT 23", nonce: nonce) == .exit(step: "rsync", status: 23))
        #expect(StepMarker.parse("CORRAL-0123abcd NOTE made it", nonce: nonce) == .note("made it"))
        #expect(StepMarker.parse("CORRAL-0123abcd UNCHANGED already installed", nonce: nonce) == .unchanged("already installed"))
        #expect(StepMarker.parse("CORRAL-ffff UNCHANGED already installed", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd DONE 0", nonce: nonce) == .done(0))
        #expect(StepMarker.parse("CORRAL-0123abcd DONE x", nonce: nonce) == nil)
    }

    @Test func ignoresForgeries() {
        // Another nonce, a marker not at the line start, malformed statuses.
        #expect(StepMarker.parse("CORRAL-ffff STEP rsync EXIT 0", nonce: nonce) == nil)
        #expect(StepMarker.parse(" CORRAL-0123abcd STEP rsync EXIT 0", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync EXIT 999", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync EXIT", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP a b EXIT 0", nonce: nonce) == nil)
    }

    @Test func monitorTimesStepsAndKeepsTheFailingTail() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(ready: 5, step: 5), passthrough: false)
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
    /// blocking), byte for byte, without the job's markers and their empty lines.
    @Test func monitorHandsBackOrdinaryOutputByteForByte() {
        let monitor = StepMonitor(nonce: nonce, nonceFile: nil, limits: .init(), passthrough: true)
        var shown: [UInt8] = []
        shown += monitor.output(Array("CORRAL-0123abcd READY\n\nCORRAL-0123abcd STEP run BEGIN 0\n\nbin".utf8))
        shown += monitor.output([0xff, 0xfe] + Array("ary\nCORRAL-ffffffff DONE 0\n\nCORRAL-0123abcd STEP run EXIT 0\n\nlast".utf8))
        shown += monitor.outputEnded()
        // The empty line before a marker is the protocol's, not output.
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
        let rest = monitor.output(Array("CORRAL-0123abcd DONE 0\nCORRAL-0123abcd DONE 3\n".utf8))
        #expect(rest == Array("CORRAL-0123abcd DONE 0\n".utf8))
        #expect(monitor.finish().done == 3)
    }
}
