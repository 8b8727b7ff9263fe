import Foundation
import TestSupport
import Testing

/// The launcher prints nothing itself: a boot's diagnostics are events the
/// CLI prints (BootEventPrinter). Every command that boots must still show
/// them, word for word; a command that forgot to pass them on would boot
/// silently.
@Suite("boot diagnostics from every command that boots", .serialized)
struct BootDiagnosticsTests {
    /// `maint run --verbose`: the boot's own lines and the kernel's text.
    @Test(.needsKernel) func aMaintJobShowsItsBootsLines() throws {
        let dir = try Scratch("corral-events")
        let r = try runCorral(["maint", "run", "--verbose", "--", "true"], cwd: dir.path)
        #expect(r.status == 0, "\(r.summary)")
        #expect(r.stderr.contains("\ncorral: RAID-6 benchmark skipped (no disk holds md, LVM, btrfs or a partition table; --raid6 on keeps it)\n"), "\(r.summary)")
        #expect(r.stderr.contains("\ncorral: helper pid "), "\(r.summary)")
        #expect(r.stderr.contains("Linux version "), "\(r.summary)")
    }

    /// A boot that ends in a panic says why and what to do, from `corral boot`
    /// (a custom init's console, panic included, is the command's output).
    @Test(.needsKernel) func aPanicIsExplainedWithAdvice() throws {
        let r = try runCorral(["boot", "--timeout", "60", "--init", "/nonexistent"])
        #expect(r.status == 243, "\(r.summary)")
        #expect(r.stdout.contains("Kernel panic - not syncing: Requested init /nonexistent failed"), "\(r.summary)")
        #expect(r.stderr.hasSuffix("""
            corral: the guest's root has no init to run (Requested init /nonexistent failed (error -2).); \
            pass --init PROGRAM, or --command CMD to run one command in the disk's root
            corral: kernel panic (exit status 243)

            """), "\(r.summary)")
    }

    /// A preflight refusal: the finding, then the status line, and nothing started.
    @Test func aPreflightRefusalNamesWhatIsWrongAndTheStatus() throws {
        let r = try runCorral(["boot", "--kernel", "/bin/true", "--", "true"])
        #expect(r.status == 240, "\(r.summary)")
        #expect(r.stderr == """
            corral: preflight: '/bin/true' is not a User-Mode Linux kernel; pass --kernel with a linux.uml binary
            corral: preflight failed; nothing was started (exit status 240)

            """, "\(r.summary)")
    }

    /// The kernel helper run by hand has no error pipe: its one line goes to stderr.
    @Test func theKernelHelperByHandSaysWhatToRunInstead() throws {
        let r = try runCorral(["_kernel-exec"])
        #expect(r.status == 127, "\(r.summary)")
        #expect(r.stderr == "corral: _kernel-exec is internal to corral boot; run corral boot instead\n", "\(r.summary)")
    }
}
