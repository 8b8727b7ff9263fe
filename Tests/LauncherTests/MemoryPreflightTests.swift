import Foundation
import Testing
import TestSupport
@testable import Launcher

/// `--memory` larger than the host's RAM is refused before anything starts
/// (it used to be accepted: `--memory 64G` on a 24 GiB host booted, and the
/// guest's memory file could fill its tmpfs mid-work).
@Suite struct MemoryPreflightTests {
    @Test func memorySizesParseLikeTheKernelsMem() {
        #expect(Preflight.memoryBytes("256M") == 256 << 20)
        #expect(Preflight.memoryBytes("1g") == 1 << 30)
        #expect(Preflight.memoryBytes("4096") == 4096)
        #expect(Preflight.memoryBytes("99999999999G") == nil)
    }

    @Test func moreThanTheHostCanBackIsAFailureSayingHowMuchFits() {
        var issues: [PreflightIssue] = []
        Preflight.checkMemory("64G", hostBytes: 24 << 30, &issues)
        #expect(issues.count == 1 && issues.first?.severity == .failure)
        #expect(issues.first?.message == "--memory 64G is more than this host's 24.0 GiB of RAM can back")
        #expect(issues.first?.hint == "give at most --memory 24576M")
        issues = []
        Preflight.checkMemory("16G", hostBytes: 24 << 30, &issues)
        #expect(issues.isEmpty)
    }

    /// Through the built corral: a usage error (exit status 64, one line and
    /// the usual hint) while parsing, so no kernel is started.
    @Test func corralBootRefusesItBeforeBoot() throws {
        let huge = "\(((Preflight.hostMemory() ?? (1 << 40)) >> 30) + 64)G"
        let r = try runCorral(["boot", "--memory", huge, "--kernel", "/bin/true", "--command", "true"])
        #expect(r.status == 64, "\(r.summary)")
        #expect(r.stderr.contains("--memory \(huge) is more than this host's"), "\(r.summary)")
    }
}
