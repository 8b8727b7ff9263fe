import COWEngine
import Foundation

/// Bytes, rate and ETA on stderr when it is a terminal; nothing on a pipe.
enum ProgressDisplay {
    static func handler(label: String) -> ProgressHandler? {
        guard Console.isTerminal.err else { return nil }
        let start = Date()
        return { p in
            let elapsed = max(Date().timeIntervalSince(start), 0.001)
            let rate = Double(p.done) / elapsed
            let pct = p.total > 0 ? Double(p.done) * 100 / Double(p.total) : 100
            let eta = rate > 0 && p.total > p.done ? Double(p.total - p.done) / rate : 0
            var line = String(format: "\r%@ %5.1f%%  %@ / %@  %@/s  ETA %ds", label, pct,
                              Console.bytes(p.done), Console.bytes(p.total), Console.bytes(UInt64(rate)), Int(eta))
            line += "\u{1B}[K"
            if p.finished { line = "\r\u{1B}[K" }
            Console.write(2, line)
        }
    }
}
