import CSandboxShim
import CSeccomp
import Foundation
import Sandbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Firecracker-style table: each probe runs in a forked child that loads
/// exactly the kernel's filter (`SeccompFilter(allowlist: .uml61)`) and
/// makes one syscall. Forbidden calls must die with SIGSYS (or get the
/// documented errno); every argument-filtered rule is tried with an allowed
/// argument and a changed one.
struct Probe: Sendable, CustomTestStringConvertible {
    enum Arg: Sendable {
        case int(Int)
        case string(String)
        case argv([String])
        case buffer(Int)
    }
    enum Expect: Sendable, Equatable {
        /// Killed by SIGSYS (SECCOMP_RET_KILL_PROCESS).
        case killed
        /// The filter answered with this errno instead of running the call.
        case filterErrno(Int32)
        /// The filter let it through; the host kernel answered with this errno (nil: success).
        case allowed(Int32?)
    }

    var label: String
    var syscall: String
    var args: [Arg]
    var abi: Int32 = 0
    var expect: Expect
    /// Also run unfiltered, to show the probe itself is not what fails.
    var baseline = true

    var testDescription: String { label }

    static let noPid = 0x7fff_fff0  // a pid that does not exist

    static let denials: [Probe] = [
        Probe(label: "socket(AF_INET)", syscall: "socket", args: [.int(2), .int(1), .int(0)], expect: .killed),
        Probe(label: "socket(AF_INET6)", syscall: "socket", args: [.int(10), .int(2), .int(0)], expect: .killed),
        Probe(label: "socket(AF_NETLINK)", syscall: "socket", args: [.int(16), .int(3), .int(0)], expect: .killed),
        Probe(label: "mount(tmpfs)", syscall: "mount",
              args: [.string("none"), .string("/nonexistent-corral"), .string("tmpfs"), .int(0), .int(0)], expect: .killed),
        Probe(label: "kexec_load", syscall: "kexec_load", args: [.int(0), .int(0), .int(0), .int(0xdead_0000)], expect: .killed),
        Probe(label: "bpf(BPF_PROG_LOAD)", syscall: "bpf", args: [.int(5), .int(0), .int(0)], expect: .killed),
        Probe(label: "init_module", syscall: "init_module", args: [.int(0), .int(0), .string("")], expect: .killed),
        Probe(label: "finit_module", syscall: "finit_module", args: [.int(-1), .string(""), .int(0)], expect: .killed),
        Probe(label: "ptrace(PTRACE_ATTACH)", syscall: "ptrace", args: [.int(16), .int(noPid), .int(0), .int(0)], expect: .killed),
        Probe(label: "ptrace(PTRACE_SEIZE)", syscall: "ptrace", args: [.int(0x4206), .int(noPid), .int(0), .int(0)], expect: .killed),
        Probe(label: "ptrace(PTRACE_POKEDATA)", syscall: "ptrace", args: [.int(5), .int(noPid), .int(0), .int(0)], expect: .killed),
        Probe(label: "execve(/bin/true) -> EPERM", syscall: "execve",
              args: [.string("/bin/true"), .argv(["true"]), .argv([])], expect: .filterErrno(EPERM)),
        Probe(label: "execveat(AT_FDCWD, /bin/true)", syscall: "execveat",
              args: [.int(-100), .string("/bin/true"), .argv(["true"]), .argv([]), .int(0)], expect: .killed),
        Probe(label: "unshare(CLONE_NEWUSER)", syscall: "unshare", args: [.int(0x1000_0000)], expect: .killed),
        Probe(label: "clone(CLONE_NEWUSER|CLONE_NEWNS)", syscall: "clone",
              args: [.int(0x1000_0000 | 0x20000 | 17), .int(0), .int(0), .int(0), .int(0)], expect: .killed),
        Probe(label: "clone3 -> ENOSYS", syscall: "clone3", args: [.int(0), .int(0)], expect: .filterErrno(ENOSYS)),
        Probe(label: "setns", syscall: "setns", args: [.int(-1), .int(0)], expect: .killed),
        Probe(label: "chroot", syscall: "chroot", args: [.string("/")], expect: .killed),
        Probe(label: "reboot(bad magic)", syscall: "reboot", args: [.int(0), .int(0), .int(0), .int(0)], expect: .killed),
        Probe(label: "prctl(PR_GET_DUMPABLE)", syscall: "prctl", args: [.int(3)], expect: .killed),
        Probe(label: "keyctl", syscall: "keyctl", args: [.int(0), .int(-3)], expect: .killed),
        Probe(label: "io_uring_setup", syscall: "io_uring_setup", args: [.int(0), .int(0)], expect: .killed),
        Probe(label: "connect", syscall: "connect", args: [.int(-1), .int(0), .int(0)], expect: .killed),
        Probe(label: "i386 int 0x80 getpid", syscall: "getpid", args: [], abi: 1, expect: .killed, baseline: false),
        Probe(label: "x32 getpid", syscall: "getpid", args: [], abi: 2, expect: .killed, baseline: false),
    ]

