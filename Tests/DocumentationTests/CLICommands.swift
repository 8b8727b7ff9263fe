import Foundation
import TestSupport

/// One command the CLI shows, found by walking `--help` from the root.
struct CLICommand: Sendable {
    /// The words after `corral`: [] for the root, ["cow", "create"], …
    var path: [String]
    var help: CommandHelp

    var displayName: String { (["corral"] + path).joined(separator: " ") }

    /// The page that must document this command's own options: corral.1
    /// for the root, `corral-<command>.1` for a command and its verbs.
    var manPage: String { path.first.map { "corral-\($0).1" } ?? "corral.1" }
}

enum CLI {
    /// `corral <path> --help`, parsed.
    static func help(_ path: [String]) throws -> CommandHelp {
        guard FileManager.default.isExecutableFile(atPath: TestPaths.corral) else {
            throw TestFailure("\(TestPaths.corral) is missing: run swift build first")
        }
        let result = try runProcess(TestPaths.corral, path + ["--help"])
        guard result.status == 0, !result.stdout.isEmpty else {
            throw TestFailure("corral \((path + ["--help"]).joined(separator: " ")) failed: \(result.summary)")
        }
        return CommandHelp(parsing: result.stdout)
    }

    /// The root and every subcommand its help lists, recursively. Hidden
    /// commands (shouldDisplay: false, like `_kernel-exec`) are not listed by
    /// the help and are skipped by name too.
    static func allCommands() throws -> [CLICommand] {
        try walk.get()
    }

    /// The walk runs once per test process: a few dozen spawns, shared by
    /// every test that needs it.
    private static let walk = Result<[CLICommand], any Error> { try discover() }

    private static func discover() throws -> [CLICommand] {
        var found: [CLICommand] = []
        var pending: [[String]] = [[]]
        while let path = pending.first {
            pending.removeFirst()
            let help = try help(path)
            found.append(CLICommand(path: path, help: help))
            pending += help.subcommands.filter { !$0.hasPrefix("_") && $0 != "help" }.map { path + [$0] }
        }
        return found
    }
}
