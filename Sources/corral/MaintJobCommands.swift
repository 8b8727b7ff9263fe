import ArgumentParser
import Foundation
import COWEngine
import Launcher
import Maintenance
import CorralSystem

/// `corral maint flatten-rsync`
struct MaintFlattenRsyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flatten-rsync",
        abstract: "Flatten a COW at the filesystem level: rsync its view into a new image (corral cow flatten is the block-level route).")
    @Option(help: ArgumentHelp("The COW to flatten.", valueName: "COW"), completion: .file()) var cow: String
    @Option(help: ArgumentHelp("The new image.", valueName: "IMG"), completion: .file()) var output: String
    @Flag(help: "Reuse an existing output (rsync --delete into a copy of it).") var force = false
    @OptionGroup var options: MaintJobOptions

    func run() throws {
        try options.run(template: "flatten-rsync", parameters: ["cow": .text(cow), "output": .text(output), "force": .flag(force)])
    }
}

/// `corral maint rebuild-cow`
struct MaintRebuildCOWCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild-cow",
        abstract: "Rebuild a COW over a common backing from a flat image, at the filesystem level.",
        discussion: "When the image is block-related to the backing (a flatten of a COW over it), corral cow from-image does this without a boot and faster.")
    @Option(help: ArgumentHelp("The guest's flat image.", valueName: "FLAT"), completion: .file()) var image: String
    @Option(help: ArgumentHelp("The common backing.", valueName: "COMMON"), completion: .file()) var backing: String
    @OptionGroup var blockDevice: BlockDeviceOption
    @Option(help: ArgumentHelp("The new COW.", valueName: "COW"), completion: .file()) var output: String
    @OptionGroup var options: MaintJobOptions

    func run() throws {
        try blockDevice.check(backing)
        try options.run(template: "rebuild-cow", parameters: ["image": .text(image), "backing": .text(backing), "output": .text(output)])
    }
}

/// `corral maint install-modules`
struct MaintInstallModulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install-modules",
        abstract: "Copy a kernel module tree into the guest's /lib/modules/R and run depmod for it.")
    @Option(help: ArgumentHelp("The guest's COW (or --each).", valueName: "COW"), completion: .file()) var cow: String?
    @Option(help: ArgumentHelp("Host module tree, e.g. /usr/lib/uml/modules/6.1.176.", valueName: "DIR"), completion: .directory) var modules: String
    @Option(help: ArgumentHelp("Kernel release (default: the last part of --modules).", valueName: "R")) var release: String?
    @OptionGroup var options: MaintJobOptions
    @OptionGroup var inPlace: InPlaceOption
    @OptionGroup var each: EachOptions

    func validate() throws {
        if (cow == nil) == each.each.isEmpty { throw ValidationError("give either --cow COW or --each COW…") }
        try HostInputCheck.modules(PathResolution.absolute(modules))
    }

    func run() throws {
        let modules = PathResolution.absolute(self.modules)
        let release = self.release ?? ""
        try options.run(
            template: "install-modules", parameters: ["cow": .text(cow ?? ""), "modules": .text(modules), "release": .text(release)],
            inPlace: inPlace.inPlace, each: each)
    }
}

/// `corral maint fsck`
struct MaintFsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "e2fsck a guest (-n; -fy with --repair, on a copy replaced only on success), its exit code explained.")
    @Option(help: ArgumentHelp("The guest's COW (or --each).", valueName: "COW"), completion: .file()) var cow: String?
    @Flag(help: "Repair (e2fsck -fy).") var repair = false
    @OptionGroup var options: MaintJobOptions
    @OptionGroup var inPlace: InPlaceOption
    @OptionGroup var each: EachOptions

    func validate() throws {
        if (cow == nil) == each.each.isEmpty { throw ValidationError("give either --cow COW or --each COW…") }
    }

    func run() throws {
        let repair = self.repair
        try options.run(
            template: "fsck", parameters: ["cow": .text(cow ?? ""), "repair": .flag(repair)],
            inPlace: inPlace.inPlace, each: each)
    }
}

