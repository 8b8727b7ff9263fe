import CSeccomp
import Foundation
import Sandbox
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Seccomp profiles per kernel build: the data, the choice by build id, and
/// what a user sees when a profile stops a kernel.
@Suite struct KernelProfileTests {
    @Test func everyProfileEntryNamesARealSyscallAndSaysWhy() throws {
        for profile in KernelProfile.known + [KernelProfile.union] {
            for rule in profile.allowlist.rules {
                #expect(seccomp_syscall_resolve_name(rule.syscall) >= 0, "\(profile.kernel): unknown syscall \(rule.syscall)")
                #expect(rule.reason.count >= 5 && !rule.reason.contains("REVIEW"), "\(rule.syscall) needs a reviewed reason")
            }
            let names = profile.allowlist.rules.map(\.syscall)
            #expect(Set(names).count == names.count, "\(profile.kernel): one entry per syscall")
            // Every profile compiles, with the notify default too.
            _ = try SeccompFilter(allowlist: profile.allowlist, defaultAction: .notify).bpf()
        }
        let ids = KernelProfile.known.flatMap(\.buildIDs)
        #expect(Set(ids).count == ids.count && ids.allSatisfy { $0.count == 40 })
    }

    /// Newer kernels only add: nothing the 6.1 list forbids outright (exec,
    /// namespaces, mounts, network) comes back, and the union is every profile.
    @Test func newerProfilesAddOnlyWhatTheyNeedAndTheUnionHoldsThemAll() {
        let union = Set(KernelProfile.union.allowlist.allowedSyscalls)
        for profile in KernelProfile.known {
            #expect(Set(profile.allowlist.allowedSyscalls).isSubset(of: union), "\(profile.kernel)")
            let allowed = Set(profile.allowlist.allowedSyscalls)
            for forbidden in ["execve", "mount", "umount2", "unshare", "setns", "clone3", "bpf", "kexec_load",
                              "init_module", "chroot", "pivot_root", "connect", "keyctl", "process_vm_writev",
                              "userfaultfd", "io_uring_setup", "perf_event_open"] {
                #expect(!allowed.contains(forbidden), "\(profile.kernel) must not allow \(forbidden)")
            }
            // seccomp(2) only for a build whose stubs add their own filter
            // (seccomp userspace), and then only to add one: no listener, no
            // other operation or flag.
            let seccomp = profile.allowlist.rules.first { $0.syscall == "seccomp" }
            #expect((seccomp != nil) == profile.seccompUserspace, "\(profile.kernel): seccomp(2) without seccomp userspace")
            for variant in seccomp?.variants ?? [] where variant.action == .allow {
                #expect(variant.conditions == [.equals32(0, 1), .equals32(1, 1)], "\(profile.kernel): seccomp(2) \(variant.conditions)")
            }
        }
        #expect(union.isSuperset(of: ["statx", "fstat", "memfd_create"]))
    }

    /// Merging keeps argument filters, and an allow beats an errno for the
    /// same arguments (7.2 execs its stub; 6.1's re-exec stays refused).
    @Test func mergeKeepsArgumentFilters() {
        let a = Allowlist(name: "a", rules: [
            .allow("ioctl", arg: 1, in32: [0x5401], "a"),
            .fail("fallocate", errno: EPERM, "a"),
        ])
        let b = Allowlist(name: "b", rules: [
            .allow("ioctl", arg: 1, in32: [0x802c_542a], "b"),
            .allow("fallocate", "b"),
            .allow("statx", "b"),
        ])
        let merged = a.merged(with: b)
        let ioctl = merged.rules.first { $0.syscall == "ioctl" }
        #expect(ioctl?.variants.count == 2 && ioctl?.isArgumentFiltered == true)
        let fallocate = merged.rules.first { $0.syscall == "fallocate" }
        #expect(fallocate?.variants.count == 1 && fallocate?.variants.first?.action == .allow)
        #expect(merged.allowedSyscalls.contains("statx"))
        let exec = KernelProfile.union.allowlist.rules.first { $0.syscall == "execve" }
        #expect(exec?.allows == false, "execve stays refused in every profile")
    }

