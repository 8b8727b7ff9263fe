/// A watcher of one boot's command output, for callers that speak a protocol
/// over it (Maintenance's step markers).
///
/// When set in ``BootOptions/observer``, the command's output goes to the
/// observer instead of stdout, and the console loop asks it, at least once a
/// second, whether to stop the guest. A stop ends the boot like `--timeout`
/// (status 124), so the observer must remember why it asked.
public protocol BootObserver: AnyObject, Sendable {
    /// The command's output, nonce markers of hostfs-init already removed.
    func output(_ bytes: [UInt8])
    /// A reason to stop the guest now, or nil. `now` is the monotonic clock
    /// (CLOCK_MONOTONIC) in seconds.
    func stopReason(now: Double) -> String?
}
