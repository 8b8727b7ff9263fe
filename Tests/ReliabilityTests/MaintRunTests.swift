import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// The same faults and load through `corral maint run`, which boots a copy
    /// of each writable disk and renames it over the original only when the
    /// command succeeds.
    @Suite
    struct MaintRunTests {
        /// The kernel SIGKILLed while `maint run` runs its command: the job
        /// fails, the original COW is byte-for-byte untouched (the guest wrote
        /// to the copy), the copy is gone, and nothing of the boot is left.
        @Test func kernelKilledDuringMaintRun() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try KernelFaultTests.Disks(dir)
                let before = try Rig.DiskFingerprint(dir.appendingPathComponent("guest.cow").path)
                var killed: Int32?
                let run = try CorralRun(
                    name: "maint",
                    ["maint", "run", "--disk", "1=guest.cow", "--",
                     "\(KernelFaultTests.writeMarker("maint-marker")) && echo written && sleep 100"],
                    cwd: dir, tmpdir: dir)
                Watch.until(exited: [run], marker: dir.path, limit: 60) { members in
                    guard killed == nil, run.stdout.contains("written"),
                          let kernel = KernelFaultTests.kernelMain(in: members) else { return }
                    _ = kill(kernel.pid, SIGKILL)
                    killed = kernel.pid
                }
                try #require(killed != nil, "the kernel was never found: \(run.stdout) \(run.stderr)")
                print("maint run, kernel killed: exit \(run.status): \(run.stderr.split(separator: "\n").last ?? "")")
                #expect(run.status != 0)
                #expect(run.stderr.contains("FAILED"), "\(run.stderr)")
                #expect(run.stderr.contains("killed by signal 9"), "\(run.stderr)")
                let left = Leftovers(marker: dir.path, tmpdir: dir, runs: [run])
                #expect(left.isEmpty, "left behind: \(left)")
                let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
                #expect(files.filter { $0.hasPrefix(".guest.cow") }.isEmpty, "the working copy was left: \(files)")
                let after = try Rig.DiskFingerprint(dir.appendingPathComponent("guest.cow").path)
                #expect(after == before, "the original COW changed although the job failed")
                try disks.verify(marker: nil, "a killed maint run")
            }
        }

        /// 8 `maint run` jobs at once, each on its own COW over one backing.
        @Test func eightConcurrentMaintRuns() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let backing = try Rig.makeBacking(in: dir)
                var runs: [CorralRun] = []
                try Rig.createCOWs((1...8).map { "m\($0).cow" }, in: dir)
                let start = Date()
                for slot in 1...8 {
                    let marker = "maint-slot-\(slot)"
                    runs.append(try CorralRun(
                        name: "m\(slot)",
                        ["maint", "run", "--disk", "1=m\(slot).cow", "--",
                         "\(KernelFaultTests.writeMarker(marker)) && echo ok-\(marker)"],
                        cwd: dir, tmpdir: dir))
                }
                Watch.until(exited: runs, marker: dir.path, limit: 120)
                let wall = Date().timeIntervalSince(start)
                print("maint stress: 8 jobs in \(String(format: "%.1f", wall)) s wall; exit \(runs.map(\.status)); "
                    + "max VmHWM \(runs.map(\.peakRSSKiB).max() ?? 0) KiB")
                let left = Leftovers(marker: dir.path, tmpdir: dir, runs: runs)
                #expect(left.isEmpty, "left behind: \(left)")
                for (index, run) in runs.enumerated() {
                    let marker = "maint-slot-\(index + 1)"
                    #expect(run.status == 0, "\(run.name): \(run.stderr)")
                    #expect(run.stdout.hasSuffix("ok-\(marker)\n"), "\(run.name): \(run.stdout)")
                    if run.status == 0 {
                        let bytes = try Rig.guestBytes(cow: "\(run.name).cow", count: marker.utf8.count, in: dir)
                        #expect(bytes == Array(marker.utf8), "\(run.name): the job's write is not in its COW")
                    }
                    let check = try runCorral(["cow", "check", "\(run.name).cow"], cwd: dir.path, mergeStderr: true)
                    #expect(check.status == 0, "\(run.name): \(check.stdout)")
                }
                let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
                #expect(files.filter { $0.hasPrefix(".m") }.isEmpty, "working copies left: \(files)")
                #expect(try Rig.DiskFingerprint(dir.appendingPathComponent("back.img").path) == backing)
            }
        }

        /// `maint run` flooding into a pipe nobody reads, then SIGTERM: corral
        /// stops at once (without `--timeout`, `maint run` has no time limit, so a
        /// signal is the only way out). The step monitor hands the passthrough
        /// output to the boot, which queues it and never blocks on stdout; the
        /// flush after the stop gives up within 2 s, says so, and the job fails
        /// with nothing committed.
        @Test func sigtermStopsAMaintRunFloodingAStuckPipe() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try KernelFaultTests.Disks(dir)
                let before = try Rig.DiskFingerprint(dir.appendingPathComponent("guest.cow").path)
                let pipe = Pipe()
                _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
                let run = try CorralRun(
                    name: "maint", ["maint", "run", "--disk", "1=guest.cow", "--", "yes corral-flood-line"],
                    cwd: dir, tmpdir: dir, stdout: pipe.fileHandleForWriting)
                try pipe.fileHandleForWriting.close()
                var signalled: Date?
                var draining = false
                Watch.until(exited: [run], marker: dir.path, limit: 60) { _ in
                    if signalled == nil, run.elapsed > 6 {
                        run.signal(SIGTERM)
                        signalled = Date()
                    }
                    // Unstick it 10 s after the signal so a failing corral still ends.
                    guard !draining, let at = signalled, Date().timeIntervalSince(at) > 10 else { return }
                    draining = true
                    let reader = pipe.fileHandleForReading
                    Thread.detachNewThread { _ = reader.readDataToEndOfFile() }
                }
                if !draining { try pipe.fileHandleForReading.close() }
                let reaction = run.ended!.timeIntervalSince(try #require(signalled))
                print("maint run flooding a stuck pipe: exit \(run.status) \(String(format: "%.1f", reaction)) s after SIGTERM")
                #expect(run.status == 128 + SIGTERM, "\(run.stderr)")
                #expect(reaction < 5, "corral took \(reaction) s to honour SIGTERM")
                #expect(run.stderr.contains("output were not written: stdout is not being read"), "\(run.stderr)")
                #expect(run.stderr.contains("nothing was replaced"), "\(run.stderr)")
                let left = Leftovers(marker: dir.path, tmpdir: dir, runs: [run])
                #expect(left.isEmpty, "left behind: \(left)")
                #expect(try Rig.DiskFingerprint(dir.appendingPathComponent("guest.cow").path) == before)
                try disks.verify(marker: nil, "a stuck maint run")
            }
        }
    }
}
