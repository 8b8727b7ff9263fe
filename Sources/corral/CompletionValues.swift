import ArgumentParser
import Foundation
import Launcher
import Maintenance

/// What the shell completions (bash, zsh, fish, from `corral
/// --generate-completion-script`) offer beyond file names: disk specs,
/// template names and fixed option values.
enum CompletionValues {
    static let sandboxModes: CompletionKind = .list(["enforce", "off"])
    static let raid6Modes: CompletionKind = .list(["auto", "on", "off"])
    static let outputFormats: CompletionKind = .list(["human", "json"])

    /// `--disk N=FILE`: first the units (`0=` … `15=`), then, after `N=`, files.
    static let disk: CompletionKind = .custom { _, _, prefix in diskSpecs(prefix) }

    /// Template names, from the same search path the maint commands use.
    static let templates: CompletionKind = .custom { _, _, prefix in
        let library = try? TemplateLibrary.locate(
            environment: ProcessInfo.processInfo.environment, executable: Resources.currentExecutable(), extra: [])
        let names = ((try? library?.all()) ?? []).map(\.name)
        return names.filter { $0.hasPrefix(prefix) }.sorted()
    }

    static func diskSpecs(_ prefix: String) -> [String] {
        guard let equals = prefix.firstIndex(of: "=") else {
            return (0..<16).map { "\($0)=" }.filter { $0.hasPrefix(prefix) }
        }
        let unit = String(prefix[...equals])
        let partial = String(prefix[prefix.index(after: equals)...])
        let slash = partial.lastIndex(of: "/")
        let directory = slash.map { String(partial[...$0]) } ?? ""
        let start = slash.map { String(partial[partial.index(after: $0)...]) } ?? partial
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        return entries.filter { $0.hasPrefix(start) && (!$0.hasPrefix(".") || start.hasPrefix(".")) }.sorted().map { name in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: directory + name, isDirectory: &isDirectory)
            return unit + directory + name + (isDirectory.boolValue ? "/" : "")
        }
    }
}
