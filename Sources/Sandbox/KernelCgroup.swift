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
        /// The boot's cgroup itself, and its cgroup.procs open for writing.
        var directory: Directory?
        var procs: Descriptor?
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
    /// cgroup.procs for ``join(pid:)``.
    static func prepare(helper: pid_t, limits: KernelLimits, at location: Location) throws(SandboxError) -> KernelCgroup {
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
                nodes[nodes.count - 1].procs = try dir.openFile("cgroup.procs", flags: O_WRONLY)
            }
            let cgroup = KernelCgroup(version: version, nodes: nodes)
            try cgroup.write(limits)
            return cgroup
        } catch {
            KernelCgroup(version: version, nodes: nodes).removeMade()
            throw .cgroupSetup(version: version.rawValue, error)
        }
    }

    /// Puts `pid` into the cgroup unless it is there already; true when
    /// this call moved it.
    ///
    /// Moving a process between cgroups (a write to cgroup.procs) waits for
    /// an RCU grace period, 10-20 ms on this host kind, unless another move
    /// just waited. The launcher places the helper from outside, on a thread
    /// beside the preflight, while the helper waits for its spec
    /// (`SandboxRunner.placeInCgroup`), and the helper joins only just
    /// before the reaper is born, so it normally finds itself inside and
    /// pays one read; it moves itself only when nobody did. That is after
    /// it entered its namespaces and jail, hence the descriptors opened by
    /// ``prepare(helper:limits:at:)``: the kernel checks a move against the
    /// credentials of whoever opened cgroup.procs (Linux 5.16 and later),
    /// and the files need not be visible from inside the jail.
    func join(pid: pid_t) throws(SandboxError) -> Bool {
        var moved = false
        do throws(SystemError) {
            for node in nodes {
                guard let dir = node.directory, let procs = node.procs else { continue }
                let members = String(decoding: try dir.openFile("cgroup.procs", flags: O_RDONLY).read(upTo: 1 << 16), as: UTF8.self)
                if members.split(separator: "\n").contains(Substring("\(pid)")) { continue }
                try procs.writeAll(Array("\(pid)".utf8))
                moved = true
            }
            return moved
        } catch {
            throw .cgroupSetup(version: version.rawValue, error)
        }
    }

    /// Moves the calling thread into the cgroup it is already in, which
    /// changes nothing but starts what the boot's own move would wait for:
    /// Linux guards every move with one percpu rwsem, and a writer that
    /// finds it idle waits for an RCU grace period (10-20 ms on this host
    /// kind) before it may take it; a writer that comes while one is under
    /// way waits only for the rest of it, and one within a grace period
    /// after the last writer not at all. On cgroup v1 the thread itself
    /// (`tasks`): a write of the pid to cgroup.procs would move every thread
    /// of the process. On v2 the process. Always by id: for `0` (the writer
    /// itself) Linux skips the lock, and nothing would be started. A failure
    /// costs only the wait it would have saved.
    static func warmUpMigration(at location: Location) {
        guard let home = location.places.first?.home else { return }
        let (file, id) = location.version == .v1 ? ("tasks", corral_gettid()) : ("cgroup.procs", getpid())
        try? Directory(home).openFile(file, flags: O_WRONLY).writeAll(Array("\(id)".utf8))
    }

    /// ``prepare(helper:limits:at:)`` then ``join(pid:)``: the cgroup and
    /// whether this call moved `pid`. On failure removes only what it made:
    /// a launcher's cgroup is the launcher's to remove.
    static func enter(helper: pid_t, limits: KernelLimits, at location: Location,
                      pid: pid_t) throws(SandboxError) -> (cgroup: KernelCgroup, moved: Bool) {
        let cgroup = try prepare(helper: helper, limits: limits, at: location)
        do {
            return (cgroup, try cgroup.join(pid: pid))
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
            try? Self.write("\(getpid())", to: "cgroup.procs", in: node.home)
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
