#if canImport(Glibc)
import Glibc
#endif
import CorralSystem
import CSandboxShim

/// A cgroup of the boot's own (`corral-HELPERPID`) holding the helper, the
/// reaper, the kernel and every stub, with a process and a memory limit:
/// RLIMIT_NPROC binds only the kernel's own uid, and nothing else bounds
/// what a kernel tree may take from the host.
///
/// - cgroup v2 (`/sys/fs/cgroup` is cgroup2): a sibling of the helper's own
///   cgroup, when its parent has the `pids` and `memory` controllers on for
///   its children and this process may write there (root, or a delegated
///   subtree such as a systemd user slice); `pids.max`, `memory.max`.
/// - cgroup v1 (root only): a child of the helper's cgroup in the `pids` and
///   the `memory` hierarchies; `pids.max`, `memory.limit_in_bytes`.
///
/// Children of the caller's own cgroups, never of the root: whatever limits
/// the caller has still bind the kernel (limits nest).
///
/// Removed by the helper once the kernel is gone, by the launcher after it
/// has killed a boot (`SandboxRunner.removeCgroup(helper:)`), and, for a
/// boot whose launcher was SIGKILLed, by the next boot (`sweep`).
struct KernelCgroup {
    enum Version: String, Sendable { case v1, v2 }

    /// One hierarchy's part: where the boot's cgroup is made, and where the
    /// helper goes back to before removing it.
    struct Node {
        var parent: Directory
        var home: Directory
        var name: String
        /// Whether this process made it (rather than found it made).
        var madeHere = false
        /// The boot's cgroup itself, and the file a move into it is written
        /// to, open for writing (``join()``): `tasks` on v1, cgroup.procs on v2.
        var directory: Directory?
        var entry: Descriptor?
        var path: String { parent.path + "/" + name }
    }

    var version: Version
    var nodes: [Node]

    static let mount = "/sys/fs/cgroup"
    static let prefix = "corral-"

    /// The cgroup name of the boot whose helper has pid `helper`.
    static func name(helper: pid_t) -> String { "\(prefix)\(helper)" }

    /// The hierarchy version, and per hierarchy where the boot's cgroup is
    /// made (`parent`) and the cgroup this process is in (`home`).
    typealias Location = (version: Version, places: [(parent: String, home: String)])

