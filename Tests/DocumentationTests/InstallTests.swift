import Testing
import TestSupport

/// `make install` into a staging directory, with the debug binary (a release
/// build would take minutes): the installed corral must find hostfs-init
/// from /, report its commit, and `make uninstall` must leave nothing.
/// The checks themselves are in scripts/install (`check`), shared with
/// `make install-check`.
@Suite struct InstallTests {
    @Test(.enabled(if: TestEnvironment.which("bash") != nil, "bash is not installed"))
    func stagedInstallFindsItsDataAndUninstallsCleanly() throws {
        let r = try runProcess("\(TestPaths.packageRoot)/scripts/install", ["check", TestPaths.corral], cwd: "/")
        #expect(r.status == 0, "\(r.summary)")
        #expect(r.stdout.contains("install-check: ok"), "\(r.summary)")
    }
}
