import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `corral` binary under watch: what it started, which ptys
/// those processes held, how much memory corral used, and what was left
/// behind once it exited.
///
/// Every boot runs with `TMPDIR` set to a fresh scratch directory, so its
/// `uml_dir` (`$TMPDIR/corral-boot-<umid>`) lands there and every process of
/// the boot (corral, the `_kernel-exec` helper, the reaper, the kernel, its
/// threads and stubs) carries the scratch path in its command line or
/// environment. "Ours" means exactly that: processes are never picked by name.
enum Rig {
    /// The package's debug build; CORRAL_RELIABILITY_BINARY points the tests at
    /// another build (e.g. a branch's) for a one-off comparison.
    static let corral = ProcessInfo.processInfo.environment["CORRAL_RELIABILITY_BINARY"] ?? TestPaths.corral

    // Whether these tests run, and on which kernel: ``KernelUnderTest``
    // (root: the sandbox's namespaces, /proc of every process).

    // MARK: - Scratch

    /// A fresh directory under /tmp with a short unique name (the kernel limits
    /// disk path lengths), removed by `body`'s end.
    static func withScratch<T>(_ body: (URL) throws -> T) throws -> T {
        try Scratch.with("crl", in: "/tmp", body)
    }

    /// Runs a shell script; fails the test on a non-zero status.
    @discardableResult
    static func sh(_ script: String, cwd: URL) throws -> String {
        let r = try runProcess("/bin/sh", ["-ec", script], cwd: cwd.path, mergeStderr: true)
        try #require(r.status == 0, "sh failed (\(r.status)): \(script)\n\(r.stdout)")
        return r.stdout
    }

    /// `corral ARGS` to completion (for `cow` subcommands).
    static func corralTool(_ arguments: [String], cwd: URL) throws -> (status: Int32, output: String) {
        let r = try runProcess(corral, arguments, cwd: cwd.path, environment: TestEnvironment.childEnvironment, mergeStderr: true)
        return (r.status, r.stdout)
    }

    /// A 16 MiB backing file with random content, and its SHA-256 and mtime.
    static func makeBacking(in dir: URL, name: String = "back.img") throws -> DiskFingerprint {
        try sh("head -c 16777216 /dev/urandom > \(name) && touch -d @1704067200 \(name)", cwd: dir)
        return try DiskFingerprint(dir.appendingPathComponent(name).path)
    }

    struct DiskFingerprint: Equatable, CustomStringConvertible {
        var sha256: String
        var size: Int64
        var mtime: Int
        init(_ path: String) throws {
            let sum = try Rig.sh("sha256sum '\(path)'", cwd: URL(fileURLWithPath: "/"))
            sha256 = String(sum.prefix(64))
            var st = stat()
            try #require(stat(path, &st) == 0)
            size = Int64(st.st_size)
            mtime = st.st_mtim.tv_sec
        }
        var description: String { "\(sha256.prefix(12)) \(size) B mtime \(mtime)" }
    }

    /// The first `count` bytes the guest sees on a COW disk (flattened with corral).
    static func guestBytes(cow: String, count: Int, in dir: URL) throws -> [UInt8] {
        let flat = dir.appendingPathComponent("flat-\(UUID().uuidString.prefix(6)).img")
        defer { try? FileManager.default.removeItem(at: flat) }
        let r = try corralTool(["cow", "flatten", cow, flat.path], cwd: dir)
        try #require(r.status == 0, "flatten \(cow): \(r.output)")
        let handle = try FileHandle(forReadingFrom: flat)
        defer { try? handle.close() }
        return Array(try handle.read(upToCount: count) ?? Data())
    }

    // MARK: - /proc

    struct ProcInfo {
        var pid: Int32
        var parent: Int32
        var session: Int32
        var state: Character
        var comm: String
    }

    static func procStat(_ pid: Int32) -> ProcInfo? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 3, let parent = Int32(fields[1]), let session = Int32(fields[3]) else { return nil }
        return ProcInfo(pid: pid, parent: parent, session: session, state: fields[0].first ?? "?",
                        comm: String(text[text.index(after: open)..<close]))
    }

    static func readProcFile(_ path: String) -> Data? {
        FileManager.default.contents(atPath: path)
    }

    /// Live processes whose command line or environment holds `marker`.
    static func processes(marked marker: String) -> [ProcInfo] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> ProcInfo? in
            guard let pid = Int32(name), pid != getpid(), isMarked(pid, marker),
                  let info = procStat(pid), info.state != "Z" else { return nil }
            return info
        }
    }

    static func isMarked(_ pid: Int32, _ marker: String) -> Bool {
        let needle = Data(marker.utf8)
        return [readProcFile("/proc/\(pid)/cmdline"), readProcFile("/proc/\(pid)/environ")]
            .contains { $0?.range(of: needle) != nil }
    }

    /// A pty seen held by a process of the boot; the same path with the same
    /// ctime afterwards means it was never released (a new pty with that
    /// number gets a new ctime).
    /// The device is part of the identity: a sandboxed kernel's ptys live in
    /// a devpts instance of its own, where /dev/pts/0 is not the host's.
    struct PtyUse: Hashable, CustomStringConvertible {
        var path: String
        var device: UInt64
        var ctimeSec: Int
        var ctimeNsec: Int
        var description: String { path }

        var stillAllocated: Bool {
            var st = stat()
            guard stat(path, &st) == 0 else { return false }
            return UInt64(st.st_dev) == device && st.st_ctim.tv_sec == ctimeSec && st.st_ctim.tv_nsec == ctimeNsec
        }
    }

    static func ptys(heldBy pid: Int32) -> [PtyUse] {
        let fdDir = "/proc/\(pid)/fd"
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? []
        var uses: [PtyUse] = []
        for fd in fds {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"),
                  target.hasPrefix("/dev/pts/"), Int(target.dropFirst(9)) != nil else { continue }
            // Through the fd link: the file the process holds, in its own namespace.
            var st = stat()
            guard stat("\(fdDir)/\(fd)", &st) == 0 else { continue }
            uses.append(PtyUse(path: target, device: UInt64(st.st_dev),
                               ctimeSec: st.st_ctim.tv_sec, ctimeNsec: st.st_ctim.tv_nsec))
        }
        return uses
    }

    /// `ptys(heldBy:)` of a process that is still ours afterwards (stubs come
    /// and go by the hundred, so a pid may have been reused meanwhile).
    static func ptys(heldBy pid: Int32, marker: String) -> [PtyUse] {
        let uses = ptys(heldBy: pid)
        return isMarked(pid, marker) ? uses : []
    }

    /// Peak resident set (VmHWM) in KiB.
    static func peakRSS(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// Entries of /dev/pts (all users of the machine: for the report, not for asserts).
    static func ptyCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/dev/pts")) ?? []).filter { Int($0) != nil }.count
    }

    /// `corral-boot-*` directories left in `dir`.
    static func umidDirectories(in dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("corral-boot-") }
    }
}

