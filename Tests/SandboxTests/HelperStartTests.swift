import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// When a boot's helper starts and what it may do before the preflight is
/// over. The helper (`corral-kernel-exec`, or corral itself as
/// `_kernel-exec`) is spawned as the boot starts and sent its spec at once,
/// so that its start-up and the kernel's session, namespaces, jail, filter
/// and process are made while the launcher's preflight runs; the kernel
/// execs only on a second
/// message, the go, once the boot is cleared. strace follows a boot of a
/// stand-in kernel (a real one would not run traced); within the
/// launcher's main thread the order of its calls is its program order.
@Suite(.serialized, .enabled(if: geteuid() == 0 || TestEnvironment.requireUML, "needs root (the sandbox as corral boot applies it)"))
struct HelperStartTests {
    static let strace = "/usr/bin/strace"

    struct Call {
        var pid: Substring
        var text: Substring
    }

    static func calls(_ log: String) throws -> [Call] {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line in
            Call(pid: line.prefix(while: \.isNumber), text: line.drop(while: \.isNumber))
        }
    }

    /// A boot of a stand-in kernel (with a 1 MiB raw disk when `disk`) under
    /// `strace -f` with `options` (`-e trace=…` and the like): the calls it
    /// logged, and the disk's path. Fails the test when the stand-in did not
    /// run.
    static func tracedBoot(_ name: String, _ options: [String], disk: Bool = false,
                           arguments: [String] = []) throws -> (calls: [Call], disk: String?) {
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is missing (make deps)")
        let s = try Scratch("corral-helper-\(name)", in: "/tmp", searchable: true)
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: #"puts("STANDIN-RAN"); return 0;"#)
        var diskPath: String?
        if disk {
            let path = s.file("disk.img")
            try Data(count: 1 << 20).write(to: URL(fileURLWithPath: path))
            diskPath = path
        }
        let log = s.file("strace.log")
        let r = try runProcess(strace, ["-f", "-o", log] + options
                               + [TestPaths.corral, "boot", "--kernel", kernel] + arguments + (diskPath.map { ["--disk", "1=\($0)"] } ?? [])
                               + ["--init", "/bin/true"], environment: TestEnvironment.childEnvironment)
        #expect(r.stdout.contains("STANDIN-RAN"), "the stand-in did not run: \(r.summary)")
        return (try calls(log), diskPath)
    }

    /// Where the helper's exec is in `calls`.
    static func helperExec(_ calls: [Call]) throws -> Int {
        try #require(calls.firstIndex { $0.text.contains("execve(") && $0.text.contains("\"_kernel-exec\"") },
                     "no helper exec seen: \(calls.prefix(5).map(\.text))")
    }

    /// The helper runs before the preflight opens the disk, its spec is
    /// written before that too, and the go after it: the preflight's reads
    /// lie between the two messages. Fails on the code before, which
    /// spawned the helper only after the preflight, with its spec in the
    /// environment and no second message.
    @Test func theHelperGetsItsSpecBeforeThePreflightAndTheGoAfterIt() throws {
        let (calls, traced) = try Self.tracedBoot("start", ["-s", "65536", "-e", "trace=execve,execveat,openat,write"], disk: true)
        let disk = try #require(traced)
        let launcher = try #require(calls.first?.pid)
        let main = calls.indices.filter { calls[$0].pid == launcher }
        let helperExec = try Self.helperExec(calls)
        let spec = try #require(main.first { calls[$0].text.contains("write(") && calls[$0].text.contains("ttyPath") },
                                "the launcher wrote no spec")
        let go = try #require(main.first { Self.isGo(calls[$0].text) },
                              "the launcher wrote no go")
        let diskOpens = main.filter { calls[$0].text.contains("openat(") && calls[$0].text.contains("\"\(disk)\"") }
        #expect(helperExec < spec, "the spec was written before the helper ran")
        #expect(diskOpens.contains { spec < $0 && $0 < go },
                "no read of the disk between the spec (call \(spec)) and the go (call \(go)): \(diskOpens)")
        let kernelExec = try #require(calls.firstIndex { $0.text.contains("execveat(") },
                                      "the kernel was not exec'd through its fd")
        #expect(go < kernelExec, "the kernel started before the go")
    }

    /// Where the helper (`pid`) began to read its spec: its first read of
    /// the spec pipe (fd 4, which holds nothing else until the spec has
    /// been read), perhaps `<unfinished ...>` until the spec comes.
    static func specRead(_ calls: [Call], helper pid: Substring) throws -> Int {
        try #require(calls.firstIndex { $0.pid == pid && $0.text.contains(" read(4, ") },
                     "the helper \(pid) read no spec: \(calls.filter { $0.pid == pid }.prefix(8).map(\.text))")
    }

    /// A boot under the default policy has its helper set up the host's
    /// half of the jail while the launcher parses and plans: it enters the
    /// kernel's namespaces and compiles the filter of the kernel the
    /// command line names (libseccomp's memfd) before it reads its spec
    /// (`PreparedJail`), in its own program order, which strace keeps. Fails
    /// on the code before, where all of it came after the spec.
    @Test func theJailIsBegunBeforeTheSpecArrives() throws {
        let (calls, _) = try Self.tracedBoot("prepare", ["-e", "trace=execve,unshare,memfd_create,read"])
        let helper = calls[try Self.helperExec(calls)].pid
        let spec = try Self.specRead(calls, helper: helper)
        let unshare = try #require(calls.firstIndex { $0.pid == helper && $0.text.contains("unshare(") },
                                   "the helper entered no namespaces")
        let compile = try #require(calls.firstIndex { $0.pid == helper && $0.text.contains("memfd_create(\"corral-seccomp-bpf\"") },
                                   "the helper compiled no filter")
        #expect(unshare < spec, "the namespaces were entered after the spec (call \(unshare), spec \(spec))")
        #expect(compile < spec, "the filter was compiled after the spec (call \(compile), spec \(spec))")
    }

    /// A boot under another policy gets no helper that prepared for the
    /// default one: its namespaces could not be left. Under `--sandbox off`
    /// nothing enters a namespace at all (the kernel runs in the host's);
    /// under `--sandbox-user root` the helper enters them only once its spec
    /// says how. Fails on a helper that prepares whatever the command line.
    @Test func aBootUnderAnotherPolicyIsNotPreparedFor() throws {
        let (off, _) = try Self.tracedBoot("prepare-off", ["-e", "trace=execve,unshare,read"], arguments: ["--sandbox", "off"])
        #expect(!off.contains { $0.text.contains("unshare(") },
                "a --sandbox off boot entered namespaces: \(off.filter { $0.text.contains("unshare(") }.map(\.text))")

        let (root, _) = try Self.tracedBoot("prepare-user", ["-e", "trace=execve,unshare,read"], arguments: ["--sandbox-user=root"])
        let helper = root[try Self.helperExec(root)].pid
        let spec = try Self.specRead(root, helper: helper)
        let unshare = try #require(root.firstIndex { $0.pid == helper && $0.text.contains("unshare(") },
                                   "the --sandbox-user root boot entered no namespaces")
        #expect(spec < unshare, "the helper entered namespaces (call \(unshare)) before its spec (call \(spec)) said the policy")
    }

    /// The launcher's go: `KernelStart.message` written on the start pipe.
    static func isGo(_ text: Substring) -> Bool {
        text.drop(while: { $0 == " " }).hasPrefix("write(") && text.contains(", \"go\", 2")
    }

    /// Everything of the kernel's start but its exec happens before the go:
    /// the helper compiles the seccomp filter (libseccomp exports it through
    /// a memfd named corral-seccomp-bpf; the launcher never compiles one),
    /// and the kernel's own process is forked, drops to its uid and installs
    /// the filter; after the go only its `execveat` is left. strace holds the
    /// launcher's disk lease (its `flock`, which only the launcher calls)
    /// for a second, so that the helper has long been ready when the go
    /// comes, whatever strace's own slowness. Fails on the code before,
    /// where the launcher compiled the filter and the helper forked the
    /// kernel's process only on the go.
    @Test func theKernelIsReadyToExecWhenTheGoComes() throws {
        let (calls, _) = try Self.tracedBoot("ready", ["-e", "trace=execve,execveat,memfd_create,seccomp,setresuid,write,flock",
                                                      "-e", "inject=flock:delay_enter=1000000"], disk: true)
        let launcher = try #require(calls.first?.pid)
        let helper = calls[try Self.helperExec(calls)].pid
        let go = try #require(calls.firstIndex { $0.pid == launcher && Self.isGo($0.text) }, "the launcher wrote no go")
        let compiles = calls.indices.filter { calls[$0].text.contains("memfd_create(\"corral-seccomp-bpf\"") }
        #expect(compiles.count == 1, "compiled \(compiles.count) times: \(compiles.map { calls[$0].text })")
        #expect(compiles.allSatisfy { calls[$0].pid == helper && $0 < go },
                "not compiled by the helper (\(helper)) before the go (call \(go)): \(compiles.map { calls[$0] })")
        let kernelExec = try #require(calls.firstIndex { $0.text.contains("execveat(") }, "the kernel was not exec'd through its fd")
        let child = calls[kernelExec].pid
        let install = try #require(calls.firstIndex { $0.pid == child && $0.text.contains("seccomp(SECCOMP_SET_MODE_FILTER") },
                                   "the kernel's process \(child) installed no filter")
        let uid = calls.firstIndex { $0.pid == child && $0.text.contains("setresuid(") }
        #expect(child != helper && child != launcher)
        #expect(install < go, "the filter was installed after the go: call \(install), go \(go)")
        #expect(uid.map { $0 < go } == true, "the kernel's process dropped its uid after the go, or never: \(String(describing: uid))")
        #expect(go < kernelExec, "the kernel started before the go")
    }

    /// Every write of the boot to a cgroup's `tasks` or `cgroup.procs`: who
    /// wrote, what, and where in `calls`. strace shows the opens (`= FD`,
    /// perhaps on a `resumed` line of their own, where it pads the result
    /// to its column: `<... openat resumed>)      = 8`), the closes (after
    /// which the number may name a pipe) and the writes by fd.
    static func cgroupMoves(_ calls: [Call]) -> [(index: Int, pid: Substring, written: String)] {
        var open: [String: Bool] = [:]  // "pid fd" -> a tasks or cgroup.procs file
        var pendingOpen: [Substring: Bool] = [:]
        var moves: [(index: Int, pid: Substring, written: String)] = []
        func result(_ text: Substring) -> String? {
            guard let equals = text.range(of: " = ", options: .backwards),
                  text[..<equals.lowerBound].last(where: { $0 != " " }) == ")" else { return nil }
            return String(text[equals.upperBound...].prefix(while: \.isNumber))
        }
        // The fd a call of `name` is made on, where the line is that call.
        func firstArgument(of name: String, _ text: Substring) -> Substring? {
            let call = text.drop(while: \.isWhitespace)
            guard call.hasPrefix(name + "(") else { return nil }
            return call.dropFirst(name.count + 1).prefix(while: \.isNumber)
        }
        for (index, call) in calls.enumerated() {
            let text = call.text
            if text.contains("openat(") {
                let isCgroupFile = text.contains("tasks\"") || text.contains("cgroup.procs\"")
                if let fd = result(text), !fd.isEmpty { open["\(call.pid) \(fd)"] = isCgroupFile } else { pendingOpen[call.pid] = isCgroupFile }
            } else if text.contains("<... openat resumed>"), let isCgroupFile = pendingOpen.removeValue(forKey: call.pid),
                      let fd = result(text), !fd.isEmpty {
                open["\(call.pid) \(fd)"] = isCgroupFile
            } else if let fd = firstArgument(of: "close", text) {
                open["\(call.pid) \(fd)"] = nil
            } else if let fd = firstArgument(of: "write", text) {
                guard open["\(call.pid) \(fd)"] == true, let quote = text.firstIndex(of: "\"") else { continue }
                let written = text[text.index(after: quote)...].prefix { $0 != "\"" }
                moves.append((index, call.pid, String(written)))
            }
        }
        return moves
    }

    /// A move of a process between cgroups waits for an RCU grace period
    /// (10-20 ms here) with cgroup_mutex held, which holds up every other
    /// cgroup call meanwhile; the kernel's process must be born inside its
    /// boot's cgroup, so such a wait lay on the boot's path. On cgroup v1
    /// the boot makes no such move: the helper moves its one thread itself,
    /// `0` written to the cgroup's `tasks`, which Linux does without the
    /// wait, and nothing writes a pid to a `tasks` or `cgroup.procs`. On v2
    /// (a process must be moved whole) a launcher thread starts the wait
    /// before the helper is spawned, by moving itself, and the launcher
    /// places the helper beside its preflight. Fails on the code before,
    /// where on v1 a launcher thread warmed up by moving itself by id and
    /// then placed the helper by pid, and the helper's own cgroup calls
    /// waited for both (10 ms of each jailed boot's start).
    @Test func noCgroupMoveOfTheBootWaitsForAGracePeriod() throws {
        try #require(FileManager.default.fileExists(atPath: "/sys/fs/cgroup"), "no cgroup file system")
        let (calls, _) = try Self.tracedBoot("moves", ["-e", "trace=execve,openat,close,write"])
        let launcher = try #require(calls.first?.pid)
        let helperExec = try Self.helperExec(calls)
        let helper = calls[helperExec].pid
        let moves = Self.cgroupMoves(calls)
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            let warm = moves.first { $0.written == "\($0.pid)" || $0.written == "\(launcher)" }
            let found = try #require(warm, "no launcher thread moved itself into its cgroup: \(moves)")
            #expect(found.index < helperExec, "the warm-up move (call \(found.index)) came after the helper's spawn (call \(helperExec))")
            return
        }
        let byID = moves.filter { $0.written != "0" }
        #expect(byID.isEmpty, "moves by id, each waiting for a grace period: \(byID)")
        // Where the helper opened a cgroup's tasks, its move is the 0. (That
        // the kernel's tree is inside its cgroup is KernelLimitsTests'.)
        let opened = calls.filter { $0.pid == helper && $0.text.contains("\"tasks\"") }
        let joins = moves.filter { $0.pid == helper && $0.written == "0" && $0.index > helperExec }
        #expect(opened.isEmpty || joins.count >= 1,
                "the helper opened \(opened.map(\.text)) but did not move itself: \(moves); its cgroup calls: \(calls.filter { $0.pid == helper && $0.text.contains("cgroup") }.map(\.text))")
    }

    /// The helper is spawned as corral starts, before the command line is
    /// parsed and checked (EarlyKernelHelper): its loading and set-up run
    /// beside the parse, the plan and the preflight, 6 ms of corral's own
    /// before the go. The CLI's check of --memory against the host's RAM
    /// (`/proc/meminfo`) comes after the helper's exec. A `--dry-run` boots
    /// nothing and spawns no helper, and a command line ArgumentParser
    /// rejects leaves none behind. Fails on the code before, which spawned
    /// the helper only once the boot was planned.
    @Test func theHelperIsSpawnedBeforeTheCommandLineIsParsed() throws {
        let (calls, _) = try Self.tracedBoot("early", ["-e", "trace=execve,openat"])
        let launcher = try #require(calls.first?.pid)
        let helperExec = try Self.helperExec(calls)
        let check = try #require(calls.firstIndex { $0.pid == launcher && $0.text.contains("\"/proc/meminfo\"") },
                                 "the CLI did not check --memory")
        #expect(helperExec < check, "the helper's exec (call \(helperExec)) came after the command line's check (call \(check))")

        let s = try Scratch("corral-helper-early", in: "/tmp", searchable: true)
        let log = s.file("dry.log")
        let dry = try runProcess(Self.strace, ["-f", "-o", log, "-e", "trace=execve", TestPaths.corral, "boot",
                                               "--kernel", "/usr/bin/linux.uml", "--dry-run"],
                                 environment: TestEnvironment.childEnvironment)
        #expect(dry.status == 0, "\(dry.summary)")
        #expect(!(try Self.calls(log)).contains { $0.text.contains("\"_kernel-exec\"") }, "a --dry-run spawned a helper")

        let badLog = s.file("bad.log")
        let bad = try runProcess(Self.strace, ["-f", "-o", badLog, "-e", "trace=execve", TestPaths.corral, "boot",
                                               "--no-such-option"], environment: TestEnvironment.childEnvironment)
        #expect(bad.status == 64, "\(bad.summary)")
        let early = try Self.calls(badLog).first { $0.text.contains("execve(") && $0.text.contains("\"_kernel-exec\"") }
        let pid = try #require(early.flatMap { pid_t($0.pid) }, "no helper was spawned for the rejected command line")
        let deadline = Date().addingTimeInterval(5)
        while kill(pid, 0) == 0 && Date() < deadline { usleep(20_000) }
        #expect(kill(pid, 0) != 0 && errno == ESRCH, "the helper \(pid) of a rejected command line is still there")
    }

    /// A boot the preflight refuses started its helper, which may already
    /// have built the kernel's jail; the refusal takes all of it down: no
    /// kernel ran, and neither the helper, nor its cgroup, nor the boot's
    /// uml_dir is left. Fails on the code before, where no helper was
    /// started for such a boot at all, and on a launcher that forgot the
    /// helper or its cgroup when the preflight failed.
    @Test func aRefusedBootTakesItsHelperDownWithEverythingItMade() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.strace), "strace is missing (make deps)")
        let s = try Scratch("corral-helper-refused", in: "/tmp", searchable: true)
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: #"puts("STANDIN-RAN"); return 0;"#)
        let notADisk = s.file("directory")
        let runtime = s.file("runtime")
        try FileManager.default.createDirectory(atPath: notADisk, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        chmod(runtime, 0o700)
        var environment = TestEnvironment.childEnvironment
        environment["TMPDIR"] = runtime
        let log = s.file("strace.log")
        let r = try runProcess(Self.strace, ["-f", "-o", log, "-e", "trace=execve,execveat,unshare",
                                             TestPaths.corral, "boot", "--kernel", kernel, "--umid", "refused-boot",
                                             "--disk", "1=\(notADisk)", "--init", "/bin/true"],
                               environment: environment)
        #expect(r.status == 240 && r.stderr.contains("preflight"), "not refused by the preflight: \(r.summary)")
        #expect(!r.stdout.contains("STANDIN-RAN"), "the kernel ran: \(r.summary)")
        let calls = try Self.calls(log)
        let helper = try #require(calls.first { $0.text.contains("execve(") && $0.text.contains("\"_kernel-exec\"") }?.pid,
                                  "no helper was started: \(calls.prefix(5).map(\.text))")
        let helperPID = try #require(pid_t(helper))
        #expect(!calls.contains { $0.text.contains("execveat(") || $0.text.contains("execve(\"\(kernel)\"") },
                "the kernel was exec'd")
        #expect(kill(helperPID, 0) != 0 && errno == ESRCH, "the helper \(helperPID) is still there")
        let left = Self.cgroups(named: "corral-\(helperPID)")
        #expect(left.isEmpty, "its cgroup is left: \(left)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: runtime)) == [], "its uml_dir is left")
    }

    /// Which binary a boot runs as its helper: the small `corral-kernel-exec`
    /// beside corral (a build tree) or in `../libexec/corral/` (an installed
    /// corral), else corral itself as `_kernel-exec`; never a helper that
    /// another user could have replaced (writable by group or others). Each
    /// boot of a stand-in kernel must run either way. Fails on the code
    /// before, which always ran corral itself.
    @Test func theHelperIsTheSmallBinaryWhereCorralCanTrustIt() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.strace), "strace is missing (make deps)")
        let s = try Scratch("corral-helper-binary", in: "/tmp", searchable: true)
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: #"puts("STANDIN-RAN"); return 0;"#)
        // corral looks beside itself as /proc/self/exe names it: links resolved.
        let built = URL(fileURLWithPath: TestPaths.corral).resolvingSymlinksInPath().deletingLastPathComponent().path
            + "/corral-kernel-exec"
        try #require(FileManager.default.isExecutableFile(atPath: built), "no \(built): swift build builds it")
        var environment = TestEnvironment.childEnvironment
        environment["CORRAL_DATA_DIR"] = TestPaths.packageRootURL.path
        /// The helper the boot of `corral` ran, from its exec in strace's log.
        func helper(of corral: String, _ name: String) throws -> String? {
            let log = s.file("\(name).log")
            let r = try runProcess(Self.strace, ["-f", "-o", log, "-e", "trace=execve", corral, "boot", "--kernel", kernel,
                                                 "--init", "/bin/true"], environment: environment)
            #expect(r.stdout.contains("STANDIN-RAN"), "\(name): the stand-in did not run: \(r.summary)")
            let exec = try Self.calls(log).first { $0.text.contains("execve(") && $0.text.contains("\"_kernel-exec\"") }
            return exec.flatMap { $0.text.split(separator: "\"").dropFirst().first.map(String.init) }
        }
        let fm = FileManager.default
        #expect(try helper(of: TestPaths.corral, "build-tree") == built)

        let installed = s.file("usr")
        try fm.createDirectory(atPath: installed + "/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: installed + "/libexec/corral", withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestPaths.corral, toPath: installed + "/bin/corral")
        try fm.copyItem(atPath: built, toPath: installed + "/libexec/corral/corral-kernel-exec")
        #expect(try helper(of: installed + "/bin/corral", "installed") == installed + "/libexec/corral/corral-kernel-exec")

        chmod(installed + "/libexec/corral/corral-kernel-exec", 0o777)
        #expect(try helper(of: installed + "/bin/corral", "writable-helper") == "/proc/self/exe",
                "a helper anyone may replace was run")

        try fm.removeItem(atPath: installed + "/libexec/corral/corral-kernel-exec")
        #expect(try helper(of: installed + "/bin/corral", "no-helper") == "/proc/self/exe")
    }

    /// Every cgroup directory called `name`, in any hierarchy, to a depth
    /// that holds a test's own cgroup and its children.
    static func cgroups(named name: String) -> [String] {
        var found: [String] = []
        var level = ["/sys/fs/cgroup"]
        for _ in 0..<6 where !level.isEmpty {
            var next: [String] = []
            for dir in level {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                    let path = dir + "/" + entry
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                    if entry == name { found.append(path) } else { next.append(path) }
                }
            }
            level = next
        }
        return found
    }
}