    /// The kernel binaries make check runs: each is recognised by build id.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestEnvironment.kernel) || TestEnvironment.requireUML))
    func theTestKernelHasAShippedProfile() throws {
        let selection = KernelProfile.select(kernelPath: TestEnvironment.kernel)
        #expect(selection.known, "no profile for \(selection.kernelName)")
        #expect(selection.warning == nil)
        if let series = TestEnvironment.kernelSeries {
            #expect(selection.profile.release?.hasPrefix(series + ".") == true, "\(selection.profile.kernel) for \(series)")
        }
    }

    @Test func anUnknownKernelGetsTheUnionAndAWarningNamingIt() throws {
        let s = try Scratch("corral-profile")
        let fake = try StandInKernel.build(in: s, name: "unknown-kernel", body: "return 0;")
        let selection = KernelProfile.select(kernelPath: fake)
        #expect(!selection.known)
        #expect(selection.profile.allowlist.name == KernelProfile.union.allowlist.name)
        let warning = try #require(selection.warning)
        #expect(warning.contains(fake) && warning.contains(selection.buildID ?? "none"))
    }

    /// A kernel the profile stops is reported with the syscall's name and
    /// number and the fix, not as "signal 31". The stand-in kernel (it
    /// carries UML's banner, so preflight accepts it) calls kexec_load, which
    /// no profile allows. Fails on the code before profiles per kernel: that
    /// said only "the kernel was killed by signal 31 (Bad system call)".
    @Test(.enabled(if: geteuid() == 0 || TestEnvironment.requireUML))
    func aDeniedCallIsNamedWithItsNumberAndTheFix() throws {
        let s = try Scratch("corral-profile")
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: """
            syscall(SYS_kexec_load, 0, 0, 0, 0);
            return 0;
            """)
        let r = try runCorral(["boot", "--kernel", kernel, "--init", "/bin/true"])
        #expect(r.status == 242, "\(r.summary)")
        #expect(r.stderr.contains("the sandbox stopped the kernel \(kernel)"), "\(r.summary)")
        #expect(r.stderr.contains("at syscall kexec_load (246"), "\(r.summary)")
        #expect(r.stderr.contains("scripts/seccomp-profile"), "\(r.summary)")
        #expect(r.stderr.contains("no seccomp profile for the kernel \(kernel)"), "the unknown kernel is named: \(r.summary)")
        #expect(!r.stderr.contains("signal 31"), "\(r.summary)")
    }
}

/// A small static C program run as `--kernel`: it carries UML's banner so
/// corral's preflight takes it for a kernel, and does what `body` says.
enum StandInKernel {
    /// A body that allocates and touches host memory 16 MiB at a time up to
    /// 1.5 GiB (a bound that keeps the host safe when no limit stops it),
    /// printing "MEM <MiB>" after each step and "MEM-DONE <MiB>" at the end.
    static let allocateUntilStopped = #"""
        size_t chunk = 16 << 20, total = 0;
        while (total < ((size_t)3 << 29)) {
            char *p = malloc(chunk);
            if (!p) break;
            memset(p, 1, chunk);
            total += chunk;
            printf("MEM %zu\n", total >> 20);
            fflush(stdout);
        }
        printf("MEM-DONE %zu\n", total >> 20);
        fflush(stdout);
        return 0;
        """#

    static func build(in scratch: Scratch, name: String, body: String, includes: [String] = []) throws -> String {
        let dir = scratch.file("standin-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = dir + "/kernel.c"
        let headers = ["errno.h", "fcntl.h", "signal.h", "stdio.h", "stdlib.h", "string.h", "unistd.h",
                       "sys/socket.h", "sys/stat.h", "sys/syscall.h", "sys/un.h", "sys/wait.h"] + includes
        let text = headers.map { "#include <\($0)>\n" }.joined() + """
            const char banner[] __attribute__((used)) = "User Mode Linux v0-standin";
            int main(int argc, char **argv) {
            (void)argc; (void)argv;
            \(body)
            }
            """
        try text.write(toFile: source, atomically: true, encoding: .utf8)
        let binary = dir + "/" + name
        let r = try runProcess("/usr/bin/cc", ["-static", "-O1", "-o", binary, source])
        guard r.status == 0 else { throw TestFailure("cc failed: \(r.summary)") }
        return binary
    }
}
