/// A watcher of one boot's command output, for callers that speak a protocol
/// over it (Maintenance's step markers).
///
/// When set in ``BootOptions/observer``, the command's output goes to the
/// observer, and stdout gets only what the observer hands back. corral owns
/// that output: it queues it and writes it from the console loop without ever
/// blocking, exactly as it writes a boot's output without an observer, so a
/// reader that stops reading cannot stall the timeout, the observer's stop
/// check or a stop signal. The console loop asks the observer, at least once
/// a second, whether to stop the guest. A stop ends the boot like `--timeout`
/// (status 124), so the observer must remember why it asked.
public protocol BootObserver: AnyObject, Sendable {
    /// The command's output, nonce markers of hostfs-init already removed.
    /// Returns the bytes to show on stdout (empty for none); the observer
    /// itself never writes them.
    func output(_ bytes: [UInt8]) -> [UInt8]
    /// The end of the command's output: what the observer still held back
    /// (a last line without its line break), to show on stdout.
    func outputEnded() -> [UInt8]
    /// A reason to stop the guest now, or nil. `now` is the monotonic clock
    /// (CLOCK_MONOTONIC) in seconds.
    func stopReason(now: Double) -> String?
}
