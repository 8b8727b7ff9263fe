import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// Kernel faults in the middle of a `corral boot --command` session with a
    /// COW disk attached (the default sandbox): the kernel SIGKILLed, a panic, a
    /// hung guest, a console flood. For each: the exit status and message say
    /// which fault it was; nothing the boot started is left (processes, pty,
    /// `uml_dir`); the COW is still a valid COW holding what the guest wrote
    /// before the fault, and its backing is unchanged.
    @Suite struct KernelFaultTests {
        /// Writes `marker` to the first 4 KiB of the COW disk, bypassing the guest's cache.
        static func writeMarker(_ marker: String) -> String {
            "printf '\(marker)' | dd of=/dev/ubdb bs=4096 count=1 conv=sync oflag=direct status=none"
        }

        /// A scratch directory with back.img (random) and guest.cow over it.
        struct Disks {
            var dir: URL
            var backing: Rig.DiskFingerprint

            init(_ dir: URL) throws {
                self.dir = dir
                backing = try Rig.makeBacking(in: dir)
                let r = try runCorral(["cow", "create", "guest.cow", "back.img"], cwd: dir.path, mergeStderr: true)
                try #require(r.status == 0, "\(r.stdout)")
            }

            /// The COW checks clean (warnings allowed), the backing is bit-for-bit
            /// what it was, and the guest sees `marker` at the start of the disk.
            func verify(marker: String?, _ comment: String) throws {
                let check = try runCorral(["cow", "check", "--deep", "guest.cow"], cwd: dir.path, mergeStderr: true)
                #expect(check.status == 0, "cow check after \(comment): \(check.stdout)")
                let now = try Rig.DiskFingerprint(dir.appendingPathComponent("back.img").path)
                #expect(now == backing, "backing changed by \(comment): \(backing) -> \(now)")
                if let marker {
                    let bytes = try Rig.guestBytes(cow: "guest.cow", count: marker.utf8.count, in: dir)
                    #expect(bytes == Array(marker.utf8), "the guest's write before \(comment) is not on the disk")
                }
            }
        }

        /// Boots with guest.cow as ubd1 and the default sandbox, watches it to the end.
        static func boot(
            _ disks: Disks, _ extra: [String], limit: Double = 60,
            tick: (CorralRun, [HostProcesses.Entry]) -> Void = { _, _ in }
        ) throws -> (run: CorralRun, left: Leftovers) {
            let run = try CorralRun(
                name: "boot", ["boot", "--disk", "1=guest.cow", "--log", "boot.log"] + extra,
                cwd: disks.dir, tmpdir: disks.dir)
            Watch.until(exited: [run], marker: disks.dir.path, limit: limit) { tick(run, $0) }
            let left = Leftovers(marker: disks.dir.path, tmpdir: disks.dir, runs: [run])
            #expect(left.isEmpty, "left behind: \(left)")
            #expect(!run.ptys.isEmpty, "no pty was seen: the watch missed the boot")
            #expect(run.stderr.contains("corral: "), "no corral message on stderr")
            return (run, left)
        }

        /// The kernel's main process: the linux.uml process of the boot whose
        /// parent is not itself a linux.uml process (stubs and helpers are its children).
        static func kernelMain(in members: [HostProcesses.Entry]) -> HostProcesses.Entry? {
            let pids = Dictionary(members.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
            return members.first { member in
                member.comm == "linux.uml" && pids[member.parent]?.comm != "linux.uml"
            }
        }

        /// Also without the sandbox, where no PID namespace takes the kernel's
        /// stubs and helpers down with it (sandbox.md §0 item 5): corral's
        /// session kill must.
        @Test(arguments: ["enforce", "off"])
        func kernelKilledMidSession(sandbox: String) throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try Disks(dir)
                var killed: (pid: Int32, at: Date)?
                let marker = "corral-killed-kernel-was-here"
                let (run, _) = try Self.boot(disks, [
                    "--sandbox", sandbox, "--timeout", "60",
                    "--command", "\(Self.writeMarker(marker)) && echo written && sleep 100",
                ]) { watched, members in
                    guard killed == nil, watched.stdout.contains("written"), let kernel = Self.kernelMain(in: members) else { return }
                    _ = kill(kernel.pid, SIGKILL)
                    killed = (kernel.pid, Date())
                }
                let victim = try #require(killed, "the kernel's main process was never found: \(run.stderr)")
                let reaction = run.ended!.timeIntervalSince(victim.at)
                print("kernel killed (sandbox \(sandbox)): pid \(victim.pid), corral exited \(String(format: "%.2f", reaction)) s later with \(run.status); ptys \(run.ptys)")
                // The command had started: its status is lost (244), and corral says the kernel was killed.
                #expect(run.status == 244, "\(run.stderr)")
                #expect(run.stderr.contains("the kernel stopped before the command reported its exit status"), "\(run.stderr)")
                #expect(run.stderr.contains("killed by signal 9"), "\(run.stderr)")
                #expect(reaction < 5)
                try disks.verify(marker: marker, "a SIGKILLed kernel")
            }
        }

        @Test func guestPanicsThroughSysrq() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try Disks(dir)
                let marker = "corral-panic-after-this"
                let (run, _) = try Self.boot(disks, [
                    "--timeout", "60",
                    "--command", "\(Self.writeMarker(marker)) && echo c > /proc/sysrq-trigger; sleep 30",
                ])
                #expect(run.status == 243, "\(run.stderr)")
                #expect(run.stderr.contains("corral: kernel panic (exit status 243)"), "\(run.stderr)")
                // The command had started, so the console's last words are its output (and in the log).
                #expect(run.stdout.contains("Kernel panic - not syncing: sysrq triggered crash"), "\(run.stdout.suffix(400))")
                #expect(run.elapsed < 20)
                try disks.verify(marker: marker, "a guest panic")
            }
        }

        @Test func missingInitPanics() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try Disks(dir)
                let (run, _) = try Self.boot(disks, ["--timeout", "60", "--init", "/nonexistent"])
                #expect(run.status == 243, "\(run.stderr)")
                #expect(run.stderr.contains("kernel panic"), "\(run.stderr)")
                #expect(run.stdout.contains("Requested init /nonexistent failed"), "\(run.stdout.suffix(400))")
                try disks.verify(marker: nil, "a panic at init")
            }
        }

        @Test func hungGuestTimesOut() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try Disks(dir)
                let marker = "corral-hung-guest"
                let (run, _) = try Self.boot(disks, [
                    "--timeout", "5", "--command", "\(Self.writeMarker(marker)) && sleep 1000",
                ])
                print("hung guest: exit \(run.status) after \(String(format: "%.2f", run.elapsed)) s")
                #expect(run.status == 124, "\(run.stderr)")
                #expect(run.stderr.contains("timed out; stopped the kernel and every process of this boot"), "\(run.stderr)")
                #expect(run.elapsed >= 5 && run.elapsed < 10)
                try disks.verify(marker: marker, "a timeout")
            }
        }

        /// A guest that writes to its console as fast as it can for 10 s: corral
        /// relays it, keeps a flat memory profile, honours the timeout on time
        /// and stops cleanly.
        @Test func consoleFloodIsRelayedWithBoundedMemory() throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try Disks(dir)
                let (run, _) = try Self.boot(disks, ["--timeout", "10", "--command", "yes corral-flood-line"])
                let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                print("console flood: \(run.stdoutSize) bytes relayed in \(String(format: "%.2f", run.elapsed)) s, corral VmHWM \(run.peakRSSKiB) KiB, exit \(run.status)")
                #expect(run.status == 124, "\(run.stderr)")
                #expect(run.elapsed >= 10 && run.elapsed < 14, "the timeout fired late: \(run.elapsed) s")
                #expect(run.stdoutSize > 10_000, "the flood did not come through")
                // Every complete line is the guest's; only the last may be cut.
                #expect(lines.dropLast().allSatisfy { $0 == "corral-flood-line" })
                #expect(run.peakRSSKiB > 0 && run.peakRSSKiB < 64 * 1024, "peak RSS \(run.peakRSSKiB) KiB")
                let log = try String(contentsOfFile: dir.appendingPathComponent("boot.log").path, encoding: .utf8)
                #expect(log.contains("corral| exit status 124"))
                try disks.verify(marker: nil, "a console flood")
            }
        }

        /// The same flood into a pipe nobody reads (a stuck pager, a wedged
        /// consumer): corral must still honour --timeout, or SIGTERM, and stop
        /// the kernel; what it could not write is dropped after 2 s, and said.
        @Test(arguments: ["timeout", "sigterm"])
        func floodIntoAStuckPipeStillStops(by stop: String) throws {
            try KernelUnderTest.require(root: true)
            try Rig.withScratch { dir in
                let disks = try Disks(dir)
                let pipe = Pipe()
                // One page: the pipe fills within a second or two of flooding.
                _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
                let run = try CorralRun(
                    name: "stuck",
                    ["boot", "--disk", "1=guest.cow", "--timeout", stop == "timeout" ? "5" : "60", "--command", "yes corral-flood-line"],
                    cwd: dir, tmpdir: dir, stdout: pipe.fileHandleForWriting)
                try pipe.fileHandleForWriting.close()
                var draining = false
                var signalled = false
                Watch.until(exited: [run], marker: dir.path, limit: 60) { _ in
                    if stop == "sigterm", !signalled, run.elapsed > 5 {
                        signalled = true
                        run.signal(SIGTERM)
                    }
                    // Unstick it after 20 s so a failing corral still ends.
                    guard !draining, run.elapsed > 20 else { return }
                    draining = true
                    let reader = pipe.fileHandleForReading
                    Thread.detachNewThread { _ = reader.readDataToEndOfFile() }
                }
                if !draining { try pipe.fileHandleForReading.close() }
                let left = Leftovers(marker: dir.path, tmpdir: dir, runs: [run])
                print("flood into a stuck pipe, stopped by \(stop): exit \(run.status) after \(String(format: "%.2f", run.elapsed)) s, VmHWM \(run.peakRSSKiB) KiB")
                #expect(left.isEmpty, "left behind: \(left)")
                #expect(run.status == (stop == "timeout" ? 124 : 128 + SIGTERM), "\(run.stderr)")
                #expect(run.elapsed < 10, "corral was stuck writing its output for \(run.elapsed) s, past its 5 s \(stop)")
                #expect(run.stderr.contains("output were not written: stdout is not being read"), "\(run.stderr)")
                #expect(run.peakRSSKiB < 64 * 1024)
                try disks.verify(marker: nil, "a flood into a stuck pipe")
            }
        }
    }
}
