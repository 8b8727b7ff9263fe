import Testing
@testable import Launcher

@Suite struct ConsoleProbeTests {
    @Test func probesUntilTheEchoComesThenRemovesIt() {
        var probe = ConsoleProbe(now: 0)
        #expect(probe.due(now: 0) == ConsoleProbe.probe)
        #expect(probe.due(now: 0.1) == nil)                 // not yet: one per interval
        #expect(probe.due(now: 0.25) == ConsoleProbe.probe)
        // Kernel text before the console opens passes through untouched.
        #expect(probe.filter(Array("SELinux: x\n".utf8), now: 0.3) == Array("SELinux: x\n".utf8))
        #expect(!probe.ready)
        // The echo, split across reads, is taken out and makes the console ready.
        #expect(probe.filter([0x78, 0x08], now: 0.4) == [])
        #expect(probe.filter([0x20, 0x08] + Array("# ".utf8), now: 0.4) == Array("# ".utf8))
        #expect(probe.ready)
        #expect(probe.due(now: 1) == nil)
        // The second probe's late echo goes too; after a second, output is left alone.
        #expect(probe.filter(ConsoleProbe.echo, now: 0.5) == [])
        #expect(probe.filter(ConsoleProbe.echo, now: 2) == ConsoleProbe.echo)
    }

    @Test func anInitWithoutEchoGetsInputAfterTheGiveUpTime() {
        var probe = ConsoleProbe(now: 10)
        _ = probe.due(now: 10)
        #expect(!probe.ready)
        #expect(probe.due(now: 10 + ConsoleProbe.giveUp) == nil)
        #expect(probe.ready)
    }

    @Test func aPartialEchoAtTheEndIsGivenBack() {
        var probe = ConsoleProbe(now: 0)
        _ = probe.due(now: 0)
        #expect(probe.filter(Array("prompt x".utf8), now: 0.1) == Array("prompt ".utf8))
        #expect(probe.flush() == [0x78])
    }
}