    /// Pairs: the allowed argument, then the changed one.
    static let argumentRules: [Probe] = [
        Probe(label: "getpid (unfiltered control)", syscall: "getpid", args: [], expect: .allowed(nil)),
        Probe(label: "socket(AF_UNIX) allowed", syscall: "socket", args: [.int(1), .int(1), .int(0)], expect: .allowed(nil)),
        Probe(label: "socketpair(AF_UNIX) allowed", syscall: "socketpair",
              args: [.int(1), .int(1), .int(0), .buffer(8)], expect: .allowed(nil)),
        Probe(label: "socketpair(AF_INET) killed", syscall: "socketpair",
              args: [.int(2), .int(1), .int(0), .buffer(8)], expect: .killed),
        Probe(label: "ptrace(GETREGS) allowed", syscall: "ptrace",
              args: [.int(12), .int(noPid), .int(0), .int(0)], expect: .allowed(ESRCH)),
        Probe(label: "clone(CLONE_FILES|SIGCHLD) allowed", syscall: "clone",
              args: [.int(0x411), .int(0), .int(0), .int(0), .int(0)], expect: .allowed(nil)),
        Probe(label: "clone(CLONE_FILES|SIGCHLD|CLONE_NEWPID) killed", syscall: "clone",
              args: [.int(0x411 | 0x2000_0000), .int(0), .int(0), .int(0), .int(0)], expect: .killed),
        Probe(label: "kill(pid, SIGCONT) allowed", syscall: "kill", args: [.int(noPid), .int(18)], expect: .allowed(ESRCH)),
        Probe(label: "kill(pid, SIGHUP) killed", syscall: "kill", args: [.int(noPid), .int(1)], expect: .killed),
        Probe(label: "kill(-pgrp sign-extended) killed", syscall: "kill", args: [.int(-noPid), .int(18)], expect: .killed),
        Probe(label: "kill(-pgrp zero-extended) killed", syscall: "kill",
              args: [.int(Int(UInt32(bitPattern: Int32(-noPid)))), .int(18)], expect: .killed),
        Probe(label: "ioctl(TCGETS) allowed", syscall: "ioctl", args: [.int(-1), .int(0x5401), .int(0)], expect: .allowed(EBADF)),
        Probe(label: "ioctl(TIOCSTI) killed", syscall: "ioctl", args: [.int(-1), .int(0x5412), .int(0)], expect: .killed),
        Probe(label: "fcntl(F_GETFD) allowed", syscall: "fcntl", args: [.int(-1), .int(1)], expect: .allowed(EBADF)),
        Probe(label: "fcntl(F_SETPIPE_SZ) killed", syscall: "fcntl", args: [.int(-1), .int(1031), .int(4096)], expect: .killed),
        Probe(label: "fallocate(PUNCH_HOLE|KEEP_SIZE) allowed", syscall: "fallocate",
              args: [.int(-1), .int(3), .int(0), .int(4096)], expect: .allowed(EBADF)),
        Probe(label: "fallocate(ZERO_RANGE|KEEP_SIZE) allowed", syscall: "fallocate",
              args: [.int(-1), .int(0x11), .int(0), .int(4096)], expect: .allowed(EBADF)),
        Probe(label: "fallocate(mode 0) EPERM", syscall: "fallocate",
              args: [.int(-1), .int(0), .int(0), .int(4096)], expect: .filterErrno(EPERM)),
        Probe(label: "fallocate(INSERT_RANGE) EPERM", syscall: "fallocate",
              args: [.int(-1), .int(0x20), .int(0), .int(4096)], expect: .filterErrno(EPERM)),
        Probe(label: "fallocate(unknown mode 0x4) killed", syscall: "fallocate",
              args: [.int(-1), .int(0x4), .int(0), .int(4096)], expect: .killed),
        Probe(label: "mknodat(S_IFIFO) allowed", syscall: "mknodat",
              args: [.int(-100), .string("/nonexistent-corral/fifo"), .int(0o010600), .int(0)], expect: .allowed(ENOENT)),
        Probe(label: "mknodat(S_IFCHR) EPERM", syscall: "mknodat",
              args: [.int(-100), .string("/nonexistent-corral/chr"), .int(0o020600), .int(0x103)], expect: .filterErrno(EPERM)),
        Probe(label: "mknodat(S_IFBLK) EPERM", syscall: "mknodat",
              args: [.int(-100), .string("/nonexistent-corral/blk"), .int(0o060600), .int(0x800)], expect: .filterErrno(EPERM)),
        Probe(label: "chmod(0644) allowed", syscall: "chmod",
              args: [.string("/nonexistent-corral"), .int(0o644)], expect: .allowed(ENOENT)),
        Probe(label: "chmod(04755) EPERM", syscall: "chmod",
              args: [.string("/nonexistent-corral"), .int(0o4755)], expect: .filterErrno(EPERM)),
        Probe(label: "chmod(02755) EPERM", syscall: "chmod",
              args: [.string("/nonexistent-corral"), .int(0o2755)], expect: .filterErrno(EPERM)),
        Probe(label: "fchmod(0600) allowed", syscall: "fchmod", args: [.int(-1), .int(0o600)], expect: .allowed(EBADF)),
        Probe(label: "fchmod(06755) EPERM", syscall: "fchmod", args: [.int(-1), .int(0o6755)], expect: .filterErrno(EPERM)),
        Probe(label: "prlimit64(read) allowed", syscall: "prlimit64",
              args: [.int(0), .int(4), .int(0), .buffer(16)], expect: .allowed(nil)),
        Probe(label: "prlimit64(set) killed", syscall: "prlimit64",
              args: [.int(0), .int(4), .buffer(16), .int(0)], expect: .killed),
        Probe(label: "execveat(kernel fd, AT_EMPTY_PATH) allowed", syscall: "execveat",
              args: [.int(Int(Allowlist.kernelExecFD)), .string(""), .argv(["x"]), .argv([]), .int(0x1000)],
              expect: .allowed(EBADF)),
        Probe(label: "execveat(other fd, AT_EMPTY_PATH) killed", syscall: "execveat",
              args: [.int(999), .string(""), .argv(["x"]), .argv([]), .int(0x1000)], expect: .killed),
        Probe(label: "execveat(kernel fd, flags 0) killed", syscall: "execveat",
              args: [.int(Int(Allowlist.kernelExecFD)), .string(""), .argv(["x"]), .argv([]), .int(0)], expect: .killed),
    ]