    /// Where this process can make a boot's cgroup, or why it cannot.
    static func locate() -> Result<Location, SandboxError> {
        guard let membership = try? SmallTextFile.text("/proc/self/cgroup", limit: 16384) else {
            return .failure(.noCgroup(.membershipUnreadable))
        }
        // A helper the launcher already placed is in its boot's cgroup: the
        // place to make it is that cgroup's parent, not inside it.
        let placed = "/" + name(helper: getpid())
        func unplaced(_ path: Substring) -> String {
            let text = String(path)
            guard text.hasSuffix(placed) else { return text }
            let parent = String(text.dropLast(placed.count))
            return parent.isEmpty ? "/" : parent
        }
        let lines = membership.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false) }
        // Only the root of a cgroup2 mount has cgroup.controllers there.
        if access(mount + "/cgroup.controllers", F_OK) == 0 {
            guard let own = lines.first(where: { $0.count == 3 && $0[0] == "0" }).map({ unplaced($0[2]) }) else {
                return .failure(.noCgroup(.notInCgroup2))
            }
            let home = own == "/" ? mount : mount + own
            let parent = own == "/" ? mount : String(home[..<home.lastIndex(of: "/")!])
            let enabled = ((try? SmallTextFile.text(parent + "/cgroup.subtree_control")) ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
            for controller in ["pids", "memory"] where !enabled.contains(controller) {
                return .failure(.noCgroup(.controllerNotDelegated(parent: parent, controller: controller)))
            }
            guard access(parent, W_OK) == 0 else {
                return .failure(.noCgroup(.parentNotWritable(parent)))
            }
            return .success((.v2, [(parent, home)]))
        }
        guard geteuid() == 0 else { return .failure(.noCgroup(.v1NeedsRoot)) }
        var places: [(String, String)] = []
        for controller in ["pids", "memory"] {
            guard let line = lines.first(where: { $0.count == 3 && $0[1].split(separator: ",").contains(Substring(controller)) }) else {
                return .failure(.noCgroup(.v1NoController(controller)))
            }
            let own = unplaced(line[2])
            let home = mount + "/" + line[1] + (own == "/" ? "" : own)
            guard access(home + "/cgroup.procs", W_OK) == 0 else {
                return .failure(.noCgroup(.v1NotWritable(home)))
            }
            places.append((home, home))
        }
        return .success((.v1, places))
    }

    /// Makes the boot's cgroup (or finds it made, by the launcher or a
    /// concurrent call) with `limits`, and opens each hierarchy's
    /// ``entryFile(_:)`` for ``join()``.
    static func prepare(helper: pid_t, limits: KernelLimits, at location: Location) throws(SandboxError) -> KernelCgroup {
        let cgroup = try make(helper: helper, at: location)
        try cgroup.limit(limits)
        return cgroup
    }

    /// ``prepare(helper:limits:at:)`` without the limits, which depend on
    /// the boot (its `mem=`): what a helper makes before its spec arrives
    /// (`PreparedJail`), ``limit(_:)`` once it has.
    static func make(helper: pid_t, at location: Location) throws(SandboxError) -> KernelCgroup {
        let (version, places) = location
        var nodes: [Node] = []
        do throws(SystemError) {
            for place in places {
                let parent = try Directory(place.parent)
                let home = place.home == place.parent ? parent : try Directory(place.home)
                var node = Node(parent: parent, home: home, name: name(helper: helper))
                do {
                    try parent.makeDirectory(node.name, mode: 0o755)
                    node.madeHere = true
                    sweep(parent)
                } catch where error.errno == .fileExists {}
                nodes.append(node)
                let dir = try parent.openDirectory(node.name)
                nodes[nodes.count - 1].directory = dir
                nodes[nodes.count - 1].entry = try dir.openFile(entryFile(version), flags: O_WRONLY)
            }
            return KernelCgroup(version: version, nodes: nodes)
        } catch {
            KernelCgroup(version: version, nodes: nodes).removeMade()
            throw .cgroupSetup(version: version.rawValue, error)
        }
    }

    /// Writes `limits` into the cgroup; on failure removes what this
    /// process made of it.
    func limit(_ limits: KernelLimits) throws(SandboxError) {
        do throws(SystemError) {
            try write(limits)
        } catch {
            removeMade()
            throw .cgroupSetup(version: version.rawValue, error)
        }
    }

    /// Where a move into a cgroup is written: on v1 `tasks`, where `0`
    /// moves the writing thread; on v2 cgroup.procs, where a pid moves its
    /// process.
    static func entryFile(_ version: Version) -> String { version == .v1 ? "tasks" : "cgroup.procs" }

    /// What moves the calling process into the cgroup whose ``entryFile(_:)``
    /// it is written to. On v1 `0`: the calling thread, which Linux moves
    /// without its global percpu rwsem, whose writer waits for an RCU grace
    /// period (10-20 ms on this host kind) when it finds it idle. The
    /// calling thread is what matters: a process forked from it is born in
    /// its cgroups, and the helper, single-threaded, moves whole. On v2 the
    /// process's pid: a domain cgroup takes processes only, each move with
    /// that wait.
    static func selfEntry(_ version: Version) -> String { version == .v1 ? "0" : "\(getpid())" }

    /// Puts the calling process (the helper) into the cgroup unless it is
    /// there already; true when this call moved it. Called just before the
    /// reaper is born, so that the reaper and the kernel are born inside.
    ///
    /// On v1 the move is ``selfEntry(_:)``'s `0`: no grace period, so the
    /// helper makes it itself, after it entered its namespaces and jail,
    /// hence the descriptors opened by ``prepare(helper:limits:at:)`` (the
    /// kernel checks a move against the credentials of whoever opened the
    /// file, Linux 5.16 and later, and the files need not be visible from
    /// inside the jail). On v2 the launcher places the helper from outside
    /// as a rule, on a thread beside the preflight
    /// (`SandboxRunner.placeInCgroup`), so the helper normally finds itself
    /// inside and pays one read; it moves itself only when nobody did.
    func join() throws(SandboxError) -> Bool {
        var moved = false
        do throws(SystemError) {
            for node in nodes {
                guard let dir = node.directory, let entry = node.entry else { continue }
                let members = String(decoding: try dir.openFile("cgroup.procs", flags: O_RDONLY).read(upTo: 1 << 16), as: UTF8.self)
                if members.split(separator: "\n").contains(Substring("\(getpid())")) { continue }
                try entry.writeAll(Array(Self.selfEntry(version).utf8))
                moved = true
            }
            return moved
        } catch {
            throw .cgroupSetup(version: version.rawValue, error)
        }
    }

    /// Puts process `pid` (a helper just spawned) into the cgroup from
    /// outside: v2 only, where the launcher does this beside its preflight
    /// so that the move's wait is off the boot's path. On v1 the helper
    /// moves itself (``join()``), which costs no wait; a move from outside
    /// would take the rwsem and hold up the helper's.
    func place(pid: pid_t) throws(SandboxError) {
        guard version == .v2 else { return }
        do throws(SystemError) {
            for node in nodes {
                try node.entry?.writeAll(Array("\(pid)".utf8))
            }
        } catch {
            throw .cgroupSetup(version: version.rawValue, error)
        }
    }

    /// Moves the launcher's calling process into the cgroup it is already
    /// in, which changes nothing but starts what the boot's own move would
    /// wait for: Linux guards every move of a process with one percpu rwsem,
    /// and a writer that finds it idle waits for an RCU grace period
    /// (10-20 ms on this host kind) before it may take it; a writer that
    /// comes while one is under way waits only for the rest of it, and one
    /// within a grace period after the last writer not at all. By pid: for
    /// `0` Linux would skip the lock, and nothing would be started. v2 only:
    /// on v1 nothing waits (``join()``), and this would hold cgroup_mutex
    /// through its grace period, holding up the helper's own cgroup calls.
    /// A failure costs only the wait it would have saved.
    static func warmUpMigration(at location: Location) {
        guard location.version == .v2, let home = location.places.first?.home else { return }
        try? Directory(home).openFile("cgroup.procs", flags: O_WRONLY).writeAll(Array("\(getpid())".utf8))
    }

    /// ``prepare(helper:limits:at:)`` then ``place(pid:)`` (v2; on v1 the
    /// helper joins by itself): the cgroup, made and limited. On failure
    /// removes only what it made: a launcher's cgroup is the launcher's to
    /// remove.
    static func enter(helper: pid_t, limits: KernelLimits, at location: Location,
                      pid: pid_t) throws(SandboxError) -> KernelCgroup {
        let cgroup = try prepare(helper: helper, limits: limits, at: location)
        do {
            try cgroup.place(pid: pid)
            return cgroup
        } catch {
            cgroup.removeMade()
            throw error
        }
    }

    /// Removes the parts of this cgroup that its own `prepare` made.
    func removeMade() {
        KernelCgroup(version: version, nodes: nodes.filter(\.madeHere)).remove()
    }

    private func write(_ limits: KernelLimits) throws(SystemError) {
        for node in nodes {
            let dir: Directory
            if let opened = node.directory { dir = opened } else { dir = try node.parent.openDirectory(node.name) }
            let names = try dir.names()
            if names.contains("pids.max") { try Self.write("\(limits.processes)", to: "pids.max", in: dir) }
            if version == .v2 {
                if names.contains("memory.max") { try Self.write("\(limits.cgroupMemoryBytes)", to: "memory.max", in: dir) }
            } else if names.contains("memory.limit_in_bytes") {
                try Self.write("\(limits.cgroupMemoryBytes)", to: "memory.limit_in_bytes", in: dir)
            }
        }
    }

    private static func write(_ text: String, to file: String, in dir: Directory) throws(SystemError) {
        try dir.openFile(file, flags: O_WRONLY).writeAll(Array(text.utf8))
    }

    /// Moves this process back home and removes the cgroup; false when a
    /// task is still inside (then the launcher or the next boot removes it).
    @discardableResult
    func remove() -> Bool {
        var removed = true
        for node in nodes {
            try? Self.write(Self.selfEntry(version), to: Self.entryFile(version), in: node.home)
            if (try? node.parent.removeDirectory(node.name)) == nil && (try? node.parent.status(of: node.name)) != nil { removed = false }
        }
        return removed
    }

    /// Removes the cgroups of boots whose helper is gone (a launcher killed
    /// with SIGKILL could not): only empty ones can be removed at all.
    static func sweep(_ parent: Directory) {
        for name in (try? parent.names()) ?? [] where name.hasPrefix(prefix) {
            guard let pid = pid_t(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? parent.removeDirectory(name)
        }
    }

    /// The cgroup of the boot whose helper had pid `helper`, removed once its
    /// tasks are gone (they may still be exiting after a kill): waits up to
    /// `seconds`. True when nothing of it is left.
    static func remove(helper: pid_t, seconds: Double = 2) -> Bool {
        guard case .success(let (_, places)) = locate() else { return true }
        let name = name(helper: helper)
        let deadline = MonotonicClock.seconds() + seconds
        var left = false
        for place in places {
            guard let parent = try? Directory(place.parent) else { continue }
            while (try? parent.status(of: name)) != nil {
                if (try? parent.removeDirectory(name)) != nil { break }
                if MonotonicClock.seconds() >= deadline { left = true; break }
                usleep(10_000)
            }
        }
        return !left
    }
}
