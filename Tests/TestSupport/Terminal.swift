import CTestPTY
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program running on a pseudo-terminal the test opened, as a user at a
/// terminal runs it: stdin, stdout and stderr are the pty's slave, it is the
/// session leader with the pty as its controlling terminal (`setsid -c`), and
/// TERM is set. Paths that differ on a terminal (progress lines, colour, the
/// interactive console) run for real here; the pipes of ``runProcess`` never
/// reach them.
///
/// The test reads what the program writes with ``expect(_:timeout:)`` and
/// types with ``send(_:)``; ``finish(timeout:)`` waits for the end and returns
/// the whole transcript (stdout and stderr interleaved, as on a screen) as
/// `stdout`. A program still running at a deadline is killed and the call
/// throws, so a hang fails the test instead of stalling the suite.
public final class TerminalSession: @unchecked Sendable {
    private let master: Int32
    private let process: Process
    private var transcript: [UInt8] = []
    /// Bytes of `transcript` already matched by ``expect(_:timeout:)``.
    private var matched = 0

    /// The output so far, as text.
    public var output: String { String(decoding: transcript, as: UTF8.self) }

    public init(_ executable: String, _ arguments: [String], cwd: String? = nil,
                environment: [String: String] = TestEnvironment.childEnvironment,
                rows: UInt16 = 24, columns: UInt16 = 80) throws {
        var name = [CChar](repeating: 0, count: 128)
        let master = corral_test_open_pty(&name, name.count)
        guard master >= 0 else { throw TestFailure("cannot open a pty: \(String(cString: strerror(errno)))") }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            close(master)
            throw TestFailure("open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(slave) }
        _ = corral_test_set_winsize(slave, rows, columns)

        var env = environment
        if env["TERM"] == nil || env["TERM"] == "dumb" { env["TERM"] = "xterm-256color" }
        env["NO_COLOR"] = nil
        let process = Process()
        // setsid -c: a session of its own with this pty as its controlling
        // terminal, like a login shell's child; -w passes the exit status on.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-c", "-w", executable] + arguments
        let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardInput = handle
        process.standardOutput = handle
        process.standardError = handle
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        do {
            try process.run()
        } catch {
            close(master)
            throw TestFailure("cannot run \(executable) on a pty: \(error)")
        }
        self.master = master
        self.process = process
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        close(master)
    }

    /// Types `text` (e.g. "\u{1D}q" for Ctrl-] q).
    public func send(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// Reads until `text` appears in output not matched before; throws with
    /// the transcript when it does not within `timeout` seconds.
    public func expect(_ text: String, timeout: Double = 60) throws {
        let needle = Array(text.utf8)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let end = find(needle, from: matched) {
                matched = end
                return
            }
            if Date() >= deadline {
                throw TestFailure("'\(text)' did not appear within \(timeout) s; the terminal shows:\n\(output.suffix(3000))")
            }
            if !readSome(until: deadline), !process.isRunning {
                if find(needle, from: matched) == nil {
                    throw TestFailure("the program ended before '\(text)' appeared:\n\(output.suffix(3000))")
                }
            }
        }
    }

    /// Waits for the program to end and its output to drain; the transcript
    /// is `stdout` (stderr is merged into it, as on a screen).
    public func finish(timeout: Double = 120) throws -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TestFailure("still running after \(timeout) s on the terminal; it shows:\n\(output.suffix(3000))")
            }
            _ = readSome(until: min(deadline, Date().addingTimeInterval(0.2)))
        }
        process.waitUntilExit()
        // What the program wrote before it ended is still in the pty.
        while readSome(until: Date().addingTimeInterval(0.2)) {}
        return ProcessResult(status: process.terminationStatus, stdout: output, stderr: "")
    }

    /// Reads what is there within the deadline; false when nothing came
    /// (or the slave side is gone: EIO).
    @discardableResult
    private func readSome(until deadline: Date) -> Bool {
        let wait = max(0, Int32(deadline.timeIntervalSinceNow * 1000))
        var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, min(wait, 200))
        guard ready > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
        guard n > 0 else {
            if n < 0 && errno != EINTR && errno != EAGAIN { usleep(50_000) }
            return false
        }
        transcript += buffer[0..<n]
        return true
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty else { return start }
        guard transcript.count - start >= needle.count else { return nil }
        var i = start
        while i + needle.count <= transcript.count {
            if transcript[i] == needle[0], transcript[i..<(i + needle.count)].elementsEqual(needle) {
                return i + needle.count
            }
            i += 1
        }
        return nil
    }
}

/// Runs the built corral on a fresh pty with nothing typed and returns its
/// transcript as `stdout`; the terminal counterpart of ``runCorral``.
public func runCorralOnTerminal(_ arguments: [String], cwd: String? = nil,
                                environment: [String: String] = TestEnvironment.childEnvironment,
                                timeout: Double = 300) throws -> ProcessResult {
    guard FileManager.default.isExecutableFile(atPath: TestPaths.corral) else {
        throw TestFailure("\(TestPaths.corral) not found: run `swift build` first (make check does)")
    }
    let session = try TerminalSession(TestPaths.corral, arguments, cwd: cwd, environment: environment)
    return try session.finish(timeout: timeout)
}

extension ProcessResult {
    /// The output without terminal control sequences (CSI `ESC [ … final`)
    /// and carriage returns: the text a user reads once the screen settles
    /// is approximated by what remains.
    public var plainText: String {
        var out: [UInt8] = []
        let bytes = Array(stdout.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x1B, i + 1 < bytes.count, bytes[i + 1] == 0x5B {
                i += 2
                while i < bytes.count, !(0x40...0x7E).contains(bytes[i]) { i += 1 }
                i += 1
                continue
            }
            if bytes[i] != 0x0D { out.append(bytes[i]) }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
