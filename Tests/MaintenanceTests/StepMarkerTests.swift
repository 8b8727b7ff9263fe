import Testing
@testable import Maintenance

/// The job protocol's marker lines: what `StepMarker.parse` accepts and what it refuses.
@Suite struct StepMarkerTests {
    let nonce = "0123abcd"

    @Test func parsesMarkers() {
        #expect(StepMarker.parse("CORRAL-0123abcd READY", nonce: nonce) == .ready)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync BEGIN 0", nonce: nonce) == .begin(step: "rsync", timeout: 0))
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync BEGIN default", nonce: nonce) == .begin(step: "rsync", timeout: nil))
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync EXIT 23", nonce: nonce) == .exit(step: "rsync", status: 23))
        #expect(StepMarker.parse("CORRAL-0123abcd NOTE made it", nonce: nonce) == .note("made it"))
        #expect(StepMarker.parse("CORRAL-0123abcd UNCHANGED already installed", nonce: nonce) == .unchanged("already installed"))
        #expect(StepMarker.parse("CORRAL-ffff UNCHANGED already installed", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd DONE 0", nonce: nonce) == .done(0))
        #expect(StepMarker.parse("CORRAL-0123abcd DONE x", nonce: nonce) == nil)
    }

    @Test func ignoresForgeries() {
        // Another nonce, a marker not at the line start, malformed statuses.
        #expect(StepMarker.parse("CORRAL-ffff STEP rsync EXIT 0", nonce: nonce) == nil)
        #expect(StepMarker.parse(" CORRAL-0123abcd STEP rsync EXIT 0", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync EXIT 999", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP rsync EXIT", nonce: nonce) == nil)
        #expect(StepMarker.parse("CORRAL-0123abcd STEP a b EXIT 0", nonce: nonce) == nil)
    }
}
