import CTestPTY
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished program printed and how it ended.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    /// Empty when the run merged stderr into stdout.
    public var stderr: String
    /// The program was ended by a signal; `status` is then its number.
    public var signaled: Bool

    public init(status: Int32, stdout: String, stderr: String, signaled: Bool = false) {
        (self.status, self.stdout, self.stderr, self.signaled) = (status, stdout, stderr, signaled)
    }

    /// For expectation messages: the ends of the outputs, where a failure shows.
    public var summary: String { "exit \(status)\nstdout: \(stdout.suffix(3000))\nstderr: \(stderr.suffix(3000))" }
}

/// How a run is set up: arguments, directory, environment, stdin, the user
/// it runs as, and whether stderr goes into stdout (one interleaved transcript).
struct ProcessSpec {
    public var executable: String
    public var arguments: [String]
    public var cwd: String?
    /// The whole environment; nil inherits the test's.
    public var environment: [String: String]?
    /// nil is /dev/null.
    public var stdin: FileHandle?
    public var mergeStderr: Bool

    public init(_ executable: String, _ arguments: [String], cwd: String? = nil,
                environment: [String: String]? = nil, stdin: FileHandle? = nil, mergeStderr: Bool = false,
                user: String? = nil) {
        // Another user: through runuser (root only; no password, no PAM session).
        self.executable = user == nil ? executable : "/usr/sbin/runuser"
        self.arguments = user.map { ["-u", $0, "--", executable] + arguments } ?? arguments
        self.cwd = cwd
        self.environment = environment
        self.stdin = stdin
        self.mergeStderr = mergeStderr
    }
}

/// Runs a program to completion: the one way the tests run a program and
/// get its status, stdout and stderr. stdin is /dev/null unless given;
/// `environment` is the whole environment (nil inherits the test's); `user`
/// runs it as that user (runuser, root only). Output goes through temporary
/// files, so a large output cannot fill a pipe and stall the child; the
/// child gets no other descriptor of the test process, so a daemon it
/// leaves behind (a tmux server, a `setsid -f` sleeper) cannot hold the
/// test up either.
public func runProcess(_ executable: String, _ arguments: [String], cwd: String? = nil,
                       environment: [String: String]? = nil, stdin: FileHandle? = nil,
                       mergeStderr: Bool = false, user: String? = nil) throws -> ProcessResult {
    let spec = ProcessSpec(executable, arguments, cwd: cwd, environment: environment, stdin: stdin,
                           mergeStderr: mergeStderr, user: user)
    let captured = try Captured(mergeStderr: mergeStderr)
    let end = try wait(for: try spawn(spec, into: captured), spec)
    return try captured.result(status: end.status, signaled: end.signaled)
}

/// ``runProcess(_:_:cwd:environment:stdin:mergeStderr:user:)`` without
/// blocking a cooperative thread while the program runs (a Dispatch thread
/// waits for it).
public func runProcessAsync(_ executable: String, _ arguments: [String], cwd: String? = nil,
                            environment: [String: String]? = nil, stdin: FileHandle? = nil,
                            mergeStderr: Bool = false, user: String? = nil) async throws -> ProcessResult {
    let spec = ProcessSpec(executable, arguments, cwd: cwd, environment: environment, stdin: stdin,
                           mergeStderr: mergeStderr, user: user)
    let captured = try Captured(mergeStderr: mergeStderr)
    let pid = try spawn(spec, into: captured)
    let end: (status: Int32, signaled: Bool) = try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try wait(for: pid, spec) })
        }
    }
    return try captured.result(status: end.status, signaled: end.signaled)
}

/// Runs the built corral binary (``TestPaths/corral``), by default with
/// ``TestEnvironment/childEnvironment``.
public func runCorral(_ arguments: [String], cwd: String? = nil,
                      environment: [String: String] = TestEnvironment.childEnvironment,
                      stdin: FileHandle? = nil, mergeStderr: Bool = false, user: String? = nil) throws -> ProcessResult {
    try requireCorral()
    return try runProcess(TestPaths.corral, arguments, cwd: cwd, environment: environment, stdin: stdin,
                          mergeStderr: mergeStderr, user: user)
}

/// ``runCorral(_:cwd:environment:stdin:mergeStderr:user:)`` for async tests.
public func runCorralAsync(_ arguments: [String], cwd: String? = nil,
                           environment: [String: String] = TestEnvironment.childEnvironment,
                           mergeStderr: Bool = false) async throws -> ProcessResult {
    try requireCorral()
    return try await runProcessAsync(TestPaths.corral, arguments, cwd: cwd, environment: environment,
                                     mergeStderr: mergeStderr)
}

private func requireCorral() throws {
    guard FileManager.default.isExecutableFile(atPath: TestPaths.corral) else {
        throw TestFailure("\(TestPaths.corral) not found: run `swift build` first (make check does)")
    }
}

/// The output files of one run, in a directory of their own (removed with it).
private final class Captured: @unchecked Sendable {
    let directory: URL
    let outURL: URL
    let errURL: URL
    let out: FileHandle
    let err: FileHandle

    init(mergeStderr: Bool) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("corral-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        outURL = directory.appendingPathComponent("out")
        errURL = directory.appendingPathComponent("err")
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              FileManager.default.createFile(atPath: errURL.path, contents: nil)
        else { throw TestFailure("cannot create output files in \(directory.path)") }
        out = try FileHandle(forWritingTo: outURL)
        err = mergeStderr ? out : try FileHandle(forWritingTo: errURL)
    }

    deinit {
        try? out.close()
        try? err.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func result(status: Int32, signaled: Bool) throws -> ProcessResult {
        ProcessResult(
            status: status,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
            signaled: signaled)
    }
}

/// Starts `spec` with its output in `captured`, retrying while exec fails
/// with ETXTBSY: a binary the tests just copied can still be open for
/// writing in a child that another test forked meanwhile (it inherited the
/// descriptor before exec closed it).
private func spawn(_ spec: ProcessSpec, into captured: Captured) throws -> pid_t {
    // Read-write, as Foundation gives it: a kernel with con0=fd:0 wants it so.
    let input = spec.stdin?.fileDescriptor ?? open("/dev/null", O_RDWR | O_CLOEXEC)
    defer { if spec.stdin == nil { close(input) } }
    var attempts = 0
    while true {
        var error: Int32 = 0
        let pid = withCStrings([spec.executable] + spec.arguments) { argv in
            withCStrings(spec.environment.map { $0.map { "\($0.key)=\($0.value)" } }) { envp in
                corral_test_spawn(spec.executable, argv, envp, spec.cwd, input, captured.out.fileDescriptor,
                                  captured.err.fileDescriptor, &error)
            }
        }
        if pid > 0 { return pid }
        if error == ETXTBSY && attempts < 50 {
            attempts += 1
            usleep(20_000)
            continue
        }
        throw TestFailure("cannot run \(spec.executable): \(String(cString: strerror(error)))")
    }
}

private func wait(for pid: pid_t, _ spec: ProcessSpec) throws -> (status: Int32, signaled: Bool) {
    var signaled: Int32 = 0
    let status = corral_test_wait(pid, &signaled)
    guard status >= 0 else { throw TestFailure("cannot wait for \(spec.executable): \(String(cString: strerror(errno)))") }
    return (status, signaled != 0)
}

/// A NULL-terminated array of C strings for the length of `body`; nil stays nil.
private func withCStrings<T>(_ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> T) -> T {
    guard let strings else { return body(nil) }
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
