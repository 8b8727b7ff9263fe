import Foundation
import Sandbox
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `corral-sandbox-probe`: `SandboxRunner.execKernel` as a program of its
/// own, which the sandbox tests run the real kernel (or a stand-in) through.
/// Whether those tests run, and on which kernel: ``KernelUnderTest``.
enum SandboxProbe {
    /// The probe executable built next to the test bundle.
    static var path: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift test may run from inside a .xctest bundle directory.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("corral-sandbox-probe").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("corral-sandbox-probe").path
    }
}

extension Scratch {
    func write(_ name: String, _ text: String, executable: Bool = false) throws {
        try text.write(toFile: file(name), atomically: false, encoding: .utf8)
        if executable { chmod(file(name), 0o755) }
    }
}

/// Runs a command to completion and returns its stdout (for mkfs, debugfs).
@discardableResult
func run(_ command: String, _ args: [String]) throws -> String {
    let r = try runProcess(command, args)
    guard r.status == 0 else {
        throw TestFailure("\(command) \(args.joined(separator: " ")) exited \(r.status)")
    }
    return r.stdout
}

/// One kernel boot through `corral-sandbox-probe`, i.e. through
/// `SandboxRunner.execKernel`, with the console on a file.
final class KernelBoot {
    let dir: Scratch
    let process = Process()
    let consolePath: String

    /// `script` is the guest's init body; `$DIR` in it is the test directory.
    /// `owner`: run the kernel as this user (the directory is chowned to it).
    init(dir: Scratch, script: String, extraArgs: [String] = [],
         policy: SandboxPolicy? = nil, owner: String? = nil) throws {
        self.dir = dir
        consolePath = dir.file("console.txt")
        try dir.write("init.sh", "#!/bin/sh\nexport PATH=/usr/sbin:/usr/bin:/sbin:/bin\nDIR=\(dir.path)\n" + script
                      + "\nmount -t proc proc /proc 2>/dev/null\nsync\necho o > /proc/sysrq-trigger\nsleep 10\n", executable: true)
        try FileManager.default.createDirectory(atPath: dir.file("uml"), withIntermediateDirectories: true)
        if let owner, let pw = getpwnam(owner) {
            for path in [dir.path, dir.file("init.sh"), dir.file("uml")] { chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        }
        let policy = policy ?? SandboxPolicy(mode: .enforce, writablePaths: [dir.path], user: owner)
        let json = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
        let umid = "t\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        process.executableURL = URL(fileURLWithPath: SandboxProbe.path)
        process.arguments = [json, KernelUnderTest.path, "linux.uml", "mem=256M", "rootfstype=hostfs", "rootflags=/",
                             "rw", "init=\(dir.file("init.sh"))", "con=null", "con0=null,fd:1",
                             "uml_dir=\(dir.file("uml"))", "umid=\(umid)"] + extraArgs
        // No TMPDIR: it would make its directory writable (memory file).
        var env = ProcessInfo.processInfo.environment
        for name in ["TMPDIR", "TMP", "TEMP"] { env[name] = nil }
        process.environment = env
        _ = FileManager.default.createFile(atPath: consolePath, contents: nil)
        let console = try FileHandle(forWritingTo: URL(fileURLWithPath: consolePath))
        process.standardOutput = console
        process.standardError = console
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try console.close()
    }

    var pid: pid_t { process.processIdentifier }
    /// The console transcript, with UML's CR-LF line ends made LF.
    var console: String {
        ((try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? "").replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// Waits until the guest creates `$DIR/name` (through hostfs).
    func waitForGuestFile(_ name: String, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: dir.file(name)) { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Waits for the probe (and so the kernel) to end; kills it after `seconds`.
    func finish(seconds: Double = 60) -> (reason: Process.TerminationReason, status: Int32) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationReason, process.terminationStatus)
    }
}

/// Host process table, read from /proc.
enum HostProcesses {
    struct Entry { var pid: pid_t; var ppid: pid_t; var state: Character }

    static func entry(_ pid: pid_t) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 2, let ppid = pid_t(fields[1]) else { return nil }
        return Entry(pid: pid, ppid: ppid, state: fields[0].first ?? "?")
    }

    static func all() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.compactMap(entry)
    }

    /// Every process below `root` (not `root` itself).
    static func descendants(of root: pid_t) -> [pid_t] {
        let table = all()
        var found: [pid_t] = []
        var frontier = [root]
        while let parent = frontier.popLast() {
            let children = table.filter { $0.ppid == parent }.map(\.pid)
            found += children
            frontier += children
        }
        return found
    }

    static func children(of parent: pid_t) -> [pid_t] { all().filter { $0.ppid == parent }.map(\.pid) }

    /// Alive means it exists and is not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let e = entry(pid) else { return false }
        return e.state != "Z" && e.state != "X"
    }

    /// Thread ids of a process.
    static func tasks(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { pid_t($0) }
    }

    /// `Name:\tvalue` from /proc/PID/task/TID/status.
    static func status(_ pid: pid_t, task: pid_t, _ field: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Waits until none of `pids` is alive; returns the survivors.
    static func waitGone(_ pids: [pid_t], seconds: Double = 10) -> [pid_t] {
        let deadline = Date().addingTimeInterval(seconds)
        var alive = pids.filter(isAlive)
        while !alive.isEmpty && Date() < deadline {
            usleep(50_000)
            alive = alive.filter(isAlive)
        }
        return alive
    }
}