    /// Runs the probe; nil filter = unfiltered.
    func run(filter: BPFProgram?) throws -> corral_probe_result {
        let nr = seccomp_syscall_resolve_name(syscall)
        try #require(nr >= 0, "unknown syscall \(syscall)")
        // Pointers stay valid in the forked child; leaked on purpose (tests).
        var raw = args.map { arg -> Int in
            switch arg {
            case .int(let v): return v
            case .string(let s): return Int(bitPattern: strdup(s))
            case .argv(let list):
                let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: list.count + 1)
                for (i, s) in list.enumerated() { p[i] = strdup(s) }
                p[list.count] = nil
                return Int(bitPattern: p)
            case .buffer(let n): return Int(bitPattern: calloc(1, n))
            }
        }
        while raw.count < 6 { raw.append(0) }
        var result = corral_probe_result()
        let rc = raw.withUnsafeBufferPointer { args in
            if let filter {
                return filter.bytes.withUnsafeBufferPointer {
                    corral_probe_syscall($0.baseAddress, $0.count, Int(nr), args.baseAddress, abi, &result)
                }
            }
            return corral_probe_syscall(nil, 0, Int(nr), args.baseAddress, abi, &result)
        }
        try #require(rc == 0, "probe fork failed")
        return result
    }
}

@Suite struct DenialTableTests {
    static let filter: BPFProgram = {
        do { return try SeccompFilter(allowlist: .uml61).bpf() } catch { fatalError("\(error)") }
    }()

    static func check(_ probe: Probe) throws {
        let r = try probe.run(filter: filter)
        switch probe.expect {
        case .killed:
            #expect(r.outcome == 1 && r.signal == SIGSYS,
                    "\(probe.label): expected SIGSYS, got outcome \(r.outcome) ret \(r.ret) errno \(r.err) signal \(r.signal)")
        case .filterErrno(let code):
            #expect(r.outcome == 0 && r.ret == -1 && r.err == code,
                    "\(probe.label): expected errno \(code), got outcome \(r.outcome) ret \(r.ret) errno \(r.err) signal \(r.signal)")
        case .allowed(let code):
            if let code {
                #expect(r.outcome == 0 && r.ret == -1 && r.err == code,
                        "\(probe.label): expected kernel errno \(code), got outcome \(r.outcome) ret \(r.ret) errno \(r.err) signal \(r.signal)")
            } else {
                #expect(r.outcome == 0 && r.ret >= 0,
                        "\(probe.label): expected success, got outcome \(r.outcome) ret \(r.ret) errno \(r.err) signal \(r.signal)")
            }
        }
        if probe.baseline && probe.expect != .allowed(nil) {
            let plain = try probe.run(filter: nil)
            #expect(!(plain.outcome == 1 && plain.signal == SIGSYS), "\(probe.label) dies even without the filter")
            if case .filterErrno(let code) = probe.expect {
                #expect(!(plain.outcome == 0 && plain.err == code && plain.ret == -1) || probe.syscall == "clone3",
                        "\(probe.label): the errno must come from the filter")
            }
        }
    }

    @Test(arguments: Probe.denials)
    func forbiddenCallIsDenied(_ probe: Probe) throws { try Self.check(probe) }

    @Test(arguments: Probe.argumentRules)
    func argumentRuleAllowsOnlyItsValues(_ probe: Probe) throws { try Self.check(probe) }
}
