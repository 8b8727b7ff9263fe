/// A maintenance job: a shell script run in the guest, with a header that
/// declares its name, description, parameters and disks.
///
///     #!/bin/sh
///     # corral-template: NAME
///     # description: one line
///     # param: NAME[=DEFAULT]   what it is
///     # disk: UNIT ROLE PARAM [options]
///     # dry-run: boot
///
/// The header ends at the first line that is not a comment. Parameters reach
/// the guest as shell variables assigned before the body (never substituted
/// into it), and each disk's device as `disk_PARAM`.
public struct Template: Sendable, Equatable, Codable {
    public var name: String
    public var summary: String
    public var parameters: [TemplateParameter]
    public var disks: [TemplateDisk]
    /// The whole script, header included.
    public var script: String
    /// Where it was loaded from.
    public var path: String
    /// `# dry-run: boot`: the template answers a dry run (`dry_run=yes`)
    /// from a boot with every disk read-only, ending in `unchanged` when
    /// there is nothing to do; without it a dry run of a job that writes a
    /// guest says "unknown".
    public var dryRunBoots = false

    public static func parse(_ text: String, path: String) throws(MaintenanceError) -> Template {
        var name: String?
        var summary = ""
        var parameters: [TemplateParameter] = []
        var disks: [TemplateDisk] = []
        var dryRunBoots = false
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingSpaces
            if line.isEmpty { continue }
            guard line.hasPrefix("#") else { break }
            let body = line.dropFirst().trimmingSpaces
            guard let colon = body.firstIndex(of: ":") else { continue }
            let key = body[..<colon].trimmingSpaces
            let value = body[body.index(after: colon)...].trimmingSpaces
            switch key {
            case "corral-template":
                guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    throw .invalidTemplate(path: path, line: number, reason: "template name '\(value)' must be letters, digits, '-' or '_'")
                }
                name = value
            case "description":
                summary = value
            case "param":
                let parameter = try parseParameter(value, path: path, line: number)
                if parameters.contains(where: { $0.name == parameter.name }) {
                    throw .invalidTemplate(path: path, line: number, reason: "parameter '\(parameter.name)' declared twice")
                }
                parameters.append(parameter)
            case "dry-run":
                guard value == "boot" else {
                    throw .invalidTemplate(path: path, line: number, reason: "dry-run: the only value is 'boot'")
                }
                dryRunBoots = true
            case "disk":
                disks.append(try parseDisk(value, path: path, line: number))
            default:
                continue
            }
        }
        guard let name else {
            throw .invalidTemplate(path: path, line: 1, reason: "no '# corral-template: NAME' line in the header")
        }
        try validate(disks, parameters: parameters, path: path)
        return Template(name: name, summary: summary, parameters: parameters, disks: disks, script: text, path: path,
                        dryRunBoots: dryRunBoots)
    }

    /// `# param: NAME[=DEFAULT]   what it is`.
    static func parseParameter(_ value: String, path: String, line: Int) throws(MaintenanceError) -> TemplateParameter {
        let words = value.split(separator: " ", maxSplits: 1)
        guard let spec = words.first else {
            throw .invalidTemplate(path: path, line: line, reason: "param: needs NAME[=DEFAULT]")
        }
        var name = String(spec)
        var defaultValue: String?
        if let eq = spec.firstIndex(of: "=") {
            name = String(spec[..<eq])
            defaultValue = String(spec[spec.index(after: eq)...])
        }
        guard TemplateParameter.isValidName(name) else {
            throw .invalidTemplate(path: path, line: line, reason: "parameter '\(name)' must be lowercase letters, digits and '_'")
        }
        return TemplateParameter(name: name, defaultValue: defaultValue, summary: words.count > 1 ? words[1].trimmingSpaces : "")
    }

    /// Every parameter a disk names is declared, and no unit is declared twice.
    static func validate(_ disks: [TemplateDisk], parameters: [TemplateParameter], path: String) throws(MaintenanceError) {
        let names = Set(parameters.map(\.name))
        for disk in disks {
            for referenced in [disk.parameter, disk.sizeOf, disk.cowOver, disk.forceParameter, disk.writableIf].compactMap({ $0 })
            where !names.contains(referenced) {
                throw .invalidTemplate(path: path, line: 1, reason: "disk \(disk.unit) refers to undeclared parameter '\(referenced)'")
            }
        }
        var units = Set<Int>()
        for disk in disks where !units.insert(disk.unit).inserted {
            throw .invalidTemplate(path: path, line: 1, reason: "disk unit \(disk.unit) declared twice")
        }
    }

    static func parseDisk(_ value: String, path: String, line: Int) throws(MaintenanceError) -> TemplateDisk {
        let words = value.split(separator: " ").map(String.init)
        guard words.count >= 3, let unit = Int(words[0]), (1..<16).contains(unit),
              let role = TemplateDisk.Role(rawValue: words[1]) else {
            throw .invalidTemplate(path: path, line: line, reason: "disk: needs UNIT (1-15) ROLE (source, target, output) PARAM")
        }
        var disk = TemplateDisk(unit: unit, role: role, parameter: words[2])
        for option in words.dropFirst(3) {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw .invalidTemplate(path: path, line: line, reason: "disk option '\(option)' is not KEY=PARAM")
            }
            switch parts[0] {
            case "size-of": disk.sizeOf = parts[1]
            case "cow-over": disk.cowOver = parts[1]
            case "force": disk.forceParameter = parts[1]
            case "writable-if": disk.writableIf = parts[1]
            default:
                throw .invalidTemplate(path: path, line: line, reason: "unknown disk option '\(parts[0])'")
            }
        }
        if role == .output && (disk.sizeOf == nil) == (disk.cowOver == nil) {
            throw .invalidTemplate(path: path, line: line, reason: "an output disk needs exactly one of size-of=PARAM or cow-over=PARAM")
        }
        return disk
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
