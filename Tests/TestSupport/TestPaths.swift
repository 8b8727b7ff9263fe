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

    /// `CORRAL_UML_KERNEL` overrides the kernel (e.g. to check the gating).
    public static let kernel = variables["CORRAL_UML_KERNEL"] ?? "/usr/bin/linux.uml"

    /// PATH plus the sbin directories (mkfs.ext4, debugfs, e2fsck live there).
    public static let searchPath = (variables["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"

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
