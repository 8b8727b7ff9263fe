import Foundation

/// Where the things these tests read live, found from this file's path
/// (`Tests/DocumentationTests/PackagePaths.swift`), so the tests work from
/// any working directory.
enum PackagePaths {
    static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The binary `swift build` (and so `swift test`) produced. CORRAL_BINARY
    /// points elsewhere, e.g. at a release build.
    static let corral: String = ProcessInfo.processInfo.environment["CORRAL_BINARY"] ?? "\(root)/.build/debug/corral"

    static let manDirectory = "\(root)/man"

    /// Every roff page in man/, sorted: `corral.1`, `corral-cow.1`, …
    static func manPages() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: manDirectory)
            .filter { name in name.split(separator: ".").last.map { ["1", "5", "8"].contains($0) } ?? false }
            .sorted()
    }
}
