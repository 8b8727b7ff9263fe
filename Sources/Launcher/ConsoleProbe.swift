/// When a guest with its own init (`--init`) can take piped input.
///
/// UML drops console input that arrives before the guest has opened its
/// console (the kernel does so just before it starts init), so a script piped
/// to `--init /bin/sh`, and its end of input, went by before the shell read
/// its terminal and were lost. Nothing on the host side shows that moment,
/// but the guest's terminal does: its default termios (ICANON, ECHO, ECHOE,
/// ECHOK, ECHOKE) echoes a typed "x" and erases it again ("\b \b") on the
/// line-kill character ^U, which also leaves the line empty, so a reader sees
/// nothing. corral types "x^U" every ``interval`` until that echo comes back,
/// removes the echo from the output, and only then passes input on. An init
/// that has turned echo off never answers: input is then passed on after
/// ``giveUp`` seconds, as before.
struct ConsoleProbe {
    static let probe: [UInt8] = [0x78, 0x15]              // "x", ^U (VKILL)
    static let echo: [UInt8] = [0x78, 0x08, 0x20, 0x08]   // "x", "\b \b"
    static let interval = 0.2
    static let giveUp = 15.0

    private(set) var ready = false
    private var readyAt: Double?
    private let started: Double
    private var lastSent: Double?
    /// Probes sent: each may still echo once after the first echo came.
    private var unanswered = 0
    /// Output held back because it may be the start of an echo.
    private var held: [UInt8] = []

    init(now: Double) {
        started = now
    }

    /// The bytes to type now, if any (when not ready and a probe is due).
    mutating func due(now: Double) -> [UInt8]? {
        if ready { return nil }
        if now - started >= Self.giveUp {
            ready = true
            return nil
        }
        if let lastSent, now - lastSent < Self.interval { return nil }
        lastSent = now
        unanswered += 1
        return Self.probe
    }

    /// How long the supervisor may wait before the next ``due(now:)``.
    func wait(now: Double) -> Double? {
        guard !ready else { return nil }
        return max(0, (lastSent ?? now) + Self.interval - now)
    }

    /// Console output with the probes' echoes taken out; the first echo
    /// makes the console ready.
    mutating func filter(_ bytes: [UInt8], now: Double) -> [UInt8] {
        // A probe in flight echoes within moments; later output is the guest's own.
        if let readyAt, now - readyAt > 1 { unanswered = 0 }
        guard unanswered > 0 || !held.isEmpty else { return bytes }
        var input = held + bytes
        held = []
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            if unanswered > 0, input[i] == Self.echo[0] {
                let rest = input.count - i
                if rest >= Self.echo.count {
                    if input[i..<(i + Self.echo.count)].elementsEqual(Self.echo) {
                        if !ready { readyAt = now }
                        ready = true
                        unanswered -= 1
                        i += Self.echo.count
                        continue
                    }
                } else if input[i...].elementsEqual(Self.echo.prefix(rest)) {
                    held = Array(input[i...])
                    input.removeAll()
                    break
                }
            }
            out.append(input[i])
            i += 1
        }
        return out
    }

    /// Output held back at the end of the boot: it was not an echo.
    mutating func flush() -> [UInt8] {
        defer { held = [] }
        return held
    }
}
