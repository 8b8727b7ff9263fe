import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// cgroup v2 limits (`KernelCgroup` on a cgroup2 host), on a real cgroup v2
/// host: the guest of the kernel under test. This host kind is a cgroup v1
/// hybrid whose memory hierarchy is in use, so no controller can be moved
/// to its cgroup2 mount; the guest's own kernel has cgroup2 with `pids` and
/// `memory`. The guest (booted `--sandbox off`, the test's own harness)
/// mounts cgroup2 on /sys/fs/cgroup, the layout of a pure-v2 distribution,
/// and runs the `corral` under test from the host's tree through hostfs,
/// booting stand-in kernels (built here, static): one floods processes,
/// one allocates memory until stopped. The guest's shell watches the
/// boot's cgroup while the flood runs and reports what it saw.
///
/// - root: the boot's cgroup is a sibling of the caller's in the root
///   cgroup. Its stand-ins run as root (`--sandbox-user root`) since the
///   guest's tmpfs takes no idmapped mounts; so RLIMIT_NPROC binds nothing
///   and the flood can only be stopped by the cgroup's pids.max.
/// - an ordinary user: first in a cgroup nobody delegated to it (corral
///   says in one line that no cgroup limits its kernel, and boots), then in
///   a subtree delegated the way systemd delegates a user's slice (the
///   subtree and its cgroup.procs chowned to the user, `pids` and `memory`
///   enabled for its children): the boot's cgroup is made there.
@Suite(.serialized, .enabled(if: KernelUnderTest.enabled(root: true), "needs root and the kernel under test"))
struct CgroupV2Tests {
    /// What the guest saw: its `KEY rest` lines, by key, in order.
    struct Report {
        var lines: [(key: String, rest: String)]
        init(_ output: String) {
            lines = output.split(separator: "\n").map { line in
                let parts = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
                return (parts.first.map(String.init) ?? "", parts.count > 1 ? String(parts[1]) : "")
            }
        }
        func all(_ key: String) -> [String] { lines.filter { $0.key == key }.map(\.rest) }
        func first(_ key: String) -> String? { all(key).first }
    }

    /// One watched sample of the boot's cgroup: `DIR pids.max
    /// pids.current memory.max pids.events-max`.
    struct Sample {
        var directory: String, pidsMax: String, current: Int, memoryMax: String, refused: Int
        init?(_ text: String) {
            let f = text.split(separator: " ").map(String.init)
            guard f.count == 5, let current = Int(f[2]), let refused = Int(f[4]) else { return nil }
            (directory, pidsMax, self.current, memoryMax, self.refused) = (f[0], f[1], current, f[3], refused)
        }
    }

