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
    // Whether these tests run, and on which kernel: ``KernelUnderTest``
    // (root: the sandbox's namespaces, /proc of every process).

    // MARK: - Scratch

    /// A fresh directory under /tmp with a short unique name (the kernel limits
    /// disk path lengths), removed by `body`'s end.
    static func withScratch<T>(_ body: (URL) throws -> T) throws -> T {
        try Scratch.with("crl", in: "/tmp", body)
    }

    /// `corral cow create NAME back.img` in `dir` for each name; fails the
    /// test on the first that does not succeed.
    static func createCOWs(_ names: [String], in dir: URL, backing: String = "back.img") throws {
        for name in names {
            let created = try runCorral(["cow", "create", name, backing], cwd: dir.path, mergeStderr: true)
            try #require(created.status == 0, "\(created.stdout)")
        }
    }

    /// A 16 MiB backing file with random content, and its SHA-256 and mtime.
    static func makeBacking(in dir: URL, name: String = "back.img") throws -> DiskFingerprint {
        try shell("head -c 16777216 /dev/urandom > \(name) && touch -d @1704067200 \(name)", cwd: dir.path)
        return try DiskFingerprint(dir.appendingPathComponent(name).path)
    }

    struct DiskFingerprint: Equatable, CustomStringConvertible {
        var sha256: String
        var size: Int64
        var mtime: Int
        init(_ path: String) throws {
            sha256 = try TestSupport.sha256(path)
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
        let r = try runCorral(["cow", "flatten", cow, flat.path], cwd: dir.path, mergeStderr: true)
        try #require(r.status == 0, "flatten \(cow): \(r.stdout)")
        let handle = try FileHandle(forReadingFrom: flat)
        defer { try? handle.close() }
        return Array(try handle.read(upToCount: count) ?? Data())
    }

    // MARK: - /proc

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
        return HostProcesses.isMarked(pid, marker) ? uses : []
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
        process.executableURL = URL(fileURLWithPath: TestPaths.corral)
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

    func sample(members: [HostProcesses.Entry], marker: String) {
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
    /// `tick` is called with the live processes of the marker, every 20 ms
    /// for the first two seconds (a panic at init is over within 200 ms on
    /// 7.2, and a watch that missed it sees no pty) and every 100 ms after;
    /// return without doing anything when there is nothing to do.
    static func until(
        exited runs: [CorralRun], marker: String, limit: Double = 90,
        tick: ([HostProcesses.Entry]) -> Void = { _ in }
    ) {
        let start = Date()
        while runs.contains(where: { $0.isRunning }) {
            let members = HostProcesses.marked(marker)
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
            usleep(Date().timeIntervalSince(start) < 2 ? 20_000 : 100_000)
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
    var processes: [HostProcesses.Entry]
    var umidDirectories: [String]
    var ptys: [Rig.PtyUse]

    init(marker: String, tmpdir: URL, runs: [CorralRun]) {
        processes = HostProcesses.marked(marker)
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
