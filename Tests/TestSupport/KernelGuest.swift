import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a test guest runs as PID 1: `body` (a /bin/sh snippet) between a
/// fixed start (PATH, /proc, the sector helpers) and a fixed end (sync, power
/// off). Two helpers are defined for the body:
///
///     put CHAR|zero SECTOR COUNT [DEV]   O_DIRECT write of COUNT 512-byte sectors
///     dump FILE [DEV [SKIP COUNT]]       O_DIRECT 4 KiB reads of the device (spec 4.7-A)
///
/// DEV defaults to /dev/ubdb. The guest's / is the host's / through hostfs,
/// so paths in the body are host paths.
public struct GuestInit: Sendable {
    public var body: String
    /// Shell variables set before the body (e.g. DIR, the test directory).
    public var variables: [(name: String, value: String)]
    /// Mount the guest's /proc before the body; false leaves /proc the
    /// host's (through hostfs) until the body mounts it, as sandbox probes need.
    public var mountsProc: Bool
    /// The body runs in a `set -e` subshell and its exit status goes to a
    /// host file: ``GuestRun/status``; a boot that never writes it throws.
    public var reportsStatus: Bool

    public init(_ body: String, variables: [(name: String, value: String)] = [], mountsProc: Bool = true,
                reportsStatus: Bool = false) {
        self.body = body
        self.variables = variables
        self.mountsProc = mountsProc
        self.reportsStatus = reportsStatus
    }

