import CSeccomp
import Foundation
import Sandbox
import Testing
import TestSupport

@Suite struct AllowlistTests {
    @Test func everyRuleNamesARealSyscallAndSaysWhy() {
        for rule in Allowlist.uml61.rules {
            #expect(seccomp_syscall_resolve_name(rule.syscall) >= 0, "unknown syscall \(rule.syscall)")
            #expect(rule.reason.count >= 5, "\(rule.syscall) needs a reason")
            #expect(!rule.variants.isEmpty)
        }
        let names = Allowlist.uml61.rules.map(\.syscall)
        #expect(Set(names).count == names.count, "one entry per syscall")
    }

    @Test func listIsTheTracedSetAndNothingDangerous() {
        let allowed = Set(Allowlist.uml61.allowedSyscalls)
        // sandbox.md §3.3: 66 traced + exit + execveat; plus the two mconsole
        // calls and five hostfs calls its traces missed (fchmod, fchown,
        // truncate, rename, fdatasync), and dup for perror() after a refused
        // re-exec on guest reboot (BootKernelTests).
        #expect(allowed.count == 76)
        for forbidden in ["execve", "mount", "umount2", "unshare", "setns", "clone3", "prctl", "bpf", "kexec_load",
                          "init_module", "finit_module", "chroot", "pivot_root", "connect", "keyctl", "ptrace_attach",
                          "process_vm_writev", "userfaultfd", "io_uring_setup", "perf_event_open", "reboot"] {
            #expect(!allowed.contains(forbidden), "\(forbidden) must not be allowed")
        }
        // Argument filters where sandbox.md says they matter.
        let filtered = Set(Allowlist.uml61.rules.filter(\.isArgumentFiltered).map(\.syscall))
        #expect(filtered.isSuperset(of: ["ptrace", "clone", "socket", "socketpair", "ioctl", "fcntl", "kill",
                                         "fallocate", "mknodat", "chmod", "fchmod", "execveat", "prlimit64"]))
    }

    @Test func filterCompilesToBPF() throws {
        let filter = try SeccompFilter(allowlist: .uml61)
        let program = try filter.bpf()
        #expect(program.bytes.count % 8 == 0)
        // The lab's strict filter was 185-235 instructions; BPF caps at 4096.
        #expect(program.instructionCount > 100 && program.instructionCount < 4096)
        #expect(filter.ruleCount > Allowlist.uml61.rules.count)
    }

    /// `load()` in a real process (the probe executable, with gettid and
    /// futex added for the Swift runtime): allowed calls keep working,
    /// socket(AF_INET) kills it.
    @Test func loadedFilterKillsTheProcessOnAForbiddenCall() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: SandboxProbe.path)
        p.arguments = ["--load-then-inet"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text == "loaded\n")
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGSYS)
    }

    @Test func unknownSyscallIsATypedError() {
        let bad = Allowlist(name: "bad", rules: [.allow("no_such_syscall", "test")])
        #expect(throws: SandboxError.unknownSyscall("no_such_syscall", allowlist: "bad")) { _ = try SeccompFilter(allowlist: bad) }
    }

    @Test func policyRoundTripsAsJSON() throws {
        let policy = SandboxPolicy(mode: .enforce, writablePaths: ["/srv/vm"], user: "nobody")
        let decoded = try JSONDecoder().decode(SandboxPolicy.self, from: JSONEncoder().encode(policy))
        #expect(decoded == policy)
        #expect(SandboxPolicy().mode == .enforce)
    }

    @Test func reportSaysWhatIsApplied() {
        let lines = SandboxRunner.report(policy: SandboxPolicy(writablePaths: ["/tmp"]))
        #expect(lines.first == "sandbox: enforce")
        for feature in ["seccomp:", "no_new_privs:", "pid namespace:", "mount namespace:", "landlock:", "user:"] {
            let line = lines.first { $0.hasPrefix(feature) }
            #expect(line != nil, "report lacks \(feature)")
            #expect(line.map { $0.contains("applied") || $0.contains("unavailable") || $0.hasPrefix("user:") } == true)
        }
        #expect(SandboxRunner.report(policy: SandboxPolicy(mode: .off)).first?.hasPrefix("sandbox: off") == true)
    }
}
