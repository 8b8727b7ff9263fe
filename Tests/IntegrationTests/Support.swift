import Foundation
import Testing
import TestSupport

/// What this host offers the integration tests (``KernelUnderTest``).
enum Host {
    /// The host tools the vector generator drives, besides the kernel.
    static let tools = ["uml_moo", "python3", "mkfs.ext4", "debugfs", "blkdiscard", "timeout"]
    static var hasKernelTools: Bool { KernelUnderTest.missing(tools: tools) == nil }
    static var kernelTestsEnabled: Bool { KernelUnderTest.enabled(tools: tools) }
}

extension Trait where Self == ConditionTrait {
    /// Needs /usr/bin/linux.uml and uml-utilities (not root). Skipped when they are
    /// missing, unless CORRAL_REQUIRE_UML=1, where the test runs and fails.
    static var needsKernel: Self {
        .enabled(if: Host.kernelTestsEnabled, "needs linux.uml, uml_moo, python3, e2fsprogs")
    }
}

func fileSize(_ path: String) throws -> UInt64 {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
}

/// Bytes actually allocated on disk (`stat -c %b` × 512).
func allocatedBytes(_ path: String) throws -> UInt64 {
    UInt64(try shell(#"stat -c %b "$1""#, path))! * 512
}

/// Copies a file keeping holes and its mtime (the COW header pins the backing's mtime).
func copyKeepingMtime(_ source: String, to destination: String) throws {
    try shell(#"cp --sparse=always "$1" "$2" && touch -r "$1" "$2""#, source, destination)
}
