import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// Many boots at once on a small machine, and two boots fighting over one COW.
    @Suite struct StressTests {
        /// Exit statuses corral makes up for a failed boot (BootExitStatus).
        static let cleanFailures: Set<Int32> = [124, 240, 241, 242, 243, 244]

        /// 8 `corral boot --command` sessions at once, 2 rounds; each has its own
        /// COW over one shared backing and writes 4 KiB to it with O_DIRECT.
        @Test func eightConcurrentBootsTwice() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let backing = try Rig.makeBacking(in: dir)
                let ptysBefore = Rig.ptyCount()
                var failures: [String] = []
                var walls: [Double] = []
                var peak = 0
                for round in 1...2 {
                    var runs: [CorralRun] = []
                    try Rig.createCOWs((1...8).map { "r\(round)s\($0).cow" }, in: dir)
                    let start = Date()
                    for slot in 1...8 {
                        let marker = "round-\(round)-slot-\(slot)"
                        runs.append(try CorralRun(
                            name: "r\(round)s\(slot)",
                            ["boot", "--disk", "1=r\(round)s\(slot).cow", "--timeout", "90", "--log", "r\(round)s\(slot).log", "--command",
                             "printf '\(marker)' | dd of=/dev/ubdb bs=4096 count=1 conv=sync oflag=direct status=none && echo ok-\(marker)"],
                            cwd: dir, tmpdir: dir))
                    }
                    Watch.until(exited: runs, marker: dir.path, limit: 120)
                    let wall = Date().timeIntervalSince(start)
                    walls.append(wall)

                    let left = Leftovers(marker: dir.path, tmpdir: dir, runs: runs)
                    #expect(left.isEmpty, "round \(round) left behind: \(left)")
                    for (index, run) in runs.enumerated() {
                        let slot = index + 1
                        let marker = "round-\(round)-slot-\(slot)"
                        peak = max(peak, run.peakRSSKiB)
                        if run.status == 0 {
                            // Exactly the command's output: no kernel or UML helper text
                            // (the winch helper's TIOCSCTTY error used to land here under load).
                            #expect(run.stdout == "ok-\(marker)\n", "\(run.name): \(run.stdout) \(run.stderr)")
                            let bytes = try Rig.guestBytes(cow: "\(run.name).cow", count: marker.utf8.count, in: dir)
                            #expect(bytes == Array(marker.utf8), "\(run.name): the guest's write is not in its COW")
                        } else {
                            // A failure must be a clean one: a status corral documents, and its line.
                            failures.append("\(run.name): exit \(run.status): \(run.stderr.suffix(300))")
                            #expect(Self.cleanFailures.contains(run.status), "\(run.name) exit \(run.status): \(run.stderr)")
                            #expect(run.stderr.contains("(exit status \(run.status))"), "\(run.name): \(run.stderr)")
                        }
                        let check = try runCorral(["cow", "check", "\(run.name).cow"], cwd: dir.path, mergeStderr: true)
                        #expect(check.status == 0, "\(run.name): \(check.stdout)")
                        // Not even before the command: the winch helper works under the sandbox.
                        let log = (try? String(contentsOfFile: dir.appendingPathComponent("\(run.name).log").path, encoding: .utf8)) ?? ""
                        #expect(!log.contains("winch_thread"), "\(run.name): \(log)")
                    }
                    print("stress round \(round): 8 boots in \(String(format: "%.1f", wall)) s wall; "
                        + "each \(runs.map { String(format: "%.1f", $0.elapsed) }.joined(separator: " ")) s; "
                        + "exit \(runs.map(\.status)); distinct ptys \(Set(runs.flatMap(\.ptys)).count)")
                }
                let after = try Rig.DiskFingerprint(dir.appendingPathComponent("back.img").path)
                #expect(after == backing, "the shared backing changed: \(backing) -> \(after)")
                let ptysAfter = Rig.ptyCount()
                print("stress: walls \(walls.map { String(format: "%.1f", $0) }) s, failures \(failures.count) \(failures), "
                    + "max corral VmHWM \(peak) KiB, /dev/pts entries \(ptysBefore) before, \(ptysAfter) after (machine-wide)")
                #expect(failures.isEmpty, "failed boots (clean, but failed): \(failures)")
            }
        }

        /// Two boots attach the same COW; the second is refused before anything
        /// starts, naming the holder. The kernel locks a disk's file only while
        /// the guest has the device open (ubd opens it on first use): then the
        /// kernel is named; before that, corral's lease names the first corral.
        @Test func secondBootOfTheSameCOWIsRefused() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let backing = try Rig.makeBacking(in: dir)
                let created = try runCorral(["cow", "create", "guest.cow", "back.img"], cwd: dir.path, mergeStderr: true)
                try #require(created.status == 0, "\(created.stdout)")
                let go = Pipe()
                let first = try CorralRun(
                    name: "first",
                    ["boot", "--disk", "1=guest.cow", "--timeout", "60", "--command",
                     "echo idle; read go; exec 3</dev/ubdb; echo holding; sleep 100"],
                    cwd: dir, tmpdir: dir, stdin: go.fileHandleForReading)
                var early: CorralRun?
                var refused: CorralRun?
                var kernelPID: Int32?
                Watch.until(exited: [first], marker: dir.path, limit: 60) { members in
                    if early == nil, first.stdout.contains("idle") {
                        // The first guest has not opened its disk yet.
                        early = try? CorralRun(
                            name: "early", ["boot", "--disk", "1=guest.cow", "--timeout", "60", "--command", "echo early-ran"],
                            cwd: dir, tmpdir: dir)
                        early?.process.waitUntilExit()
                        try? go.fileHandleForWriting.write(contentsOf: Data("go\n".utf8))
                    }
                    if refused == nil, first.stdout.contains("holding"), let kernel = Reliability.KernelFaultTests.kernelMain(in: members) {
                        kernelPID = kernel.pid
                        refused = try? CorralRun(
                            name: "second", ["boot", "--disk", "1=guest.cow", "--timeout", "60", "--command", "echo second-ran"],
                            cwd: dir, tmpdir: dir)
                        refused?.process.waitUntilExit()
                        first.signal(SIGTERM)
                    }
                }
                try? go.fileHandleForWriting.close()
                let second = try #require(refused, "the first boot never held the disk: \(first.stdout) \(first.stderr)")
                let holder = try #require(kernelPID)
                print("same COW twice: while the first guest holds /dev/ubdb, second exit \(second.status): "
                    + "\(second.stderr.split(separator: "\n").first ?? ""); before it opened it, exit \(early?.status ?? -1): \(early?.stderr.split(separator: "\n").first ?? "")")
                #expect(second.status == 240, "\(second.stderr)")
                // Names the file, the kernel holding it (by host pid) and the
                // corral boot that kernel belongs to.
                #expect(second.stderr.contains("preflight: disk 1 (ubdb): guest.cow is in use by process \(holder) (linux.uml, the kernel of corral process \(first.pid))"),
                        "kernel \(holder): \(second.stderr)")
                #expect(second.stderr.contains("preflight failed; nothing was started"))
                #expect(!second.stdout.contains("second-ran"))
                #expect(first.status == 128 + SIGTERM, "\(first.stderr)")
                // Before the first guest opened its disk the kernel held no lock:
            // corral's own lease refuses the second boot then, naming the first corral.
            // (From 6.12 on, ubd opens its files when the device is added, at
            // boot: there the kernel already holds the lock and is the one named.)
            let idle = try #require(early)
            #expect(idle.status == 240, "\(idle.stdout) \(idle.stderr)")
            // Either way the first boot is the one named: itself, or as its kernel's owner.
            #expect(idle.stderr.contains("guest.cow is in use by process \(first.pid) (corral)")
                    || (TestEnvironment.kernelSeries != "6.1" && idle.stderr.contains("(linux.uml, the kernel of corral process \(first.pid))")),
                    "\(idle.stderr)")
            #expect(!idle.stdout.contains("early-ran"))
            let left = Leftovers(marker: dir.path, tmpdir: dir, runs: [first])
                #expect(left.isEmpty, "left behind: \(left)")
                let check = try runCorral(["cow", "check", "guest.cow"], cwd: dir.path, mergeStderr: true)
                #expect(check.status == 0, "\(check.stdout)")
                #expect(try Rig.DiskFingerprint(dir.appendingPathComponent("back.img").path) == backing)
            }
        }

    }
}
