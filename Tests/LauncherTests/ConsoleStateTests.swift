#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Launcher

/// The console loop's decisions, without a kernel: when it ends and why,
/// what it polls and for how long, and what typed input does.
@Suite struct ConsoleStateTests {
    @Test func aPassedDeadlineStopsTheGuestOnlyWhileTheCommandHasNoStatus() {
        var state = ConsoleState(interactive: false, deadline: 10)
        #expect(state.end(now: 9, guestStatus: nil, stopAsked: { false }) == nil)
        // The command already reported: the deadline no longer counts.
        #expect(state.end(now: 11, guestStatus: 0, stopAsked: { false }) == nil)
        #expect(state.stop == .none)
        #expect(state.end(now: 11, guestStatus: nil, stopAsked: { false }) == .finish)
        #expect(state.stop == .timeout)
    }

    @Test func theObserverIsAskedOnlyWhenNothingElseEndedTheLoop() {
        var asked = 0
        var state = ConsoleState(interactive: false, deadline: 10)
        _ = state.end(now: 11, guestStatus: nil, stopAsked: { asked += 1; return true })
        #expect(asked == 0)
        var running = ConsoleState(interactive: false, deadline: nil)
        _ = running.end(now: 1, guestStatus: 3, stopAsked: { asked += 1; return true })
        #expect(asked == 0)   // the command has its status: nothing to stop
        #expect(running.end(now: 1, guestStatus: nil, stopAsked: { asked += 1; return true }) == .finish)
        #expect(asked == 1)
        #expect(running.stop == .timeout)
    }

    @Test func theHelperExitDrainsTheConsoleOnceAndEndsTheLoop() {
        var state = ConsoleState(interactive: false, deadline: 1)
        state.helperEnded(.init(exited: true, code: 0))
        // Before the deadline check: a kernel that ended is not a timeout.
        #expect(state.end(now: 5, guestStatus: nil, stopAsked: { true }) == .drain)
        #expect(state.stop == .none)
        state.readConsole(stillOpen: false, guestStatus: nil, now: 5)
        #expect(state.end(now: 5, guestStatus: nil, stopAsked: { true }) == .finish)
        // The first exit seen is the one kept.
        state.helperEnded(.init(exited: false, code: 9))
        #expect(state.helperExit == .init(exited: true, code: 0))
    }

    @Test func theExitGraceStartsWithTheStatusAndEndsTheLoop() {
        var state = ConsoleState(interactive: false, deadline: nil)
        state.readConsole(stillOpen: true, guestStatus: nil, now: 1)
        #expect(state.exitGraceDeadline == nil)
        state.readConsole(stillOpen: true, guestStatus: 0, now: 2)
        #expect(state.exitGraceDeadline == 2 + ConsoleState.exitGrace)
        state.readConsole(stillOpen: true, guestStatus: 0, now: 3)
        #expect(state.exitGraceDeadline == 2 + ConsoleState.exitGrace)
        #expect(state.end(now: 11, guestStatus: 0, stopAsked: { false }) == nil)
        #expect(state.end(now: 12, guestStatus: 0, stopAsked: { false }) == .finish)
        #expect(state.pollTimeout(now: 11.5, holding: false, probeIn: nil) == 500)
    }

    @Test func signalsReapResizeOrStop() {
        var state = ConsoleState(interactive: false, deadline: nil)
        #expect(state.received(signal: SIGCHLD) == .reap)
        #expect(state.received(signal: SIGWINCH) == .resize)
        #expect(state.stop == .none)
        #expect(state.received(signal: SIGTERM) == .stop)
        #expect(state.stop == .signal(SIGTERM))
    }

    @Test func inputIsReadOnlyWhenTheGuestReadsAndNothingWaitsToGo() {
        var state = ConsoleState(interactive: false, deadline: nil)
        #expect(state.interest(guestReads: false, outputRoom: true)
                == .init(readConsole: true, writeConsole: false, readInput: false))
        #expect(state.interest(guestReads: true, outputRoom: false)
                == .init(readConsole: false, writeConsole: false, readInput: true))
        let typedStops = state.typed(Array("ls\n".utf8))
        #expect(!typedStops)
        #expect(state.interest(guestReads: true, outputRoom: true)
                == .init(readConsole: true, writeConsole: true, readInput: false))
        #expect(!state.mayProbe)
        state.wroteToConsole(2)
        #expect(state.outgoing == Array("\n".utf8))
        state.wroteToConsole(1)
        // End of input becomes the guest's ^D, and stdin is not read again.
        state.inputEnded()
        #expect(state.outgoing == [4])
        state.wroteToConsole(1)
        #expect(!state.interest(guestReads: true, outputRoom: true).readInput)
        // A closed console is polled for nothing.
        state.readConsole(stillOpen: false, guestStatus: nil, now: 0)
        #expect(state.interest(guestReads: true, outputRoom: true)
                == .init(readConsole: false, writeConsole: false, readInput: false))
        #expect(!state.mayProbe)
    }

    @Test func ctrlRightBracketQStopsAnInteractiveGuestOnly() {
        var interactive = ConsoleState(interactive: true, deadline: nil)
        let escapeAloneStops = interactive.typed([0x1d])
        #expect(!escapeAloneStops)
        #expect(interactive.outgoing.isEmpty)
        let escapeQStops = interactive.typed(Array("q".utf8))
        #expect(escapeQStops)
        #expect(interactive.stop == .escape)
        var piped = ConsoleState(interactive: false, deadline: nil)
        let pipedStops = piped.typed([0x1d, UInt8(ascii: "q")])
        #expect(!pipedStops)
        #expect(piped.outgoing == [0x1d, UInt8(ascii: "q")])
        #expect(piped.stop == .none)
    }

    @Test func thePollWaitsASecondAtMostAndNeverPastWhatIsDue() {
        let state = ConsoleState(interactive: false, deadline: 100.25)
        #expect(state.pollTimeout(now: 0, holding: false, probeIn: nil) == 1000)
        #expect(state.pollTimeout(now: 0, holding: true, probeIn: nil) == 100)
        #expect(state.pollTimeout(now: 0, holding: false, probeIn: 0.2) == 200)
        #expect(state.pollTimeout(now: 100, holding: false, probeIn: nil) == 250)
        #expect(state.pollTimeout(now: 101, holding: false, probeIn: nil) == 0)
    }
}
