#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// poll(2), wrapped once, for the loops that wait on several descriptors
/// (a boot's console, signals, helper and output).
public enum Poll {
    /// Waits up to `milliseconds` (negative: without limit) until one of
    /// `fds` has an event it asks for, and returns how many have one (0:
    /// the time ran out); each `revents` says which.
    ///
    /// An interruption (EINTR) is not an answer: the wait goes on for what
    /// is left of the time, so no caller handles it. Any other failure is
    /// a ``SystemError`` naming `poll` and `name`; errno is read only in
    /// ``systemCall(_:_:retryOnInterrupt:_:)``.
    public static func wait(_ fds: inout [pollfd], milliseconds: Int32, _ name: String) throws(SystemError) -> Int {
        let deadline = milliseconds >= 0 ? MonotonicClock.now().advanced(bySeconds: Double(milliseconds) / 1000) : nil
        var timeout = milliseconds
        while true {
            do {
                return Int(try systemCall("poll", name, retryOnInterrupt: false) {
                    fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), timeout) }
                })
            } catch where error.errno == .interrupted {
                if let deadline {
                    let left = deadline.seconds(since: MonotonicClock.now())
                    timeout = Int32((left * 1000).rounded(.up))
                }
            }
        }
    }
}