/// One `corral` run in the background, with stdout and stderr in files.
final class CorralRun {
    let name: String
    let process = Process()
    let stdoutPath: String
    let stderrPath: String
    let started = Date()
    var ended: Date?
    /// Largest VmHWM seen while it ran.
    var peakRSSKiB = 0
    /// Every pty a process of this run held.
    var ptys = Set<Rig.PtyUse>()
    /// Every pid seen as part of this run.
    var seen = Set<Int32>()

    /// - Parameters:
    ///   - tmpdir: its `TMPDIR`, a path unique to this test (see `Rig`).
    ///   - stdout: instead of the `<name>.out` file.
    ///   - stdin: instead of /dev/null.
    init(name: String, _ arguments: [String], cwd: URL, tmpdir: URL, stdout: FileHandle? = nil, stdin: FileHandle? = nil) throws {
        self.name = name
        stdoutPath = cwd.appendingPathComponent("\(name).out").path
        stderrPath = cwd.appendingPathComponent("\(name).err").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Rig.corral)
        process.arguments = arguments
        process.currentDirectoryURL = cwd
        var environment = TestEnvironment.childEnvironment  // the test kernel first on PATH
        environment["TMPDIR"] = tmpdir.path
        process.environment = environment
        process.standardInput = stdin ?? FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = stdout ?? FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var status: Int32 { process.terminationStatus }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var elapsed: Double { (ended ?? Date()).timeIntervalSince(started) }
    var stdoutSize: Int { ((try? FileManager.default.attributesOfItem(atPath: stdoutPath)[.size]) as? Int) ?? 0 }

    func sample(members: [Rig.ProcInfo], marker: String) {
        if let rss = Rig.peakRSS(pid) { peakRSSKiB = max(peakRSSKiB, rss) }
        for member in members {
            seen.insert(member.pid)
            for use in Rig.ptys(heldBy: member.pid, marker: marker) { ptys.insert(use) }
        }
    }

    func signal(_ sig: Int32) { _ = kill(pid, sig) }
}

/// Watches runs that share one scratch marker until all exit (or `limit`
/// seconds pass: then they are SIGKILLed and the test fails).
enum Watch {
    /// `tick` is called about every 100 ms with the live processes of the
    /// marker; return without doing anything when there is nothing to do.
    static func until(
        exited runs: [CorralRun], marker: String, limit: Double = 90,
        tick: ([Rig.ProcInfo]) -> Void = { _ in }
    ) {
        let start = Date()
        while runs.contains(where: { $0.isRunning }) {
            let members = Rig.processes(marked: marker)
            for run in runs where run.isRunning {
                run.sample(members: members, marker: marker)
                if !run.isRunning, run.ended == nil { run.ended = Date() }
            }
            tick(members)
            if Date().timeIntervalSince(start) > limit {
                for run in runs where run.isRunning { run.signal(SIGKILL) }
                Issue.record("corral did not exit within \(limit) s")
                break
            }
            usleep(100_000)
            for run in runs where !run.isRunning && run.ended == nil { run.ended = Date() }
        }
        for run in runs {
            run.process.waitUntilExit()
            if run.ended == nil { run.ended = Date() }
        }
    }
}

/// What a finished boot left behind.
struct Leftovers: CustomStringConvertible {
    var processes: [Rig.ProcInfo]
    var umidDirectories: [String]
    var ptys: [Rig.PtyUse]

    init(marker: String, tmpdir: URL, runs: [CorralRun]) {
        processes = Rig.processes(marked: marker)
        umidDirectories = Rig.umidDirectories(in: tmpdir)
        ptys = runs.flatMap(\.ptys).filter(\.stillAllocated)
    }

    var isEmpty: Bool { processes.isEmpty && umidDirectories.isEmpty && ptys.isEmpty }

    var description: String {
        "processes \(processes.map { "\($0.pid)(\($0.comm),\($0.state))" }), "
            + "umid dirs \(umidDirectories), ptys \(ptys)"
    }
}

/// Every test of this target, one at a time: boots compete for 2 cores, and
/// the timing checks (timeouts, reaction to a kill) need them.
@Suite(.serialized, .enabled(if: KernelUnderTest.enabled(root: true), "needs root and linux.uml (set CORRAL_REQUIRE_UML=1 to fail instead)"))
enum Reliability {}
