import Foundation
import TestSupport

/// Where the man pages these tests read live.
enum PackagePaths {
    static let manDirectory = "\(TestPaths.packageRoot)/man"

    /// Every roff page in man/, sorted: `corral.1`, `corral-cow.1`, …
    static func manPages() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: manDirectory)
            .filter { name in name.split(separator: ".").last.map { ["1", "5", "8"].contains($0) } ?? false }
            .sorted()
    }
}
