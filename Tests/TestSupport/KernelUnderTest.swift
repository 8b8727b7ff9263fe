import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one gate every kernel-facing suite uses: which kernel it boots
/// (``TestEnvironment/kernel``: `make check` runs these suites once per
/// supported kernel) and whether this host can run it.
///
/// A suite is enabled when the kernel, the built `corral` and the tools it
/// names are here (and root, when it asks for root), or whenever CI demands
/// kernel tests (`CORRAL_REQUIRE_UML=1`): then a missing piece fails the
/// test through ``require(tools:root:)`` instead of skipping it. Before this
/// each suite (Harness, Rig, TestKernel, TestHost, Host) spelled the rule
/// out itself, each a little differently.
public enum KernelUnderTest {
    public static let path = TestEnvironment.kernel

    /// What is missing for a kernel test needing `tools` (and root), or nil.
    public static func missing(tools: [String] = [], root: Bool = false) -> String? {
        if !FileManager.default.isExecutableFile(atPath: path) { return "\(path) is missing" }
        if root && geteuid() != 0 { return "it needs root" }
        if !FileManager.default.isExecutableFile(atPath: TestPaths.corral) { return "\(TestPaths.corral) is missing: run swift build first" }
        if let tool = tools.first(where: { !TestEnvironment.has($0) }) { return "\(tool) is not installed" }
        return nil
    }

    /// Whether a suite needing `tools` (and root) runs here: skipped only
    /// when something is missing and CI did not ask for kernel tests.
    public static func enabled(tools: [String] = [], root: Bool = false) -> Bool {
        TestEnvironment.requireUML || missing(tools: tools, root: root) == nil
    }

    /// Throws (failing the test) when something the test needs is missing,
    /// which only happens when CI demanded kernel tests.
    public static func require(tools: [String] = [], root: Bool = false) throws {
        if let missing = missing(tools: tools, root: root) {
            throw TestFailure("CORRAL_REQUIRE_UML=1 but \(missing)")
        }
    }
}
