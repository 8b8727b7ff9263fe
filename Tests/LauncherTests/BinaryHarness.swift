import Foundation
import Testing
import TestSupport

/// Runs the built `corral` binary the way a user would, for tests that boot
/// the real kernel.
enum Harness {
    static let packageRoot: URL = TestPaths.packageRootURL
    static let corral = TestPaths.corral

    static func which(_ name: String) -> String? {
        TestEnvironment.which(name, path: TestEnvironment.variables["PATH"] ?? "/usr/bin:/bin")
    }

    /// Runs corral with `arguments`; stdin is /dev/null unless given.
    static func run(_ arguments: [String], cwd: URL? = nil, stdin: FileHandle? = nil) throws -> ProcessResult {
        try runCorral(arguments, cwd: cwd?.path, stdin: stdin)
    }

    /// Runs a shell script (for mkfs, touch, script(1), tmux) through system(3),
    /// its output collected in a file: a daemon it starts (the tmux server)
    /// then cannot hold a pipe open and stall the test.
    @discardableResult
    static func shell(_ script: String, cwd: URL? = nil) throws -> ProcessResult {
        let output = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("corral-shell-\(UUID().uuidString.prefix(8)).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let scriptFile = output.appendingPathExtension("sh")
        defer { try? FileManager.default.removeItem(at: scriptFile) }
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        var command = "/bin/sh '\(scriptFile.path)' </dev/null >'\(output.path)' 2>&1"
        if let cwd { command = "cd '\(cwd.path)' && " + command }
        let raw = system(command)
        let status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return ProcessResult(status: status, stdout: text, stderr: "")
    }

    /// A fresh directory, removed by `body`'s end.
    static func withTempDir<T>(_ body: (URL) throws -> T) throws -> T {
        try Scratch.with("corral-launcher-test", body)
    }

    /// Processes whose session id is `session`, read from /proc; zombies
    /// included unless `live`.
    static func processes(inSession session: Int32, live: Bool = false) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> Int32? in
            guard let pid = Int32(name),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 3, Int32(fields[3]) == session else { return nil }
            if live && fields[0] == "Z" { return nil }
            return pid
        }
    }

    /// `corral: helper pid N` from a --verbose run.
    static func helperPID(in stderr: String) -> Int32? {
        guard let range = stderr.range(of: "helper pid ") else { return nil }
        return Int32(stderr[range.upperBound...].prefix { $0.isNumber })
    }
}
