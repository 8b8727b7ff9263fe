import CorralSystem

/// `lpj=`: the kernel's delay-loop speed, handed to it so that it does not
/// measure it at every boot.
///
/// Measuring ("Calibrating delay loop") takes the kernel several of its
/// 10 ms ticks: 40–60 ms of a 0.3 s `boot --command true` on this host kind,
/// and more in a loaded or sandboxed process, where the ticks arrive late and
/// the count runs on. UML's delay loop is one decrement and branch a cycle,
/// which is what the host's own BogoMIPS (2 × MHz on x86) assumes, so the
/// kernel's loops per jiffy are BogoMIPS × 500000 / HZ. Debian's UML kernels
/// (6.1, 6.12, 7.2) run at HZ 100; a kernel built with a higher HZ then waits
/// longer than asked in `udelay`, never shorter. `--kernel-arg lpj=0` (read
/// after this one) makes the kernel measure again.
public enum DelayLoop {
    /// The kernel tick rate of Debian's UML builds.
    static let hz = 100

    /// Loops per jiffy for this host, or nil when /proc/cpuinfo gives no
    /// BogoMIPS (the kernel then measures, as without corral).
    public static func hostLoopsPerJiffy() -> Int? {
        // The first CPU's entry is all that is needed: reading the whole file
        // makes the host compute every CPU's frequency.
        guard let text = try? SmallTextFile.text("/proc/cpuinfo", limit: 4096) else { return nil }
        return loopsPerJiffy(cpuinfo: text)
    }

    /// `bogomips : 5192.29` (x86; some architectures spell it BogoMIPS) →
    /// 25,961,450 at HZ 100.
    static func loopsPerJiffy(cpuinfo: String) -> Int? {
        for line in cpuinfo.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { String($0).trimmed }
            guard parts.count == 2, parts[0].lowercased() == "bogomips",
                  let bogomips = Double(parts[1]),
                  bogomips.isFinite, bogomips > 0, bogomips < 1e7 else { continue }
            return Int(bogomips * 500_000 / Double(hz))
        }
        return nil
    }
}
