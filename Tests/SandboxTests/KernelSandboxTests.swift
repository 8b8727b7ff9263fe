import CSandboxShim
import Foundation
import Sandbox
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: the real linux.uml booted through `SandboxRunner.execKernel`
/// (via corral-sandbox-probe) under `.enforce`. One boot per test, ~2-5 s each.
@Suite(.serialized, .enabled(if: KernelUnderTest.enabled(root: true), "needs root and /usr/bin/linux.uml"))
struct KernelSandboxTests {
    /// Processes whose command line carries this boot's umid: the kernel and
    /// every clone of it (helper threads, winch helper, stubs never exec).
    static func sessionProcesses(umid: String) -> [pid_t] {
        HostProcesses.all().map(\.pid).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains("umid=\(umid)\0")
        }.filter(HostProcesses.isAlive)
    }

    static func umid(of boot: KernelBoot) -> String {
        boot.process.arguments!.first { $0.hasPrefix("umid=") }!.dropFirst(5).description
    }

    @Test(.timeLimit(.minutes(2)))
    func rsyncBetweenTwoDisksUnderEnforceWithEveryTaskFiltered() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-rsync", in: "/tmp")
        let tree = dir.file("tree")
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try "alpha\n".write(toFile: tree + "/a.txt", atomically: false, encoding: .utf8)
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        try Data(big).write(to: URL(fileURLWithPath: tree + "/sub/big.bin"))
        try "gamma, copied by rsync in the guest\n".write(toFile: tree + "/sub/c.txt", atomically: false, encoding: .utf8)
        try run("/usr/sbin/mkfs.ext4", ["-q", "-F", "-d", tree, dir.file("src.img"), "32M"])
        try run("/usr/sbin/mkfs.ext4", ["-q", "-F", dir.file("dst.img"), "32M"])

        let boot = try KernelBoot(dir: dir, script: """
            mount -t proc proc /proc
            mount -t tmpfs tmpfs /run
            mkdir /run/a /run/b
            mknod /run/ubdb b 98 16
            mknod /run/ubdc b 98 32
            mount /run/ubdb /run/a && mount /run/ubdc /run/b && rsync -a /run/a/ /run/b/ && echo RSYNC-OK
            touch $DIR/ready
            sleep 4
            umount /run/a /run/b
            """, extraArgs: ["ubd1=\(dir.file("src.cow")),\(dir.file("src.img"))", "ubd2=\(dir.file("dst.img"))"])
        let ready = boot.waitForGuestFile("ready")
        #expect(ready, "guest never got ready:\n\(boot.console)")

        if ready {
            // helper -> reaper (PID 1 of the namespace) -> kernel (PID 2) -> the rest
            let reapers = HostProcesses.children(of: boot.pid)
            #expect(reapers.count == 1)
            if let reaper = reapers.first, let kernel = HostProcesses.children(of: reaper).first {
                #expect(HostProcesses.status(reaper, task: reaper, "NSpid")?.split(separator: "\t").last == "1")
                // The reaper keeps only CAP_KILL (bit 5), to signal a kernel of another uid.
                for field in ["CapEff", "CapPrm"] {
                    #expect(HostProcesses.status(reaper, task: reaper, field) == "0000000000000020",
                            "reaper \(field) \(HostProcesses.status(reaper, task: reaper, field) ?? "?")")
                }
                #expect(HostProcesses.status(kernel, task: kernel, "NSpid")?.split(separator: "\t").last == "2")
                let ownNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
                let kernelNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(kernel)/ns/mnt")
                #expect(ownNS != kernelNS, "the kernel must have its own mount namespace")
                // No network namespace where Landlock scopes abstract sockets
                // (ABI 6): JailEscapeTests sends to one from the kernel's side.
                for ns in ["ipc", "pid"] + (corral_landlock_abi() >= 6 ? [] : ["net"]) {
                    let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)")
                    let its = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(kernel)/ns/\(ns)")
                    #expect(mine != its, "the kernel must have its own \(ns) namespace")
                }

                var checked = 0
                for pid in HostProcesses.descendants(of: reaper) {
                    for task in HostProcesses.tasks(of: pid) {
                        guard let seccomp = HostProcesses.status(pid, task: task, "Seccomp"),
                              let nnp = HostProcesses.status(pid, task: task, "NoNewPrivs") else { continue }
                        #expect(seccomp == "2", "task \(task) of \(pid): Seccomp \(seccomp)")
                        #expect(nnp == "1", "task \(task) of \(pid): NoNewPrivs \(nnp)")
                        // Root's kernel runs as a uid of its own, with no capability.
                        let uid = HostProcesses.status(pid, task: task, "Uid") ?? "?"
                        #expect(!uid.split(separator: "\t").contains("0"), "task \(task) of \(pid): Uid \(uid)")
                        // ...nor any to be had at an exec (empty bounding set, SECBIT_NOROOT).
                        for field in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
                            #expect(HostProcesses.status(pid, task: task, field) == "0000000000000000",
                                    "task \(task) of \(pid): \(field) \(HostProcesses.status(pid, task: task, field) ?? "?")")
                        }
                        checked += 1
                    }
                }
                // main + ubd thread + SIGIO thread + at least one stub
                #expect(checked >= 4, "only \(checked) UML tasks seen")
            }
        }
        let end = boot.finish()
        #expect(end.reason == .exit && end.status == 0, "kernel ended \(end):\n\(boot.console)")
        #expect(boot.console.contains("RSYNC-OK"), "\(boot.console)")
        let copied = try run("/usr/sbin/debugfs", ["-R", "cat /sub/c.txt", dir.file("dst.img")])
        #expect(copied == "gamma, copied by rsync in the guest\n")
        #expect(FileManager.default.fileExists(atPath: dir.file("src.cow")), "COW file was not created")
        // Created by the kernel's own uid through an idmapped mount: root's on the host.
        var st = stat()
        #expect(stat(dir.file("src.cow"), &st) == 0 && st.st_uid == 0 && st.st_gid == 0, "src.cow owned by \(st.st_uid):\(st.st_gid)")
    }

    @Test(.timeLimit(.minutes(1)))
    func guestCannotChangeHostEtcTmpOrProcSys() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-hostfiles", in: "/tmp")
        let id = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let etcSentinel = "/etc/corral-sentinel-\(id)", tmpSentinel = "/tmp/corral-sentinel-\(id)"
        let created = ["/etc/corral-created-\(id)", "/tmp/corral-created-\(id)", "/etc/corral-created2-\(id)"]
        for path in [etcSentinel, tmpSentinel] { try "original\n".write(toFile: path, atomically: false, encoding: .utf8) }
        let domainFile = "/proc/sys/kernel/domainname"
        let domainBefore = try String(contentsOfFile: domainFile, encoding: .utf8)
        defer {
            for path in [etcSentinel, tmpSentinel] + created { unlink(path) }
            if (try? String(contentsOfFile: domainFile, encoding: .utf8)) != domainBefore {
                try? domainBefore.write(toFile: domainFile, atomically: false, encoding: .utf8)
            }
        }
        let mnt = ["/mnt", "/media", "/srv"].first { FileManager.default.fileExists(atPath: $0) } ?? "/mnt"
        let hostProbes = ["proc-sys", "etc-change", "etc-create", "tmp-change", "tmp-create", "etc-unlink",
                          "etc-change-after-remount", "etc-change-via-fresh-hostfs", "etc-create-via-fresh-hostfs"]
        let boot = try KernelBoot(dir: dir, script: """
            probe() { if sh -c "$2" 2>/dev/null; then echo "PROBE $1 allowed"; else echo "PROBE $1 denied"; fi; }
            # /proc is still the host's, seen through hostfs
            probe proc-sys "echo corral-probe > \(domainFile)"
            probe etc-change "echo changed > \(etcSentinel)"
            probe etc-create "echo new > \(created[0])"
            probe tmp-change "echo changed > \(tmpSentinel)"
            probe tmp-create "echo new > \(created[1])"
            probe etc-unlink "rm \(etcSentinel)"
            mount -o remount,rw / && echo REMOUNT-DONE
            probe etc-change-after-remount "echo changed > \(etcSentinel)"
            mount -t hostfs none \(mnt) -o /etc && echo HOSTFS-MOUNTED
            probe etc-change-via-fresh-hostfs "echo changed > \(mnt)/corral-sentinel-\(id)"
            probe etc-create-via-fresh-hostfs "echo new > \(mnt)/corral-created2-\(id)"
            umount \(mnt)
            probe mknod-char "mknod $DIR/chr c 1 3"
            probe setuid "touch $DIR/suid && chmod 4755 $DIR/suid"
            probe writable-dir "echo ok > $DIR/guest-wrote"
            # hostfs operations on the writable dir must not kill the VM,
            # including the fd-based variants hostfs uses for open inodes.
            exec 3<> $DIR/open.txt
            chmod 600 $DIR/open.txt && truncate -s 3 $DIR/open.txt && touch -d 2020-01-01 $DIR/open.txt && echo OPEN-ATTRS-OK
            # The kernel's own uid has no CAP_CHOWN (and a guest uid is not a
            # host uid): files it writes keep root as their owner.
            probe chown-other "chown 1:1 $DIR/open.txt"
            probe setuid-open "chmod 4755 $DIR/open.txt"
            exec 3>&-
            echo x > $DIR/g.txt && mv $DIR/g.txt $DIR/h.txt && ln -s h.txt $DIR/sym && ln $DIR/h.txt $DIR/hard && mkfifo $DIR/fifo && mkdir $DIR/d && rmdir $DIR/d && df $DIR >/dev/null && echo NAMESPACE-OPS-OK
            python3 -c "import os; os.rename('$DIR/h.txt', '$DIR/h2.txt'); fd = os.open('$DIR/h2.txt', os.O_RDWR); os.write(fd, b'y'); os.fdatasync(fd); os.fsync(fd); os.close(fd); os.truncate('$DIR/h2.txt', 0)" && echo SYSCALL-OPS-OK
            mount -t proc proc /proc
            echo PROBES-DONE
            """)
        let end = boot.finish()
        let console = boot.console
        #expect(end.reason == .exit && end.status == 0, "kernel ended \(end):\n\(console)")
        #expect(console.contains("PROBES-DONE"), "the VM must survive guest-triggered denials:\n\(console)")
        #expect(console.contains("HOSTFS-MOUNTED"), "the fresh hostfs mount should succeed in the guest:\n\(console)")
        for marker in ["OPEN-ATTRS-OK", "NAMESPACE-OPS-OK", "SYSCALL-OPS-OK"] {
            #expect(console.contains(marker + "\n"), "hostfs workload step \(marker) failed:\n\(console)")
        }
        for probe in hostProbes + ["mknod-char", "setuid", "setuid-open", "chown-other"] {
            #expect(console.contains("PROBE \(probe) denied\n"), "\(probe) was not denied:\n\(console)")
        }
        #expect(console.contains("PROBE writable-dir allowed\n"), "control: the writable dir must stay writable")

        // What matters: the host is unchanged.
        for path in [etcSentinel, tmpSentinel] {
            #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "original\n", "\(path) changed")
        }
        for path in created { #expect(!FileManager.default.fileExists(atPath: path), "\(path) was created") }
        #expect(try String(contentsOfFile: domainFile, encoding: .utf8) == domainBefore, "host domainname changed")
        #expect((try? String(contentsOfFile: dir.file("guest-wrote"), encoding: .utf8)) == "ok\n")
        var st = stat()
        #expect(stat(dir.file("chr"), &st) != 0, "a device node appeared on the host")
        for name in ["suid", "open.txt"] where stat(dir.file(name), &st) == 0 {
            #expect(st.st_mode & 0o6000 == 0, "set-id bit reached the host on \(name)")
        }
        #expect(stat(dir.file("open.txt"), &st) == 0 && st.st_uid == 0 && st.st_size == 3, "open.txt: uid \(st.st_uid), size \(st.st_size)")
    }

    @Test(.timeLimit(.minutes(1)))
    func killingTheSupervisorLeavesNothing() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-killsup", in: "/tmp")
        let boot = try KernelBoot(dir: dir, script: """
            while true; do /bin/true; sleep 0.2; done &
            touch $DIR/ready
            sleep 60
            """)
        #expect(boot.waitForGuestFile("ready"), "guest never got ready:\n\(boot.console)")
        let session = HostProcesses.descendants(of: boot.pid)
        #expect(session.count >= 3, "reaper, kernel and stubs expected, saw \(session)")
        kill(boot.pid, SIGKILL)
        _ = boot.finish()
        #expect(HostProcesses.waitGone(session) == [], "survivors after kill -9 of the supervisor")
        #expect(Self.sessionProcesses(umid: Self.umid(of: boot)) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func killingTheKernelLeavesNothingAndItsStatusReachesTheLauncher() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-killkernel", in: "/tmp")
        let boot = try KernelBoot(dir: dir, script: """
            while true; do /bin/true; sleep 0.2; done &
            touch $DIR/ready
            sleep 60
            """)
        #expect(boot.waitForGuestFile("ready"), "guest never got ready:\n\(boot.console)")
        let session = HostProcesses.descendants(of: boot.pid)
        let kernel = HostProcesses.children(of: boot.pid).first.flatMap { HostProcesses.children(of: $0).first }
        try #require(kernel != nil)
        kill(kernel!, SIGKILL)
        let end = boot.finish()
        #expect(end.reason == .uncaughtSignal && end.status == SIGKILL, "helper ended \(end)")
        #expect(HostProcesses.waitGone(session) == [], "survivors after kill -9 of the kernel")
        #expect(Self.sessionProcesses(umid: Self.umid(of: boot)) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func sigtermToTheHelperReachesTheKernel() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-term", in: "/tmp")
        let boot = try KernelBoot(dir: dir, script: """
            touch $DIR/ready
            sleep 60
            """)
        #expect(boot.waitForGuestFile("ready"), "guest never got ready:\n\(boot.console)")
        let session = HostProcesses.descendants(of: boot.pid)
        kill(boot.pid, SIGTERM)
        let end = boot.finish(seconds: 20)
        // helper -> reaper -> kernel; UML's SIGTERM handler exits with 1.
        #expect(end.reason == .exit && end.status == 1, "helper ended \(end)")
        #expect(HostProcesses.waitGone(session) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func guestRebootEndsTheKernelCleanly() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-reboot", in: "/tmp")
        // UML re-execs itself on reboot; execve gets EPERM, so it exits.
        let boot = try KernelBoot(dir: dir, script: "mount -t proc proc /proc\necho b > /proc/sysrq-trigger\nsleep 10")
        let end = boot.finish(seconds: 30)
        #expect(end.reason == .exit && end.status == 0, "helper ended \(end):\n\(boot.console)")
        #expect(boot.console.contains("Failed to exec kernel: Operation not permitted"))
        #expect(Self.sessionProcesses(umid: Self.umid(of: boot)) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func guestPanicEndsWithSIGABRTAndNothingLeft() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-panic", in: "/tmp")
        // init exits: "Attempted to kill init", UML panics and abort()s. Under
        // a kernel-as-PID-1 design this would spin forever (sandbox.md §0.5).
        let boot = try KernelBoot(dir: dir, script: "exit 3")
        let end = boot.finish(seconds: 30)
        #expect(end.reason == .uncaughtSignal && end.status == SIGABRT, "helper ended \(end):\n\(boot.console)")
        #expect(Self.sessionProcesses(umid: Self.umid(of: boot)) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func kernelRunsAsTheUnprivilegedUser() throws {
        try KernelUnderTest.require(root: true)
        let dir = try Scratch("corral-sbx-user", in: "/tmp")
        let boot = try KernelBoot(dir: dir, script: """
            touch $DIR/ready
            sleep 2
            """, policy: nil, owner: "nobody")
        #expect(boot.waitForGuestFile("ready"), "guest never got ready:\n\(boot.console)")
        let reaper = HostProcesses.children(of: boot.pid).first
        var checked = 0
        for pid in reaper.map(HostProcesses.descendants) ?? [] {
            guard let uid = HostProcesses.status(pid, task: pid, "Uid") else { continue }
            #expect(uid.split(separator: "\t").allSatisfy { $0 == "65534" }, "pid \(pid) Uid \(uid)")
            #expect(HostProcesses.status(pid, task: pid, "CapEff") == "0000000000000000")
            checked += 1
        }
        #expect(checked >= 2)
        let end = boot.finish()
        #expect(end.reason == .exit && end.status == 0, "kernel ended \(end):\n\(boot.console)")
    }
}
