// Test support: boots a kernel through SandboxRunner the way the launcher's
// helper does, without the launcher.
//
//   corral-sandbox-probe POLICY-JSON KERNEL ARGV0 [ARGS...]   exec the kernel
//   corral-sandbox-probe --report POLICY-JSON                 print report lines
//   corral-sandbox-probe --load-then-inet                     load the filter into
//       this process, print "loaded", then socket(AF_INET): must die of SIGSYS.
//       The Swift runtime itself needs gettid and futex, which UML never
//       calls, so this mode adds those two to the kernel's list.
//
// Exit 125 with one line on stderr when the sandbox cannot be set up.
import CSandboxShim
import Foundation
import Sandbox

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = "corral-sandbox-probe: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(125)
}

let args = CommandLine.arguments
if args.count == 3, args[1] == "--report" {
    guard let policy = try? JSONDecoder().decode(SandboxPolicy.self, from: Data(args[2].utf8)) else {
        fail("bad policy JSON")
    }
    for line in SandboxRunner.report(policy: policy) {
        let text = line + "\n"
        _ = text.withCString { write(1, $0, strlen($0)) }
    }
    exit(0)
}
if args.count == 2, args[1] == "--load-then-inet" {
    do {
        var list = Allowlist.uml61
        list.rules += [.allow("gettid", "Swift runtime locks"), .allow("futex", "Swift runtime locks")]
        try SeccompFilter.build(from: list).load()
    } catch {
        fail("\(error)")
    }
    _ = "loaded\n".withCString { write(1, $0, strlen($0)) }
    _ = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    exit(0)
}
guard args.count >= 4 else { fail("usage: corral-sandbox-probe POLICY-JSON KERNEL ARGV0 [ARGS...]") }
let policy: SandboxPolicy
do {
    policy = try JSONDecoder().decode(SandboxPolicy.self, from: Data(args[1].utf8))
} catch {
    fail("bad policy JSON: \(error)")
}
// Like the launcher's helper: die with the parent.
_ = corral_set_parent_death_signal(SIGKILL)
do {
    try SandboxRunner.execKernel(kernelPath: args[2], argv: Array(args[3...]), policy: policy)
} catch {
    fail("\(error)")
}
