import COWEngine

/// A boot's uml_dir and console pty, made before its preflight: the helper
/// needs both named in its spec (``KernelHelper/send(_:in:)``) to build
/// the kernel's session and jail around them, which it then does while the
/// preflight runs. ``BootSession`` takes them over and lets them go after
/// the boot; a refused boot lets them go at once.
struct BootWorkspace {
    let directory: BootDirectory
    let console: Pseudoterminal

    /// Fails as making either fails; the boot reports that after the
    /// preflight's findings, which come first.
    init(_ plan: BootPlan) throws(LauncherError) {
        directory = try BootDirectory(plan)
        // The caller's terminal when the boot reads it, else 80x24.
        console = try Pseudoterminal(windowSizeFrom: BootSession.callerInput(plan) ?? -1)
    }

    /// Whether every file the kernel may write exists, so that the helper
    /// can bind them into its jail now: a COW that corral makes after the
    /// preflight (``DiskCreation``) does not yet, and the spec then waits.
    static func writablePathsExist(_ plan: BootPlan) -> Bool {
        plan.policy.writablePaths.allSatisfy { path in
            guard case .some(.some) = try? FileStatus.of(path) else { return false }
            return true
        }
    }
}
