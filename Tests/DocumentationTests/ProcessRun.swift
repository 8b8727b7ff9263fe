import Foundation

/// What a finished program printed and how it ended.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String

    /// For expectation messages.
    var summary: String { "exit \(status)\nstdout: \(stdout.prefix(1500))\nstderr: \(stderr.prefix(1500))" }
}

/// Runs `executable` to completion. Output goes through temporary files, so
/// a long help text cannot fill a pipe and stall the child.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                directory: String? = nil) throws -> ProcessResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("corral-doc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("out")
    let errURL = scratch.appendingPathComponent("err")
    guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
          FileManager.default.createFile(atPath: errURL.path, contents: nil)
    else { throw TestFailure("cannot create output files in \(scratch.path)") }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    defer { try? out.close(); try? err.close() }

    let process = try launch {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        return process
    }
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Starts a process from `make`, retrying while exec fails with ETXTBSY: a binary the
/// tests just copied can still be open for writing in a child that another
/// test forked meanwhile (it inherited the descriptor before exec closed it).
private func launch(_ make: () -> Process) throws -> Process {
    var attempts = 0
    while true {
        let process = make()
        do {
            try process.run()
            return process
        } catch let error as NSError where attempts < 50 && isTextBusy(error) {
            attempts += 1
            usleep(20_000)
        }
    }
}

private func isTextBusy(_ error: NSError) -> Bool {
    if error.domain == NSPOSIXErrorDomain && error.code == Int(ETXTBSY) { return true }
    return (error.userInfo[NSUnderlyingErrorKey] as? NSError).map(isTextBusy) ?? false
}

/// The first executable `name` on PATH (plus the sbin directories), or nil.
func findExecutable(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    for dir in path.split(separator: ":") where !dir.isEmpty {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
