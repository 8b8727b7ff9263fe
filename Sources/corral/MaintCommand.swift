import ArgumentParser
import Foundation
import Launcher
import Maintenance

/// `corral maint`: one-command maintenance boots from templates.
struct MaintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maint",
        abstract: "One-command maintenance boots: flatten, rebuild, install modules, fsck, run.",
        discussion: """
            Each job is a template (templates/*.sh): a shell script run in the guest by
            hostfs-init, with a header declaring its name, parameters and disks. Steps
            report through nonce-tagged console lines; a failing step fails the job and
            is named. Sources are attached read-only. A job that changes a guest works
            on a sparse copy of its COW and renames it over the original only when every
            step succeeded (--in-place opts out). COW files with mixed 4 KiB pages (pages
            partly in the COW and partly in the backing, which the kernel reads
            wrongly) are normalized first (or read through a normalized copy).

            Exit status: 0 ok; the failing step's status; 124 a step ran over its time
            limit; 128+N stopped by signal N (nothing committed); 240-244 the boot itself
            failed (see corral boot --help); 1 setup error; 64 usage error (a bad option,
            an unknown template, a parameter maint job needs and --set did not give),
            before anything runs. With --each: 1 if any guest failed.
            """,
        subcommands: [
            MaintListCommand.self, MaintShowCommand.self, MaintFlattenRsyncCommand.self,
            MaintRebuildCOWCommand.self, MaintInstallModulesCommand.self, MaintFsckCommand.self,
            MaintRunCommand.self, MaintShellCommand.self, MaintJobCommand.self,
        ])
}

/// Where templates come from, for every maint subcommand.
struct TemplateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Also load templates from DIR (before $CORRAL_TEMPLATES). Repeatable.", valueName: "DIR"), completion: .directory)
    var templates: [String] = []

    func validate() throws {
        for dir in templates {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--templates '\(dir)' is not a directory; give a directory of template .sh files")
            }
        }
    }

    func library() throws -> TemplateLibrary {
        try TemplateLibrary.locate(
            environment: ProcessInfo.processInfo.environment, executable: Resources.currentExecutable(),
            extra: templates)
    }

    /// The template the command line names; a name no template has is a
    /// usage mistake (exit 64), like a misspelt verb.
    func template(named name: String) throws -> Template {
        let library = try library()
        do {
            return try library.template(named: name)
        } catch {
            guard case .templateNotFound = error else { throw error }
            throw CLIError(message: "\(error)", status: 64)
        }
    }
}

/// `corral maint list`
struct MaintListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the templates.")
    @OptionGroup var source: TemplateOptions
    @Flag(name: .long, help: "Machine-readable output.") var json = false

    func run() throws {
        let templates = try source.library().all()
        if json {
            try Console.json(templates.map { ["name": $0.name, "description": $0.summary, "path": $0.path] })
            return
        }
        let width = templates.map(\.name.count).max() ?? 0
        for template in templates {
            Console.out(template.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + template.summary)
        }
    }
}

/// `corral maint show NAME`
struct MaintShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a template's parameters, disks and script.")
    @OptionGroup var source: TemplateOptions
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The template's name.", completion: CompletionValues.templates) var name: String

    func run() throws {
        let template = try source.template(named: name)
        if format.isJSON { return try Console.json(TemplateJSON(template)) }
        Console.out("\(template.name): \(template.summary)")
        Console.out("file: \(template.path)")
        Console.out("parameters:")
        for p in template.parameters {
            let value = p.defaultValue.map { " (default: '\($0)')" } ?? " (required)"
            Console.out("  \(p.name)\(value)  \(p.summary)")
        }
        if !template.disks.isEmpty {
            Console.out("disks:")
            for d in template.disks {
                var extra: [String] = []
                if let s = d.sizeOf { extra.append("size of \(s)") }
                if let c = d.cowOver { extra.append("new COW over \(c)") }
                if let w = d.writableIf { extra.append("writable if \(w)") }
                Console.out("  \(d.device) \(d.role.rawValue) \(d.parameter)" + (extra.isEmpty ? "" : " (\(extra.joined(separator: ", ")))"))
            }
        }
        Console.out("script:")
        Console.write(1, template.script)
    }
}

/// `maint show --json`: a template's interface, without its prose mixed
/// into the data (a missing default is null, not "(required)").
struct TemplateJSON: Encodable {
    struct Parameter: Encodable {
        var name: String
        var description: String
        var defaultValue: String?
        var required: Bool

        private enum Key: String, CodingKey { case name, description, defaultValue = "default", required }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(name, forKey: .name)
            try c.encode(description, forKey: .description)
            try c.encode(defaultValue, forKey: .defaultValue)
            try c.encode(required, forKey: .required)
        }
    }
    struct Disk: Encodable {
        var device: String
        var role: String
        var parameter: String
        var sizeOf: String?
        var cowOver: String?
        var writableIf: String?
    }
    var name: String
    var description: String
    var path: String
    var parameters: [Parameter]
    var disks: [Disk]
    var script: String

    init(_ t: Template) {
        name = t.name
        description = t.summary
        path = t.path
        parameters = t.parameters.map { Parameter(name: $0.name, description: $0.summary, defaultValue: $0.defaultValue, required: $0.defaultValue == nil) }
        disks = t.disks.map { Disk(device: $0.device, role: $0.role.rawValue, parameter: $0.parameter, sizeOf: $0.sizeOf, cowOver: $0.cowOver, writableIf: $0.writableIf) }
        script = t.script
    }
}
