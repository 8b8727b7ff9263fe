import Foundation
import Testing
import TestSupport

/// What this host offers the integration tests (``KernelUnderTest``).
enum Host {
    /// The host tools the vector generator drives, besides the kernel.
    static let tools = ["uml_moo", "python3", "mkfs.ext4", "debugfs", "blkdiscard", "timeout"]
    static var hasKernelTools: Bool { KernelUnderTest.missing(tools: tools) == nil }
    static var kernelTestsEnabled: Bool { KernelUnderTest.enabled(tools: tools) }
}

extension Trait where Self == ConditionTrait {
    /// Needs /usr/bin/linux.uml and uml-utilities (not root). Skipped when they are
    /// missing, unless CORRAL_REQUIRE_UML=1, where the test runs and fails.
    static var needsKernel: Self {
        .enabled(if: Host.kernelTestsEnabled, "needs linux.uml, uml_moo, python3, e2fsprogs")
    }
}

/// Runs a program to completion without blocking a cooperative thread, with
/// the sbin directories on PATH (e2fsprogs tools).
func run(_ executable: String, _ arguments: [String], cwd: String? = nil,
         environment extra: [String: String] = [:]) async throws -> ProcessResult {
    var environment = TestEnvironment.variables.merging(extra) { $1 }
    environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    return try await runProcessAsync(executable, arguments, cwd: cwd, environment: environment)
}

/// Runs a shell snippet; `args` become $1, $2, ... (no quoting games).
func sh(_ script: String, _ args: String...) async throws -> ProcessResult {
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
    let script = TestPaths.fixtures.appendingPathComponent("sha256.py").path
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

/// Copies a file keeping holes and its mtime (the COW header pins the backing's mtime).
func copyKeepingMtime(_ source: String, to destination: String) async throws {
    try await shOK(#"cp --sparse=always "$1" "$2" && touch -r "$1" "$2""#, source, destination)
}
