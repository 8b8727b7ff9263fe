import CorralSystem

/// How a message names a process that holds or names a disk: its command
/// name, and for a UML kernel that corral started, the corral command it
/// belongs to.
///
/// A corral boot's disks carry two holders: the boot's own lease, and UML's
/// fcntl locks once the kernel has opened them. A lock test reports
/// whichever it finds first, so the same busy disk could be named after
/// `linux.uml`, a process the user never started and whose pid (in a jail,
/// behind a helper and a reaper) leads nowhere they recognise. Naming the
/// `corral boot` or `corral maint` above it gives the pid to stop.
enum ProcessName {
    /// " (corral)", " (linux.uml, the kernel of corral process 1234)", or ""
    /// when the process has gone or cannot be read.
    static func describe(_ pid: Int32) -> String {
        guard let comm = command(of: pid) else { return "" }
        guard RunningKernels.isKernelName(comm), let owner = corralOwner(of: pid) else { return " (\(comm))" }
        return " (\(comm), the kernel of corral process \(owner))"
    }

    /// The nearest ancestor of `pid` that is a corral command the user ran,
    /// passing over UML's own processes and corral's `_kernel-exec` helper
    /// and reaper (named by their arguments: the helper runs as
    /// corral-kernel-exec or /proc/self/exe, and the reaper renames itself); nil when the kernel was
    /// not started by corral.
    static func corralOwner(of pid: Int32) -> Int32? {
        var current = pid
        // UML's helper process (the lock holder may be its ubd thread, a
        // process of its own) → kernel → reaper → helper → corral: a few
        // steps; the bound only keeps a malformed /proc from looping.
        for _ in 0..<8 {
            guard let up = parent(of: current), up > 1 else { return nil }
            let arguments = RunningKernels.commandLine(of: up)
            let isKernel = arguments.first.map(RunningKernels.isKernelName) ?? false
            if !isKernel && arguments.dropFirst().first != "_kernel-exec" {
                return command(of: up) == "corral" ? up : nil
            }
            current = up
        }
        return nil
    }

    /// `/proc/PID/comm`, without its newline.
    static func command(of pid: Int32) -> String? {
        (try? SmallTextFile.text("/proc/\(pid)/comm")).map(\.trimmed).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The parent pid, from `/proc/PID/stat` (``ProcessStat``).
    static func parent(of pid: Int32) -> Int32? {
        ProcessStat.of(pid)?.parent
    }
}
