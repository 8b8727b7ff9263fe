import Testing
@testable import Maintenance

/// Step timing and time limits on a clock the test sets: no kernel, no waiting.
@Suite struct StepTimelineTests {
    @Test func timesEachStepFromItsMarkers() {
        var timeline = StepTimeline(start: 100)
        #expect(timeline.record(.ready, at: 101.5) == nil)
        timeline.output(Array("prelude\n".utf8))
        guard case .started(step: "copy")? = timeline.record(.begin(step: "copy", timeout: nil), at: 102) else {
            Issue.record("no started event")
            return
        }
        timeline.output(Array("one\ntw".utf8))
        timeline.output(Array("o\nno line break".utf8))
        guard case let .ended(step, status, seconds)? = timeline.record(.exit(step: "copy", status: 3), at: 104.25) else {
            Issue.record("no ended event")
            return
        }
        #expect(step == "copy" && status == 3 && seconds == 2.25)
        _ = timeline.record(.begin(step: "sync", timeout: 0), at: 105)
        timeline.output(Array("syncing".utf8))
        #expect(timeline.readyAt == 101.5)
        #expect(timeline.tailBetweenSteps.lines == ["prelude"])
        // A failed step keeps its tail (the unfinished last line too); a running one is reported without a status.
        #expect(timeline.results(now: 110) == [
            StepResult(name: "copy", status: 3, seconds: 2.25, outputTail: ["one", "two", "no line break"]),
            StepResult(name: "sync", status: nil, seconds: 5, outputTail: ["syncing"]),
        ])
        _ = timeline.record(.exit(step: "sync", status: 0), at: 111)
        #expect(timeline.steps.last == StepResult(name: "sync", status: 0, seconds: 6, outputTail: []))
    }

    @Test func keepsTheLastThirtyLines() {
        var tail = OutputTail()
        for i in 0..<40 { tail.append(Array("line \(i)\n".utf8)) }
        tail.append(Array("partial".utf8))
        #expect(tail.lines.count == 30)
        #expect(tail.lines.first == "line 11")
        #expect(tail.lines.last == "partial")
    }

    @Test func limitsOnAClockTheTestSets() {
        let limits = StepLimits(ready: 10, step: 60)
        var timeline = StepTimeline(start: 0)
        #expect(limits.overrun(timeline, started: 0, now: 10) == nil)
        #expect(limits.overrun(timeline, started: 0, now: 10.5)?.reason == "the guest did not start the job within 10 s")
        _ = timeline.record(.ready, at: 5)
        // Template code between steps: timed from the last marker.
        #expect(limits.overrun(timeline, started: 0, now: 65) == nil)
        #expect(limits.overrun(timeline, started: 0, now: 65.5)?.reason == "the template ran 60 s between steps without starting one")
        _ = timeline.record(.begin(step: "quick", timeout: 2), at: 20)
        #expect(limits.overrun(timeline, started: 0, now: 22) == nil)
        #expect(limits.overrun(timeline, started: 0, now: 22.5) == .init(reason: "step 'quick' ran over its 2 s limit", step: "quick"))
        _ = timeline.record(.begin(step: "default", timeout: nil), at: 30)
        #expect(limits.overrun(timeline, started: 0, now: 90.5)?.step == "default")
        _ = timeline.record(.begin(step: "unlimited", timeout: 0), at: 100)
        #expect(limits.overrun(timeline, started: 0, now: 100_000) == nil)
    }
}
