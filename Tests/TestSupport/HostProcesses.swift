import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The host's process table, read from /proc: what a boot started and
/// what it left behind. Processes are picked by relation (parent, session)
/// or by a marker in their command line or environment, never by name.
public enum HostProcesses {
    public struct Entry: Sendable {
        public var pid: pid_t
        public var parent: pid_t
        public var session: pid_t
        /// The controlling terminal's device number (`tty_nr`); 0: none.
        public var tty: Int32
        public var state: Character
        public var comm: String
    }

    /// /proc/PID/stat, or nil when the process is gone.
    public static func entry(_ pid: pid_t) -> Entry? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 4, let parent = pid_t(fields[1]), let session = pid_t(fields[3]),
              let tty = Int32(fields[4]) else { return nil }
        return Entry(pid: pid, parent: parent, session: session, tty: tty, state: fields[0].first ?? "?",
                     comm: String(text[text.index(after: open)..<close]))
    }

    public static func all() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.compactMap(entry)
    }

    /// Every process below `root` (not `root` itself).
    public static func descendants(of root: pid_t) -> [pid_t] {
        let table = all()
        var found: [pid_t] = []
        var frontier = [root]
        while let parent = frontier.popLast() {
            let children = table.filter { $0.parent == parent }.map(\.pid)
            found += children
            frontier += children
        }
        return found
    }

    /// The descendants of `root` that live in another PID namespace than
    /// this process: under the jail, the reaper, the kernel and its stubs
    /// (the helper stays outside).
    public static func jailed(under root: pid_t) -> [pid_t] {
        let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        return descendants(of: root).filter {
            guard let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid") else { return false }
            return ns != own
        }
    }

    /// The names UML's processes go by: 7.2 names its stubs `uml-userspace`,
    /// 6.1 and 6.12 keep the binary's name for all of them.
    public static let kernelNames: Set<String> = ["linux.uml", "uml-userspace"]

    public static func children(of parent: pid_t) -> [pid_t] { all().filter { $0.parent == parent }.map(\.pid) }

    /// Processes whose session id is `session`; zombies included unless `live`.
    public static func inSession(_ session: pid_t, live: Bool = false) -> [pid_t] {
        all().filter { $0.session == session && !(live && $0.state == "Z") }.map(\.pid)
    }

    /// Live processes (this one aside) whose command line or environment holds `marker`.
    public static func marked(_ marker: String) -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> Entry? in
            guard let pid = pid_t(name), pid != getpid(), isMarked(pid, marker),
                  let info = entry(pid), info.state != "Z" else { return nil }
            return info
        }
    }

    public static func isMarked(_ pid: pid_t, _ marker: String) -> Bool {
        let needle = Data(marker.utf8)
        return [FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                FileManager.default.contents(atPath: "/proc/\(pid)/environ")]
            .contains { $0?.range(of: needle) != nil }
    }

    /// Alive means it exists and is not a zombie.
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let e = entry(pid) else { return false }
        return e.state != "Z" && e.state != "X"
    }

    /// Thread ids of a process.
    public static func tasks(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { pid_t($0) }
    }

    /// `Name:\tvalue` from /proc/PID/task/TID/status.
    public static func status(_ pid: pid_t, task: pid_t, _ field: String) -> String? {
        status(pid, task: task)?[field]
    }

    /// Every `Name:\tvalue` of /proc/PID/task/TID/status from one read, so
    /// that the fields of a short-lived task (a UML stub that exits with its
    /// guest process) all describe the same moment; nil once it is gone.
    public static func status(_ pid: pid_t, task: pid_t) -> [String: String]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// Waits until none of `pids` is alive; returns the survivors.
    public static func waitGone(_ pids: [pid_t], seconds: Double = 10) -> [pid_t] {
        let deadline = Date().addingTimeInterval(seconds)
        var alive = pids.filter(isAlive)
        while !alive.isEmpty && Date() < deadline {
            usleep(50_000)
            alive = alive.filter(isAlive)
        }
        return alive
    }
}
