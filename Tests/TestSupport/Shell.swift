import Foundation

/// Runs a program that must succeed (mkfs, truncate, mount, …) and returns
/// its stdout; a non-zero exit throws with what it printed.
@discardableResult
public func run(_ executable: String, _ arguments: [String], cwd: String? = nil) throws -> String {
    let r = try runProcess(executable, arguments, cwd: cwd, environment: TestEnvironment.childEnvironment)
    guard r.status == 0 else {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr.suffix(2000))")
    }
    return r.stdout
}

/// Runs a /bin/sh script with the test's environment (``TestEnvironment/childEnvironment``:
/// the test kernel's directory first on PATH, so a `corral boot` the script
/// starts boots the kernel under test, and the sbin directories last);
/// `args` become $1, $2, … (no quoting games). How it ended and what it
/// printed, stderr merged into stdout when asked.
@discardableResult
public func shellResult(_ script: String, _ args: String..., cwd: String? = nil, mergeStderr: Bool = false,
                        user: String? = nil) throws -> ProcessResult {
    try runProcess("/bin/sh", ["-c", script, "sh"] + args, cwd: cwd, environment: TestEnvironment.childEnvironment,
                   mergeStderr: mergeStderr, user: user)
}

/// Runs a /bin/sh script that must succeed (as ``shellResult(_:_:cwd:mergeStderr:user:)``);
/// returns its stdout without the trailing newline.
@discardableResult
public func shell(_ script: String, _ args: String..., cwd: String? = nil) throws -> String {
    let r = try runProcess("/bin/sh", ["-c", script, "sh"] + args, cwd: cwd, environment: TestEnvironment.childEnvironment)
    guard r.status == 0 else { throw TestFailure("`\(script)` failed: \(r.summary)") }
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// SHA-256 (lowercase hex) of a file, or of its first `limit` bytes, with
/// Tests/Fixtures/sha256.py: hashlib is much faster than sha256sum on this
/// machine and does not read holes, which matters for the 5 GiB vector.
public func sha256(_ path: String, limit: UInt64? = nil) throws -> String {
    let script = TestPaths.fixtures.appendingPathComponent("sha256.py").path
    let r = try runProcess("/usr/bin/env", ["python3", script, path] + (limit.map { [String($0)] } ?? []))
    guard r.status == 0, r.stdout.count >= 64 else { throw TestFailure("sha256 \(path): \(r.summary)") }
    return String(r.stdout.prefix(64))
}
