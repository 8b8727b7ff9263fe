import Foundation
import Testing
@testable import Launcher

/// What the helper spawned as `corral boot` starts is told to prepare,
/// read off the raw command line before ArgumentParser has parsed it
/// (`EarlyKernelHelper.expectedKernel`): the default sandbox policy and its
/// kernel, or nothing. A helper told to prepare enters the jail's
/// namespaces before its spec arrives, which it cannot undo; so a command
/// line that asks for another policy, in any spelling ArgumentParser takes,
/// must not be read as the default.
struct EarlyKernelHelperTests {
    let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

    func expected(_ arguments: [String]) -> String? {
        EarlyKernelHelper.expectedKernel(arguments[...], environment: environment)
    }

    @Test func anotherPolicyIsNeverReadAsTheDefault() {
        for arguments in [["--sandbox", "off"], ["--sandbox=off"], ["--command", "true", "--sandbox", "off"],
                          ["--sandbox-user", "nobody"], ["--sandbox-user=root"], ["--sandbox", "enforce", "--sandbox-user", "root"],
                          ["--sandbox", "enforce", "--sandbox", "off"], ["--sandbox"]] {
            #expect(expected(arguments) == nil, "\(arguments) read as the default policy")
        }
    }

    @Test func theDefaultPolicyNamesTheKernelAsThePlanResolvesIt() throws {
        let kernel = "/opt/uml/linux-6.12"
        #expect(expected(["--kernel", kernel, "--command", "true"]) == kernel)
        #expect(expected(["--kernel=\(kernel)"]) == kernel)
        #expect(expected(["--sandbox", "enforce", "--kernel", kernel]) == kernel)
        #expect(expected(["--sandbox=enforce", "--kernel=\(kernel)"]) == kernel)
        // After `--` come the guest's command and its words, not corral's options.
        #expect(expected(["--kernel", kernel, "--", "--sandbox", "off"]) == kernel)
        #expect(expected(["--kernel", kernel, "--", "--kernel", "/elsewhere"]) == kernel)
        // A kernel named without a path: looked up on PATH, as the plan does.
        let onPath = try? Resources.kernelPath(Resources.defaultKernel, environment: environment)
        #expect(expected(["--command", "true"]) == (onPath ?? ""))
        #expect(expected(["--kernel", "no-such-kernel-\(getpid())"]) == "", "an unresolvable name is no kernel to compile for")
    }
}