    /// The stand-in kernels, under /var/tmp: the guest mounts its own /tmp.
    static func standIns(in scratch: Scratch) throws -> (flood: String, memory: String, hello: String) {
        let flood = try StandInKernel.build(in: scratch, name: "linux.uml", body: #"""
            char buf[512];
            int fd = open("/proc/self/cgroup", O_RDONLY);
            ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
            buf[n > 0 ? n : 0] = 0;
            printf("INCGROUP %s", buf);
            int count = 0, err = 0;
            for (; count < 2048; count++) {
                pid_t p = fork();
                if (p < 0) { err = errno; break; }
                if (p == 0) { sigset_t m; sigemptyset(&m); sigsuspend(&m); _exit(0); }
            }
            printf("FLOOD %d %d\n", count, err);
            fflush(stdout);
            poll(NULL, 0, 2000);
            return 0;
            """#, includes: ["poll.h"])
        let memory = try StandInKernel.build(in: scratch, name: "linux.uml", body: StandInKernel.allocateUntilStopped)
        let hello = try StandInKernel.build(in: scratch, name: "linux.uml", body: #"printf("HELLO\n"); return 0;"#)
        return (flood, memory, hello)
    }

    /// The guest's script. `as` prefixes each corral run (empty for root);
    /// `parent` is where the boot's cgroup is expected.
    static func script(corral: String, kernels: (flood: String, memory: String, hello: String), user: TestUser?) -> String {
        let root = "/sys/fs/cgroup"
        // The guest has its own /tmp and /run: the package (a CI clone
        // under /tmp, say) is shown to it at its own path, read-only.
        let package = corral.hasPrefix(TestPaths.packageRoot + "/") ? TestPaths.packageRoot : (corral as NSString).deletingLastPathComponent
        var lines = [
            "mkdir -p \(package) && mount -r -t hostfs none \(package) -o \(package) || { echo NOPACKAGE; exit 1; }",
            "mount -t cgroup2 none \(root) || { echo NOCGROUP2; exit 1; }",
            "echo '+pids +memory' > \(root)/cgroup.subtree_control",
        ]
        var run = "", options = "--sandbox-user root", parent = root
        if let user {
            let slice = "\(root)/user.slice"
            run = "setpriv --reuid=\(user.uid) --regid=\(user.gid) --clear-groups "
            options = ""
            parent = slice
            lines += [
                // A runtime directory of the user's (the guest's /tmp is its own).
                "mkdir -m 700 /tmp/run && chown \(user.uid):\(user.gid) /tmp/run",
                "export XDG_RUNTIME_DIR=/tmp/run HOME=/tmp/run",
                "cd /tmp/run",
                // Nothing delegated yet: the shell sits in the root cgroup,
                // which the user may not write.
                "\(run)\(corral) boot --kernel \(kernels.hello) --init /bin/true 2>&1 | sed 's/^/UNDELEGATED /'",
                "mkdir \(slice) \(slice)/session",
                "echo '+pids +memory' > \(slice)/cgroup.subtree_control",
                "chown \(user.uid):\(user.gid) \(slice) \(slice)/cgroup.procs \(slice)/cgroup.threads \(slice)/cgroup.subtree_control \(slice)/session \(slice)/session/cgroup.procs \(slice)/session/cgroup.threads",
                "echo 0 > \(slice)/session/cgroup.procs",
            ]
        }
        lines += [
            "echo SHELL $(cat /proc/self/cgroup)",
            "\(run)\(corral) boot \(options) --kernel \(kernels.flood) --init /bin/true > /tmp/flood.out 2>&1 &",
            "boot=$!",
            "while kill -0 $boot 2>/dev/null; do",
            "  for d in \(parent)/corral-*; do",
            "    [ -d \"$d\" ] && echo \"SAMPLE $d $(cat $d/pids.max) $(cat $d/pids.current) $(cat $d/memory.max) $(cut -d' ' -f2 $d/pids.events)\" 2>/dev/null",
            "  done",
            "  sleep 0.1",
            "done",
            "wait $boot; echo FLOODSTATUS $?",
            "cat /tmp/flood.out",
            "echo LEFT $(ls -d \(parent)/corral-* 2>/dev/null | wc -l)",
            "\(run)\(corral) boot \(options) --kernel \(kernels.memory) --memory 64M --init /bin/true > /tmp/mem.out 2>&1; echo MEMSTATUS $?",
            "grep -v '^MEM ' /tmp/mem.out; grep '^MEM ' /tmp/mem.out | tail -1",
            "echo LEFT $(ls -d \(parent)/corral-* 2>/dev/null | wc -l)",
        ]
        return lines.joined(separator: "\n")
    }

    @Test(.timeLimit(.minutes(4)), arguments: JailCaller.allCases)
    func theKernelsTreeIsLimitedByItsOwnCgroupV2(_ caller: JailCaller) throws {
        try KernelUnderTest.require(root: true)
        let scratch = try Scratch("corral-v2", in: "/var/tmp", searchable: true)
        let kernels = try Self.standIns(in: scratch)
        _ = try runProcess("/bin/chmod", ["-R", "a+rX", scratch.path])
        let user = caller == .user ? try TestUser("v2", home: false) : nil
        let r = try runCorral(["boot", "--sandbox", "off", "--kernel", KernelUnderTest.path, "--memory", "1G", "--timeout", "200",
                               "--command", Self.script(corral: TestPaths.corral, kernels: kernels, user: user)], mergeStderr: true)
        let report = Report(r.stdout)
        #expect(report.first("NOPACKAGE") == nil && report.first("NOCGROUP2") == nil, "the guest cannot run the test: \(r.summary)")
        let parent = user == nil ? "/sys/fs/cgroup" : "/sys/fs/cgroup/user.slice"

        if user != nil {
            // Without delegation: one line says why no cgroup limits the
            // kernel and what does; the boot goes on.
            let undelegated = report.all("UNDELEGATED")
            #expect(undelegated.contains("HELLO"), "the undelegated boot did not run: \(undelegated)")
            let line = undelegated.first { $0.contains("cgroup") } ?? ""
            #expect(line.contains("/sys/fs/cgroup") && line.contains("delegat"), "no one-line reason: \(undelegated)")
        }

        // The flood: inside a cgroup of the boot's own under `parent`, with
        // both limits, never over pids.max, stopped, and the cgroup gone.
        let samples = report.all("SAMPLE").compactMap(Sample.init)
        try #require(!samples.isEmpty, "the boot's cgroup was never seen under \(parent): \(r.summary)")
        let directories = Set(samples.map(\.directory))
        #expect(directories.count == 1 && directories.first.map { $0.hasPrefix(parent + "/corral-") } == true, "\(directories)")
        let inside = report.first("INCGROUP") ?? ""
        #expect(directories.first.map { "0::" + $0.dropFirst("/sys/fs/cgroup".count) } == inside, "the stand-in is in \(inside)")
        // The helper makes the cgroup before the boot's spec arrives and writes
        // its limits once it has (PreparedJail), then the kernel joins: a
        // sample between the two reads the defaults of an empty cgroup. No
        // process may ever be in it without the limits.
        let occupied = samples.filter { $0.current > 0 }
        try #require(!occupied.isEmpty, "no sample saw the kernel in its cgroup: \(samples.map(\.current))")
        #expect(occupied.allSatisfy { $0.pidsMax == "1024" }, "pids.max: \(Set(occupied.map(\.pidsMax)))")
        #expect(occupied.allSatisfy { $0.memoryMax == "\((256 + 32 + 256) << 20)" }, "memory.max: \(Set(occupied.map(\.memoryMax)))")
        let peak = samples.map(\.current).max() ?? 0
        #expect(peak <= 1024 && peak > 500, "pids.current peaked at \(peak)")
        let flood = try #require(report.first("FLOOD")?.split(separator: " ").compactMap { Int($0) }, "\(r.summary)")
        #expect(flood.count == 2 && flood[0] < 1024 && flood[1] == EAGAIN, "the flood: \(flood)")
        if user == nil {
            // Root's kernel is not bound by RLIMIT_NPROC: the cgroup refused.
            #expect((samples.map(\.refused).max() ?? 0) > 0, "pids.events never counted a refusal")
        }
        #expect(report.first("FLOODSTATUS") == "0", "\(r.summary)")

        // The allocation: killed by the cgroup's OOM at memory.max (64M
        // guest: 352 MiB), far below the guest's 1 GiB.
        let reached = report.all("MEM").compactMap { Int($0) }.max() ?? 0
        #expect(reached > 0 && reached <= 64 + 32 + 256, "the stand-in reached \(reached) MiB: \(r.summary)")
        #expect(report.first("MEM-DONE") == nil, "the stand-in took 1.5 GiB: \(r.summary)")
        #expect(r.stdout.contains("killed by signal 9"), "\(r.summary)")
        #expect(report.first("MEMSTATUS") == "242", "\(r.summary)")
        print("cgroup v2, \(caller): \(directories.sorted()), pids.current peak \(peak), flood \(flood), pids.events max \(samples.map(\.refused).max() ?? 0), memory reached \(reached) MiB; \(report.all("UNDELEGATED").filter { $0.contains("cgroup") })")
        #expect(report.all("LEFT") == ["0", "0"], "cgroups left under \(parent): \(report.all("LEFT"))")
        #expect(r.status == 0, "\(r.summary)")
    }
}