/// `corral maint run`
struct MaintRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run any command in the guest with disks attached; its exit status is passed through.",
        discussion: "Disks with flag r are sources (read-only); others are changed on a copy renamed over the original only if the command succeeds (--in-place: directly).")
    @OptionGroup var disks: GuestDisksOptions
    @Option(help: ArgumentHelp("Mount disk N at DIR in the guest before the command (read-only for r disks). Repeatable.", valueName: "N=DIR")) var mount: [String] = []
    @Option(help: ArgumentHelp("Stop the command after this many seconds (exit 124); 0: no limit.", valueName: "SECONDS"))
    var timeout: Int = 0
    @OptionGroup var options: MaintJobOptions
    @OptionGroup var inPlace: InPlaceOption
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command, after --.", valueName: "CMD")) var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after --") }
        if timeout < 0 { throw ValidationError("--timeout must be 0 (no limit) or a number of seconds") }
        try GuestOptionsCheck.disks(disks.disk)
    }

    func run() throws {
        let disks = try self.disks.specs()
        var mounts: [String] = []
        for item in mount {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let spec = disks.first(where: { String($0.unit) == parts[0] || $0.deviceName == "ubd" + parts[0] }),
                  parts[1].hasPrefix("/"), !parts[1].contains(" "), !parts[1].contains(":") else {
                throw ValidationError("--mount \(item): give N=DIR with N one of the --disk units and DIR an absolute path without spaces or ':'")
            }
            try HostInputCheck.mountPoint(parts[1])
            mounts.append("\(spec.deviceName):\(parts[1])" + (spec.isReadOnly ? ":ro" : ""))
        }
        let text = command.count == 1 ? command[0] : command.map(Shell.quote).joined(separator: " ")
        try options.run(template: "run", parameters: ["command": .text(text), "mounts": .text(mounts.joined(separator: " ")),
                                                      "timeout": .text(String(timeout))],
                        disks: disks, passOutput: true, inPlace: inPlace.inPlace)
    }
}

/// `corral maint job NAME --set KEY=VALUE …`: any template, including the user's.
struct MaintJobCommand: ParsableCommand, UsageCheck {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Run any template by name with KEY=VALUE parameters (see maint show NAME).")
    @Argument(help: "The template's name.", completion: CompletionValues.templates) var name: String
    @Option(name: .customLong("set"), help: ArgumentHelp("A parameter. Repeatable.", valueName: "KEY=VALUE")) var set: [String] = []
    @OptionGroup var options: MaintJobOptions
    @OptionGroup var inPlace: InPlaceOption

    /// Before the root check (``UsageCheck``), so a mistake is a usage error
    /// for everyone, and it costs no boot.
    func checkUsage() throws {
        try Self.checkParameters(try parameters(), of: try options.source.template(named: name))
    }

    func parameters() throws -> ParameterValues {
        var parameters: ParameterValues = [:]
        for item in set {
            guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--set \(item): write KEY=VALUE") }
            parameters[String(item[..<eq])] = .text(String(item[item.index(after: eq)...]))
        }
        return parameters
    }

    func run() throws {
        try options.run(template: name, parameters: try parameters(), inPlace: inPlace.inPlace)
    }

    /// A parameter the template needs and `--set` did not give, one it does
    /// not have, or an empty disk path is a usage mistake: refused here, with
    /// the `--set` that fixes it, before any disk is staged or kernel started.
    static func checkParameters(_ parameters: ParameterValues, of template: Template) throws {
        var request = JobRequest(template: template)
        request.parameters = parameters
        let values: ParameterValues
        do {
            values = try request.resolvedParameters()
        } catch .missingParameter(_, let name) {
            throw CLIError(message: "template '\(template.name)' needs parameter '\(name)'; give it with --set \(name)=VALUE (see corral maint show \(template.name))", status: 64)
        } catch {
            throw CLIError(message: "\(error)", status: 64)
        }
        for disk in template.disks where (values[disk.parameter]?.shellValue ?? "").isEmpty {
            throw CLIError(message: "template '\(template.name)' parameter '\(disk.parameter)' names a disk; give its path with --set \(disk.parameter)=FILE", status: 64)
        }
    }
}


/// `corral maint shell`
struct MaintShellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "An interactive rescue shell with the disks attached and mounted where asked.",
        discussion: "Writable disks are changed on a copy: leaving the shell with exit 0 replaces the originals, any other status drops the changes (--in-place: directly). Ctrl-] then q stops the guest.")
    @OptionGroup var disks: GuestDisksOptions
    @Option(help: ArgumentHelp("Mount disk N at DIR before the shell starts. Repeatable.", valueName: "N=DIR")) var mount: [String] = []
    @OptionGroup var source: TemplateOptions
    @Option(name: .long, help: ArgumentHelp("Keep the console transcript here.", valueName: "FILE")) var log: String?
    @OptionGroup var guest: GuestKernelOptions
    @OptionGroup var inPlace: InPlaceOption

    func validate() throws {
        try GuestOptionsCheck.disks(disks.disk)
        try guest.check()
    }

    func run() throws {
        let disks = try self.disks.specs()
        var mounts: [(unit: Int, directory: String)] = []
        for item in mount {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let spec = disks.first(where: { String($0.unit) == parts[0] }), parts[1].hasPrefix("/") else {
                throw ValidationError("--mount \(item): give N=DIR with N one of the --disk units and DIR absolute")
            }
            try HostInputCheck.mountPoint(parts[1])
            mounts.append((spec.unit, parts[1]))
        }
        var request = ShellRequest(library: try source.library())
        request.disks = disks
        request.mounts = mounts
        request.inPlace = inPlace.inPlace
        request.settings.logPath = log
        guest.apply(to: &request.settings)
        request.settings.bootEvents = BootEventPrinter.handler
        request.settings.streams = Console.streams
        let report = RescueShell.run(request)
        Console.error("corral: " + report.summary)
        throw ExitCode(report.exitStatus)
    }
}
