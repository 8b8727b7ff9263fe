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
