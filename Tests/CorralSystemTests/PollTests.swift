import CorralSystem
import Foundation
import Testing

/// The one poll(2) wrapper: it answers with what is ready or with a timeout,
/// and a signal arriving meanwhile (EINTR) is neither, so it waits on for
/// the time that is left.
@Suite(.serialized) struct PollTests {
    func pipe() throws -> (read: Descriptor, write: Descriptor) {
        var fds: [Int32] = [0, 0]
        try #require(Glibc.pipe(&fds) == 0)
        return (Descriptor(owning: fds[0], name: "pipe"), Descriptor(owning: fds[1], name: "pipe"))
    }

    @Test func saysWhatIsReadyAndWhenTheTimeRanOut() throws {
        let (reader, writer) = try pipe()
        var fds = [pollfd(fd: reader.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: -1, events: Int16(POLLIN), revents: 0)]
        #expect(try Poll.wait(&fds, milliseconds: 0, "pipe") == 0)
        try writer.writeAll([1])
        #expect(try Poll.wait(&fds, milliseconds: 1000, "pipe") == 1)
        #expect(fds[0].revents & Int16(POLLIN) != 0 && fds[1].revents == 0)
    }

    /// A signal with a handler interrupts poll(2) on this thread halfway
    /// through; the wait neither throws nor returns early.
    @Test func aSignalDoesNotEndTheWait() throws {
        let (reader, writer) = try pipe()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        var previous = sigaction()
        try #require(sigaction(SIGUSR1, &action, &previous) == 0)
        defer { sigaction(SIGUSR1, &previous, nil) }
        // Unblocked on this thread, whatever mask the test runner set.
        var unblock = sigset_t(), before = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGUSR1)
        pthread_sigmask(SIG_UNBLOCK, &unblock, &before)
        defer { pthread_sigmask(SIG_SETMASK, &before, nil) }
        let waiter = pthread_self()
        let done = DispatchSemaphore(value: 0)
        let interrupter = Thread {
            for _ in 0..<5 {
                usleep(40_000)
                pthread_kill(waiter, SIGUSR1)
            }
            done.signal()
        }
        var fds = [pollfd(fd: reader.fd, events: Int16(POLLIN), revents: 0)]
        let start = MonotonicClock.now()
        interrupter.start()
        let ready = Result { () throws(SystemError) in try Poll.wait(&fds, milliseconds: 400, "pipe") }
        let waited = MonotonicClock.now().seconds(since: start)
        done.wait()  // no signal arrives after the handler is gone
        #expect(try ready.get() == 0)
        #expect(waited >= 0.39, "returned after \(waited) s")
        withExtendedLifetime(writer) {}
    }
}
