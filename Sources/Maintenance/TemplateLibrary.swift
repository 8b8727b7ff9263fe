#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The templates a `corral maint` invocation can use: the built-in ones
/// shipped in `templates/`, then the user's (`--templates DIR`, then each
/// directory of `CORRAL_TEMPLATES`, colon-separated). A user template with a
/// built-in's name replaces it, so a site can adapt a job without forking
/// corral; `list` shows where each one comes from.
public struct TemplateLibrary: Sendable, Codable {
    /// The built-in directory (holds `lib/steps.sh`, the step protocol).
    public var builtinDirectory: String
    public var userDirectories: [String]

    public init(builtinDirectory: String, userDirectories: [String] = []) {
        self.builtinDirectory = builtinDirectory
        self.userDirectories = userDirectories
    }

    /// Finds the built-in directory like hostfs-init: `$CORRAL_DATA_DIR/templates`,
    /// `<exe dir>/../share/corral/templates`, then the nearest ancestor of the
    /// executable holding `templates/lib/steps.sh` (a development build).
    public static func locate(environment: [String: String], executable: String?,
                              extra: [String]) throws(MaintenanceError) -> TemplateLibrary {
        var users = extra
        if let list = environment["CORRAL_TEMPLATES"] {
            users += list.split(separator: ":").map(String.init)
        }
        var searched: [String] = []
        var candidates: [String] = []
        if let data = environment["CORRAL_DATA_DIR"], !data.isEmpty { candidates.append("\(data)/templates") }
        if let executable {
            var dir = parent(executable)
            candidates.append("\(parent(dir))/share/corral/templates")
            while dir != "/" && !dir.isEmpty {
                candidates.append("\(dir)/templates")
                dir = parent(dir)
            }
        }
        for candidate in candidates {
            if access("\(candidate)/lib/steps.sh", R_OK) == 0 {
                return TemplateLibrary(builtinDirectory: candidate, userDirectories: users)
            }
            searched.append(candidate)
        }
        throw .templateNotFound(name: "lib/steps.sh", searched: Array(searched.prefix(3)) + ["ancestors of the corral binary"])
    }

    /// The step protocol's shell functions.
    public func stepLibrary() throws(MaintenanceError) -> String {
        try Self.read("\(builtinDirectory)/lib/steps.sh")
    }

    /// The rescue shell's guest script (`maint shell`), run after the step library.
    public func shellScript() throws(MaintenanceError) -> String {
        try Self.read("\(builtinDirectory)/lib/shell.sh")
    }

    /// Every template, later directories replacing earlier ones by name,
    /// sorted by name.
    public func all() throws(MaintenanceError) -> [Template] {
        var byName: [String: Template] = [:]
        for dir in [builtinDirectory] + userDirectories {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for entry in entries.sorted() where entry.hasSuffix(".sh") {
                let path = "\(dir)/\(entry)"
                let template = try Template.parse(try Self.read(path), path: path)
                byName[template.name] = template
            }
        }
        return byName.values.sorted { $0.name < $1.name }
    }

    public func template(named name: String) throws(MaintenanceError) -> Template {
        if let found = try all().first(where: { $0.name == name }) { return found }
        throw .templateNotFound(name: name, searched: [builtinDirectory] + userDirectories)
    }

    static func read(_ path: String) throws(MaintenanceError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io("cannot read '\(path)'; check that it exists and is readable")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
