import Foundation
@testable import Launcher
import Sandbox
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Which userspace a boot's guest processes run in (``UserspaceMode``):
/// seccomp on the build that has it, for corral's own init only, never
/// against the user's `seccomp=`; checked on the command line and on the
/// host's view of the running stubs.
@Suite struct UserspaceModeTests {
    @Test func theModeIsOneArgumentBeforeTheUsersOwn() {
        let line = KernelCommandLine(umid: "x", userspace: .seccomp, extraArguments: ["seccomp=off"])
        let args = line.arguments
        #expect(args.filter { $0.hasPrefix("seccomp=") } == ["seccomp=on", "seccomp=off"],
                "the user's seccomp= comes last, so UML takes it: \(args)")
        #expect(!KernelCommandLine(umid: "x").arguments.contains { $0.hasPrefix("seccomp=") })
    }

    /// A kernel without a profile, or without corral's init, or with the
    /// user's own `seccomp=`, keeps ptrace; so do 6.1 and 6.12.
    @Test func onlyAKnownSeccompBuildWithCorralsInitGetsIt() throws {
        // Any ELF without a shipped profile: /bin/true's build id is no kernel's.
        let unknown = "/bin/true"
        #expect(!KernelProfile.select(kernelPath: unknown).known)
        for sandbox in [SandboxPolicy.Mode.enforce, .off] {
            #expect(UserspaceMode.choose(KernelProfile.select(kernelPath: unknown), hostfsInit: true, sandbox: sandbox, extraArguments: []) == .ptrace)
        }
        let supporting = KernelProfile.known.filter(\.seccompUserspace).map(\.release)
        #expect(supporting == ["7.2.7"], "only 7.2 has seccomp userspace: \(supporting)")
    }

    /// The kernel under test, booted with a command: its stubs are ptraced
    /// by the kernel (6.1, 6.12, and 7.2 told `seccomp=off`), or run
    /// untraced under a filter of their own stacked on the jail's (7.2).
    @Test(.timeLimit(.minutes(2)), arguments: [[], ["--kernel-arg", "seccomp=off"]])
    func theStubsRunInTheChosenMode(_ extra: [String]) throws {
        try KernelUnderTest.require(root: true)
        let seccomp = TestEnvironment.kernelSeries == "7.2" && extra.isEmpty
        let dir = try Scratch("corral-userspace-boot")
        let dry = try runCorral(["boot", "--dry-run", "--kernel", TestEnvironment.kernel, "--command", "true"] + extra)
        #expect(dry.stdout.contains("\nseccomp=on\n") == seccomp, "\(dry.stdout)")
        // The guest's own init (a hostfs root with --init) is never put in seccomp userspace.
        let ownInit = try runCorral(["boot", "--dry-run", "--kernel", TestEnvironment.kernel, "--init", "/sbin/init"])
        #expect(!ownInit.stdout.contains("seccomp=on"), "\(ownInit.stdout)")

        let boot = try BackgroundCorral(
            ["boot", "--verbose", "--kernel", TestEnvironment.kernel] + extra
                + ["--command", "sh -c 'sleep 3' & echo GUEST ready; wait; echo GUEST done"],
            outputPath: dir.file("console.txt"), cwd: dir.path)
        try #require(boot.waitFor("GUEST ready"), "the guest never got ready: \(boot.output)")
        let jailed = HostProcesses.jailed(under: boot.process.processIdentifier).compactMap(HostProcesses.entry)
        let reapers = Set(jailed.filter { $0.comm == "corral-reaper" }.map(\.pid))
        let kernel = try #require(jailed.first { $0.comm == "linux.uml" && reapers.contains($0.parent) },
                                  "no kernel process: \(jailed.map(\.comm))")
        var traced = 0, untraced = 0, stacked = 0
        for pid in HostProcesses.descendants(of: kernel.pid) {
            // One read per process: stubs come and go with the guest's processes.
            guard let status = HostProcesses.status(pid, task: pid), let tracer = status["TracerPid"] else { continue }
            if tracer == "\(kernel.pid)" { traced += 1 } else if tracer == "0" { untraced += 1 }
            if status["Seccomp_filters"] == "2" { stacked += 1 }
        }
        if seccomp {
            #expect(traced == 0 && stacked >= 2, "seccomp userspace: \(traced) traced, \(stacked) stubs with their own filter")
        } else {
            #expect(traced >= 2 && stacked == 0, "ptrace userspace: \(traced) traced, \(stacked) stubs with their own filter")
        }
        boot.wait()
        #expect(boot.process.terminationStatus == 0 && boot.output.contains("GUEST done"), "\(boot.output)")
        // --verbose says which, in one line.
        let said = boot.output.split(separator: "\n").filter { $0.hasPrefix("corral: guest processes: ") }
        let expected = !extra.isEmpty ? "as seccomp=off on the command line says"
            : seccomp ? "UML's seccomp userspace (seccomp=on" : "traced by ptrace"
        #expect(said.count == 1 && said.first?.contains(expected) == true, "\(said)")
        print("userspace \(extra.isEmpty ? "default" : "seccomp=off") on \(TestEnvironment.kernelSeries ?? "?"): \(traced) traced, \(untraced) untraced, \(stacked) with two filters")
    }
}
