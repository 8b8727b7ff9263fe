import Foundation
import Testing

/// What this host offers the integration tests, and where things live.
enum Host {
    static let environment = ProcessInfo.processInfo.environment

    /// The package root, found from this file's path (Tests/IntegrationTests/Support.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    /// The corral binary that `swift build` produced (`make check` builds it first).
    static let corralBinary: String = environment["CORRAL_BINARY"]
        ?? packageRoot.appendingPathComponent(".build/debug/corral").path

    static let kernel = environment["CORRAL_UML_KERNEL"] ?? "/usr/bin/linux.uml"

    /// CI sets CORRAL_REQUIRE_UML=1: then a missing kernel fails the kernel tests
    /// instead of skipping them.
    static let requireUML = environment["CORRAL_REQUIRE_UML"] == "1"

    /// The kernel and the host tools the vector generator drives.
    static let hasKernelTools: Bool = {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: kernel) else { return false }
        return ["uml_moo", "python3", "mkfs.ext4", "debugfs", "blkdiscard", "timeout"].allSatisfy { tool in
            ((environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin").split(separator: ":").contains {
                fm.isExecutableFile(atPath: "\($0)/\(tool)")
            }
        }
    }()

    /// Gate for tests that boot linux.uml or use kernel-written vectors. Enabled when
    /// the kernel is installed, or when CI demands it (so its absence is a failure).
    static let kernelTestsEnabled = hasKernelTools || requireUML
}

extension Trait where Self == ConditionTrait {
    /// Needs /usr/bin/linux.uml and uml-utilities (not root). Skipped when they are
    /// missing, unless CORRAL_REQUIRE_UML=1, where the test runs and fails.
    static var needsKernel: Self {
        .enabled(if: Host.kernelTestsEnabled, "needs linux.uml, uml_moo, python3, e2fsprogs")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// One line for expectation messages.
    var summary: String { "exit \(status); stdout: \(stdout.prefix(2000)); stderr: \(stderr.prefix(2000))" }
}

/// Runs a program to completion without blocking a cooperative thread.
/// Output goes through temporary files, so large outputs cannot dead-lock a pipe.
func run(_ executable: String, _ arguments: [String], cwd: String? = nil,
         environment extra: [String: String] = [:]) async throws -> CommandResult {
    let scratch = FileManager.default.temporaryDirectory
        .appendingPathComponent("corral-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("out")
    let errURL = scratch.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var environment = Host.environment.merging(extra) { $1 }
    environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"   // e2fsprogs tools
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: TestFailure("cannot run \(executable): \(error)"))
        }
    }
    try out.close()
    try err.close()
    return CommandResult(
        status: status,
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// Runs a shell snippet; `args` become $1, $2, ... (no quoting games).
func sh(_ script: String, _ args: String...) async throws -> CommandResult {
    try await run("/bin/sh", ["-c", script, "sh"] + args)
}

/// Runs a shell snippet that must succeed; returns its stdout without the trailing newline.
@discardableResult
func shOK(_ script: String, _ args: String...) async throws -> String {
    let r = try await run("/bin/sh", ["-c", script, "sh"] + args)
    guard r.status == 0 else { throw TestFailure("`\(script)` failed: \(r.summary)") }
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// SHA-256 (lowercase hex) of a file, or of its first `limit` bytes.
/// Uses Tests/Fixtures/sha256.py: hashlib is much faster than sha256sum on this
/// machine and does not read holes, which matters for the 5 GiB vector.
func sha256(_ path: String, limit: UInt64? = nil) async throws -> String {
    let script = Host.fixtures.appendingPathComponent("sha256.py").path
    let r = try await run("/usr/bin/env", ["python3", script, path] + (limit.map { [String($0)] } ?? []))
    guard r.status == 0, r.stdout.count >= 64 else { throw TestFailure("sha256 \(path): \(r.summary)") }
    return String(r.stdout.prefix(64))
}

func fileSize(_ path: String) throws -> UInt64 {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
}

/// Bytes actually allocated on disk (`stat -c %b` × 512).
func allocatedBytes(_ path: String) async throws -> UInt64 {
    UInt64(try await shOK(#"stat -c %b "$1""#, path))! * 512
}

/// Runs the built corral binary.
func runCorral(_ arguments: [String], cwd: String? = nil) async throws -> CommandResult {
    guard FileManager.default.isExecutableFile(atPath: Host.corralBinary) else {
        throw TestFailure("\(Host.corralBinary) not found: run `swift build` first (make check does)")
    }
    return try await run(Host.corralBinary, arguments, cwd: cwd)
}

/// A scratch directory under /tmp, reachable by a UML guest at the same path
/// (hostfs root is the host's /). Removed by `remove()`.
struct ScratchDir: Sendable {
    let path: String
    init(_ label: String) throws {
        let base = FileManager.default.temporaryDirectory.resolvingSymlinksInPath().path
        path = "\(base)/corral-it-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { "\(path)/\(name)" }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Copies a file keeping holes and its mtime (the COW header pins the backing's mtime).
func copyKeepingMtime(_ source: String, to destination: String) async throws {
    try await shOK(#"cp --sparse=always "$1" "$2" && touch -r "$1" "$2""#, source, destination)
}
