import COWEngine
import CorralSystem
import Foundation

/// Bytes, percentage, rate and ETA on stderr when it is a terminal; nothing
/// at all on a pipe or a file, so logs and scripts never see a carriage
/// return or an escape code. The line is redrawn in place and erased when
/// the operation finishes, leaving the terminal as it was.
enum ProgressDisplay {
    static func handler(label: String) -> ProgressHandler? {
        guard Console.isTerminal.err else { return nil }
        let start = MonotonicClock.now()
        return { p in
            if p.finished {
                Console.write(2, "\r\u{1B}[K")
                return
            }
            Console.write(2, "\r" + line(label: label, progress: p, elapsed: MonotonicClock.now().seconds(since: start)) + "\u{1B}[K")
        }
    }

    /// `flatten  42.0%  27.0 MiB / 64.0 MiB  310.2 MiB/s  ETA 0:01`; the rate
    /// and ETA appear once there is something to measure them by.
    static func line(label: String, progress p: ProgressReport, elapsed: Double) -> String {
        let pct = p.total > 0 ? Double(min(p.done, p.total)) * 100 / Double(p.total) : 100
        var text = String(format: "%@ %5.1f%%  %@ / %@", label, pct, Console.bytes(p.done), Console.bytes(p.total))
        if elapsed >= 0.2, p.done > 0 {
            let rate = Double(p.done) / elapsed
            text += "  \(Console.bytes(UInt64(rate)))/s"
            if p.total > p.done { text += "  ETA " + duration(Double(p.total - p.done) / rate) }
        }
        return text
    }

    /// `m:ss`, or `h:mm:ss` past an hour.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
