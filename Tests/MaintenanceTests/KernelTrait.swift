import Foundation
import Testing
import TestSupport

extension Trait where Self == ConditionTrait {
    /// The kernel, corral and the tools a job's guest and its checks use
    /// (``KernelUnderTest``).
    static var bootsKernel: Self {
        .enabled(if: KernelUnderTest.enabled(tools: ["mkfs.ext4", "debugfs", "rsync", "e2fsck", "depmod"]),
                 "needs linux.uml, e2fsprogs, rsync and kmod (CORRAL_REQUIRE_UML=1 makes this a failure)")
    }
}

extension Scratch {
    /// Files that are not what the test made: temporary copies left behind.
    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.contains(".corral-") }
    }
}

/// Bookworm's kernel's module tree on the host (user-mode-linux), where the
/// install-modules tests take their modules from.
enum HostModules {
    static let release = "6.1.176"
    static let tree = "/usr/lib/uml/modules/\(release)"

    /// The first `count` modules (sorted by path) copied, paths kept, into
    /// `s("few/RELEASE")`: a module tree small enough for a quick job.
    static func few(_ count: Int, in s: Scratch) throws -> String {
        let few = s("few/\(release)")
        try shell(#"mkdir -p "$2" && cd "$1" && find kernel -name '*.ko' | sort | head -\#(count) | xargs cp --parents -t "$2""#, tree, few)
        return few
    }
}
