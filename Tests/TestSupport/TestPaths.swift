import Foundation

/// Where the package and its built `corral` live, found from this file's path
/// (`Tests/TestSupport/TestPaths.swift`), so tests work from any working directory.
public enum TestPaths {
    public static let packageRootURL: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let packageRoot: String = packageRootURL.path

    /// `Tests/Fixtures`: the vector generator and its helpers.
    public static let fixtures: URL = packageRootURL.appendingPathComponent("Tests/Fixtures")

    /// The corral binary `swift build` produced (`make check` builds it before
    /// testing; `swift test` does not rebuild executables). CORRAL_BINARY points
    /// elsewhere, e.g. at a release build.
    public static let corral: String = ProcessInfo.processInfo.environment["CORRAL_BINARY"]
        ?? "\(packageRoot)/.build/debug/corral"
}

/// What the host offers the tests: the kernel, the tools, the CI switch.
public enum TestEnvironment {
    public static let variables = ProcessInfo.processInfo.environment

    /// CI sets CORRAL_REQUIRE_UML=1: then a missing kernel fails the kernel
    /// tests instead of skipping them.
    public static let requireUML = variables["CORRAL_REQUIRE_UML"] == "1"

    /// The kernel every kernel-facing test boots: `CORRAL_TEST_KERNEL` (make
    /// check runs the kernel suites once per kernel: /usr/bin/linux.uml, then
    /// scripts/kernels' .build/kernels/6.12 and 7.2), else `CORRAL_UML_KERNEL`
    /// (e.g. to check the gating), else bookworm's /usr/bin/linux.uml.
    public static let kernel = variables["CORRAL_TEST_KERNEL"].flatMap { $0.isEmpty ? nil : $0 }
        ?? variables["CORRAL_UML_KERNEL"] ?? "/usr/bin/linux.uml"

    /// The kernel's directory, when it must go first on PATH: a test kernel
    /// named linux.uml outside /usr/bin, so a corral run without --kernel
    /// (which looks linux.uml up on PATH) boots it too.
    static let kernelDirectory: String? = {
        let url = URL(fileURLWithPath: kernel)
        guard url.lastPathComponent == "linux.uml", url.deletingLastPathComponent().path != "/usr/bin" else { return nil }
        return url.deletingLastPathComponent().path
    }()

    /// The test kernel's release as the guest's `uname -r` reports it's
    /// major.minor ("6.1", "6.12", "7.2"), read from its banner; nil if unknown.
    public static let kernelSeries: String? = {
        guard let r = try? runProcess(kernel, ["--version"]), r.status == 0 else { return nil }
        let parts = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".")
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : nil
    }()

    /// PATH (behind the test kernel's directory, if any) plus the sbin
    /// directories (mkfs.ext4, debugfs, e2fsck live there).
    public static let searchPath = (kernelDirectory.map { $0 + ":" } ?? "")
        + (variables["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"

    /// The test's environment with ``searchPath`` as PATH, for the programs
    /// the tests run (corral's jobs call mkfs.ext4, e2fsck, ...).
    public static let childEnvironment: [String: String] = variables.merging(["PATH": searchPath]) { $1 }

    /// The first executable `name` on `path` (by default ``searchPath``), or nil.
    public static func which(_ name: String, path: String = searchPath) -> String? {
        path.split(separator: ":").lazy.filter { !$0.isEmpty }.map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static func has(_ tool: String) -> Bool { which(tool) != nil }
}

/// A test's own failure, with a message.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
