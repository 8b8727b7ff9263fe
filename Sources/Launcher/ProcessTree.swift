#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine
import CorralSystem

/// The host processes of one boot, found through /proc by session id (the
/// helper's setsid makes its pid the session id of everything it starts),
/// never by name.
///
/// Killing only the kernel's main process is not enough: UML's helper
/// threads and ptraced stubs outlive it and keep running guest code natively
/// (sandbox.md §0 item 5). So everything in the session is SIGKILLed, and
/// the supervisor is a child subreaper so that orphans come back to it to be
/// killed and reaped instead of drifting to PID 1.
public enum ProcessTree {
    public struct Entry: Sendable, Equatable {
        public var pid: Int32
        public var parent: Int32
        public var group: Int32
        public var session: Int32
        public var state: Character
    }

    /// Every process in /proc, read from `/proc/<pid>/stat`.
    public static func all() -> [Entry] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let entry = stat(pid) else { continue }
            entries.append(entry)
        }
        return entries
    }

    /// One process's entry; nil when it has gone.
    public static func stat(_ pid: Int32) -> Entry? {
        ProcessStat.of(pid).map {
            Entry(pid: pid, parent: $0.parent, group: $0.group, session: $0.session, state: $0.state)
        }
    }

    /// Live (non-zombie) processes in session `session`.
    public static func members(ofSession session: Int32) -> [Int32] {
        all().filter { $0.session == session && $0.state != "Z" }.map(\.pid)
    }

    /// SIGKILLs the session and every child of `supervisor`, reaping as it
    /// goes, until nothing is left or `deadline` seconds pass. Returns the
    /// exit of `helper` if it was reaped here.
    @discardableResult
    public static func killSession(_ session: Int32, supervisor: Int32, helper: Int32, within deadline: Double = 5)
        -> (exited: Bool, code: Int32)?
    {
        var helperExit: (exited: Bool, code: Int32)?
        let end = MonotonicClock.seconds() + deadline
        repeat {
            _ = corral_launch_kill(-session, SIGKILL)
            // Every process of the boot descends from the supervisor, a child
            // subreaper (the session starts at its child, the helper, and an
            // orphan comes back to it with SIGCHLD as its exit signal). A
            // supervisor with no child left has nothing left to kill, and the
            // /proc scans below, a read per host process (thousands beside
            // running guests), are not needed.
            let reaped = reap(helper: helper)
            if let exit = reaped.helperExit { helperExit = exit }
            if reaped.childless { break }
            let entries = all()
            let targets = entries.filter {
                $0.state != "Z" && ($0.session == session || $0.parent == supervisor)
            }
            for entry in targets { _ = corral_launch_kill(entry.pid, SIGKILL) }
            if let reaped = reapAll(helper: helper) { helperExit = reaped }
            let remaining = all().filter { $0.session == session || $0.parent == supervisor }
            if remaining.isEmpty { break }
            usleep(5_000)
        } while MonotonicClock.seconds() < end
        return helperExit
    }

    /// Reaps every exited child without blocking; returns `helper`'s exit if seen.
    public static func reapAll(helper: Int32) -> (exited: Bool, code: Int32)? {
        reap(helper: helper).helperExit
    }

    /// Reaps every exited child without blocking: `helper`'s exit if seen,
    /// and whether the caller has no child at all any more (wait's ECHILD,
    /// as against children that are still running).
    static func reap(helper: Int32) -> (helperExit: (exited: Bool, code: Int32)?, childless: Bool) {
        var helperExit: (exited: Bool, code: Int32)?
        while true {
            var exited: Int32 = 0
            var code: Int32 = 0
            let pid = corral_launch_wait(-1, 1, &exited, &code)
            if pid < 0 { return (helperExit, corral_errno() == ECHILD) }
            if pid == 0 { return (helperExit, false) }
            if pid == helper { helperExit = (exited == 1, code) }
        }
    }
}