    /// The script, writing the body's status to `statusFile` when it reports one.
    public func text(statusFile: String) -> String {
        var lines = ["#!/bin/sh", "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH"]
        lines += variables.map { "\($0.name)=\($0.value)" }
        if mountsProc { lines.append("mount -t proc proc /proc") }
        lines.append(#"""
            put() {
              if [ "$1" = zero ]; then dd if=/dev/zero bs=512 count="$3" 2>/dev/null
              else dd if=/dev/zero bs=512 count="$3" 2>/dev/null | tr '\0' "$1"; fi |
                dd of="${4:-/dev/ubdb}" bs=512 seek="$2" count="$3" iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
            }
            dump() {
              if [ $# -ge 4 ]; then dd if="$2" of="$1" bs=4096 skip="$3" count="$4" iflag=direct 2>/dev/null
              else dd if="${2:-/dev/ubdb}" of="$1" bs=4096 iflag=direct 2>/dev/null; fi
            }
            """#)
        if reportsStatus {
            lines += ["( set -e", body, ")", "echo $? > '\(statusFile)'"]
        } else {
            lines.append(body)
        }
        if !mountsProc { lines.append("mount -t proc proc /proc 2>/dev/null") }
        lines += ["sync", "echo o > /proc/sysrq-trigger", "sleep 10", ""]
        return lines.joined(separator: "\n")
    }
}

/// A real kernel (``KernelUnderTest/path``) booted straight from its binary
/// for a test of what the kernel itself does with a disk or a sandbox: root
/// is the host's / through hostfs, read-write; init is a ``GuestInit``; the
/// console goes to a file in the test directory. Boots through `corral` are
/// ``runCorral(_:cwd:environment:stdin:mergeStderr:user:)`` (`corral boot`,
/// `corral maint`); this is for the tests below corral: the kernel writing
/// COW files, RunningKernels, the sandbox runner.
///
/// The kernel's files (init script, console, uml_dir) live in `directory`,
/// numbered, so one directory can hold several boots.
public final class KernelGuest: @unchecked Sendable {
    public let process = Process()
    public let initPath: String
    public let consolePath: String
    public let umid: String
    /// Where the init writes its body's status (``GuestInit/reportsStatus``).
    public let statusFile: String?

    private static let counter = Counter()

    /// `timeout SECONDS KERNEL`: the usual launcher; the kernel is killed
    /// after `seconds`.
    public static func timeout(_ seconds: Int) -> [String] { ["/usr/bin/timeout", String(seconds), KernelUnderTest.path] }

    /// Starts the kernel: `launcher` (the program and its leading arguments,
    /// the kernel among them), then the kernel's arguments; `disks` are ubd
    /// arguments (`ubd1=a.cow,back.img`, `ubd2r=b.cow`). `owner` gets the init
    /// script and uml_dir (a kernel run as that user must reach them).
    public init(_ guestInit: GuestInit, in directory: String, disks: [String] = [], memory: String = "256M",
                kernelArguments: [String] = [], launcher: [String] = KernelGuest.timeout(300), cwd: String? = nil,
                environment: [String: String]? = nil, owner: String? = nil) throws {
        try KernelUnderTest.require()
        let n = Self.counter.take()
        initPath = "\(directory)/init-\(n).sh"
        consolePath = "\(directory)/console-\(n).txt"
        umid = "t\(getpid())-\(n)-\(UInt32.random(in: 0...UInt32.max))"
        statusFile = guestInit.reportsStatus ? "\(directory)/status-\(n)" : nil
        let umlDir = "\(directory)/uml"
        try guestInit.text(statusFile: statusFile ?? "/dev/null").write(toFile: initPath, atomically: false, encoding: .utf8)
        chmod(initPath, 0o755)
        try FileManager.default.createDirectory(atPath: umlDir, withIntermediateDirectories: true)
        if let owner, let pw = getpwnam(owner) {
            for path in [directory, initPath, umlDir] { chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        }
        process.executableURL = URL(fileURLWithPath: launcher[0])
        process.arguments = Array(launcher.dropFirst())
            + ["mem=\(memory)", "rootfstype=hostfs", "rootflags=/", "rw", "init=\(initPath)",
               "uml_dir=\(umlDir)", "umid=\(umid)"]
            + disks + ["con=null", "con0=null,fd:1"] + kernelArguments
        if let environment { process.environment = environment }
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        _ = FileManager.default.createFile(atPath: consolePath, contents: nil)
        let console = try FileHandle(forWritingTo: URL(fileURLWithPath: consolePath))
        defer { try? console.close() }
        process.standardOutput = console
        process.standardError = console
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Boots, waits for the power-off and returns what the guest did.
    @discardableResult
    public static func boot(_ guestInit: GuestInit, in directory: String, disks: [String] = [],
                            memory: String = "256M", timeout: Int = 300, cwd: String? = nil) throws -> GuestRun {
        let guest = try KernelGuest(guestInit, in: directory, disks: disks, memory: memory,
                                    launcher: Self.timeout(timeout), cwd: cwd)
        guest.waitUntilExit()
        return try guest.ended()
    }

    /// ``boot(_:in:disks:memory:timeout:cwd:)`` without blocking a
    /// cooperative thread while the kernel runs.
    public static func bootAsync(_ guestInit: GuestInit, in directory: String, disks: [String] = [],
                                 memory: String = "256M", timeout: Int = 300) async throws -> GuestRun {
        let guest = try KernelGuest(guestInit, in: directory, disks: disks, memory: memory,
                                    launcher: Self.timeout(timeout))
        while guest.isRunning { try await Task.sleep(nanoseconds: 50_000_000) }
        guest.waitUntilExit()
        return try guest.ended()
    }

    public var pid: pid_t { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public func waitUntilExit() { process.waitUntilExit() }

    /// The console transcript as the kernel wrote it (UML ends lines CR-LF).
    public var console: String { (try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? "" }

    /// What the ended guest did; throws when its init reports a status and
    /// did not write one (the body never finished).
    public func ended() throws -> GuestRun {
        let kernelStatus = process.isRunning ? nil : process.terminationStatus
        guard let statusFile else { return GuestRun(status: nil, console: console, kernelStatus: kernelStatus) }
        guard let text = try? String(contentsOfFile: statusFile, encoding: .utf8),
              let status = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("the guest script did not finish (kernel exit \(kernelStatus.map(String.init) ?? "?")); console:\n\(console.suffix(4000))")
        }
        return GuestRun(status: status, console: console, kernelStatus: kernelStatus)
    }

    /// Waits until `path` exists (the guest creates it through hostfs);
    /// false when the kernel ended first or `seconds` passed.
    public func waitForFile(_ path: String, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Waits for the launcher (and so the kernel) to end; kills it after `seconds`.
    public func finish(seconds: Double = 60) -> (reason: Process.TerminationReason, status: Int32) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationReason, process.terminationStatus)
    }
}

/// A disk attached to a guest as `ubd<unit>[r]=cow[,backing]`; the guest sees
/// it as /dev/ubd<letter> (unit 1 = /dev/ubdb).
public struct GuestDisk: Sendable {
    public var unit: Int
    public var file: String
    public var backing: String?
    public var readOnly: Bool

    public init(unit: Int, file: String, backing: String? = nil, readOnly: Bool = false) {
        (self.unit, self.file, self.backing, self.readOnly) = (unit, file, backing, readOnly)
    }

    /// The kernel argument.
    public var argument: String {
        "ubd\(unit)\(readOnly ? "r" : "")=\(file)" + (backing.map { ",\($0)" } ?? "")
    }
    public var device: String { "/dev/ubd" + String(UnicodeScalar(UInt8(97 + unit))) }
}

/// What a ``KernelGuest`` did.
public struct GuestRun: Sendable {
    /// The exit status of the init's body inside the guest (nil without a
    /// status file, or when the body never finished).
    public var status: Int32?
    /// The kernel's console output.
    public var console: String
    /// How the launcher ended (timeout: 124 when the kernel was stopped).
    public var kernelStatus: Int32?
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take() -> Int { lock.withLock { next += 1; return next } }
}
