#if canImport(Glibc)
import Glibc
#endif
import Sandbox
import Testing
@testable import Launcher

/// The exit status and what corral says about it, for every way a boot
/// ends, from plain values (``BootEnding``): no kernel needed.
@Suite struct BootEndingTests {
    typealias Exit = ConsoleState.HelperExit
    static let poweredOff = Exit(exited: true, code: 0)

    func diagnostics(_ ending: BootEnding) -> [BootDiagnostic] {
        ending.report(ending.status).compactMap { if case .diagnostic(let d) = $0 { d } else { nil } }
    }

    @Test func theCommandsOwnStatusPassesThroughAndIsNotExplained() {
        let ending = BootEnding(helperExit: Self.poweredOff, guestStatus: 3, started: true)
        #expect(ending.status == .guest(3))
        #expect(ending.report(ending.status).isEmpty)
    }

    @Test func aTimeoutASignalAndCtrlRightBracketQ() {
        #expect(BootEnding(stop: .timeout, started: true).status == .timedOut)
        #expect(BootEnding(stop: .signal(SIGINT)).status == .interrupted(signal: SIGINT))
        #expect(BootEnding(stop: .escape).status == .stoppedByUser)
        // A status that came in before the stop wins.
        #expect(BootEnding(stop: .timeout, guestStatus: 0).status == .guest(0))
        let timedOut = BootEnding(stop: .timeout, helperExit: Exit(exited: false, code: SIGKILL), started: true)
        // corral killed it: no 'killed by signal' line, just the status.
        #expect(diagnostics(timedOut) == [.ended(.timedOut)])
    }

    @Test func aStopDuringTheFinalFlushOverridesTheCommandsStatus() {
        let ending = BootEnding(flushInterrupted: SIGTERM, guestStatus: 0, started: true)
        #expect(ending.status == .interrupted(signal: SIGTERM))
        #expect(ending.status.code == 143)
    }

    @Test func aKernelPanicWithAdvice() {
        let ending = BootEnding(helperExit: Self.poweredOff, panicSeen: true, panicAdvice: "pass --init PROGRAM",
                                kernelTail: Array("Kernel panic - not syncing: no init".utf8))
        #expect(ending.status == .kernelPanic)
        let events = ending.report(ending.status)
        #expect(events.first == .lastWords(Array("Kernel panic - not syncing: no init".utf8)))
        #expect(diagnostics(ending) == [.panicAdvice("pass --init PROGRAM"), .ended(.kernelPanic)])
        // With --verbose the kernel's text was shown already.
        var verbose = ending
        verbose.verbose = true
        #expect(verbose.report(verbose.status).first == .diagnostic(.panicAdvice("pass --init PROGRAM")))
        // An aborted kernel (SIGABRT) is a panic too, and not 'killed by a signal'.
        let aborted = BootEnding(helperExit: Exit(exited: false, code: SIGABRT))
        #expect(aborted.status == .kernelPanic)
        #expect(diagnostics(aborted) == [.ended(.kernelPanic)])
    }

    @Test func hostfsInitGivingUpIsInitNotReachedAndShowsItsOwnLines() {
        let text = "booting\nmount: /proc: permission denied\nhostfs-init: cannot mount /proc\nKernel panic - not syncing: Attempted to kill init!\n"
        let ending = BootEnding(helperExit: Self.poweredOff, panicSeen: true, kernelTail: Array(text.utf8))
        #expect(ending.status == .initNotReached)
        #expect(ending.report(ending.status).first
                == .lastWords(Array("mount: /proc: permission denied\nhostfs-init: cannot mount /proc\n".utf8)))
    }

    @Test func theSandboxStoppingTheKernelIsNotALaunchFailure() {
        let denial = SeccompDenial.prefix + " linux.uml at syscall ptrace"
        let stopped = BootEnding(helperExit: Exit(exited: false, code: SIGSYS), helperError: denial, started: true)
        #expect(stopped.status == .statusLost)
        // Its report says why; no 'killed by signal' line on top.
        #expect(diagnostics(stopped) == [.helperReport(denial), .ended(.statusLost)])
        let failed = BootEnding(helperExit: Exit(exited: true, code: 127), helperError: "setsid() failed")
        #expect(failed.status == .launchFailed)
        #expect(diagnostics(failed) == [.helperReport("setsid() failed"), .ended(.launchFailed)])
    }

    @Test func aKernelKilledByNobodyHereIsSaid() {
        let ending = BootEnding(helperExit: Exit(exited: false, code: SIGKILL), started: true)
        #expect(ending.status == .statusLost)
        #expect(diagnostics(ending) == [.kernelKilled(signal: SIGKILL), .ended(.statusLost)])
        #expect(BootDiagnostic.kernelKilled(signal: SIGKILL).description == "the kernel was killed by signal 9 (Killed)")
    }

    @Test func theConsoleLostBeforeOrAfterTheCommandStarted() {
        #expect(BootEnding(helperExit: Self.poweredOff).status == .initNotReached)
        #expect(BootEnding(helperExit: Self.poweredOff, started: true).status == .statusLost)
        #expect(BootEnding(helperExit: Self.poweredOff, started: true).status.code == 244)
    }

    @Test func aCustomInitSucceedsByPoweringOffCleanly() {
        #expect(BootEnding(helperExit: Self.poweredOff, markers: false).status == .guest(0))
        #expect(BootEnding(helperExit: Exit(exited: true, code: 1), markers: false).status == .initNotReached)
        #expect(BootEnding(markers: false).status == .initNotReached)
    }

    @Test func theLinesReadAsBefore() {
        #expect(BootDiagnostic.ended(.timedOut).description
                == "timed out; stopped the kernel and every process of this boot (exit status 124)")
        #expect(BootDiagnostic.ended(.preflightFailed).description == "preflight failed; nothing was started (exit status 240)")
        #expect(BootDiagnostic.outputNotWritten(bytes: 12).description
                == "12 bytes of the command's output were not written: stdout is not being read")
        #expect(BootDiagnostic.raid6Benchmark(.kept(for: "--raid6 on")).description == "RAID-6 benchmark kept for --raid6 on")
        #expect(BootDiagnostic.sandboxWarning("w").description == "warning: w")
        #expect(BootDiagnostic.preflight(PreflightIssue(.failure, "m", hint: "f")).description == "preflight: m; f")
    }
}
