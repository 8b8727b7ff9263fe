import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `corral` left running while the test looks at the host (its kernel's
/// processes, cgroups, capabilities), with its output in a file the test
/// reads as it goes. With `user`, run as that user through runuser.
public final class BackgroundCorral {
    public let process = Process()
    public let outputPath: String

    public init(_ arguments: [String], outputPath: String, cwd: String? = nil, user: String? = nil) throws {
        self.outputPath = outputPath
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", user, "--", TestPaths.corral] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: TestPaths.corral)
            process.arguments = arguments
        }
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.environment = TestEnvironment.childEnvironment
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try output.close()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// What it has written so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits until `text` shows in the output, it ends, or `seconds` pass.
    @discardableResult
    public func waitFor(_ text: String, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !output.contains(text) && process.isRunning && Date() < deadline { usleep(50_000) }
        return output.contains(text)
    }

    /// Waits for it to end, killing it after `seconds`.
    public func wait(seconds: Double = 60) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
