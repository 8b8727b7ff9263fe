#if canImport(Glibc)
import Glibc
#endif

/// The host paths the kernel may change: everything else is read-only in its
/// mount namespace and write-denied by Landlock.
///
/// Beyond `policy.writablePaths` the kernel needs, and so always gets:
/// - the `uml_dir=` directory from its command line (umid dir, pid file,
///   mconsole socket), so a launcher cannot forget it;
/// - the directory of UML's physical-memory file (an O_TMPFILE, sandbox.md
///   §1.3): the first of `$TMPDIR`, `$TMP`, `$TEMP` that is set, else
///   `/dev/shm`. So a `TMPDIR=/tmp` in the helper's environment makes all of
///   `/tmp` writable: the launcher should unset it or point it at the
///   per-boot directory.
struct WritablePaths: Sendable, Equatable {
    /// Canonical absolute paths, parents before children.
    var paths: [String]

    init(policy: SandboxPolicy, argv: [String], environment: [String: String]) throws(SandboxError) {
        var wanted: [String] = []
        for path in policy.writablePaths { wanted.append(try Self.canonical(path, what: "writable path")) }
        if let dir = argv.last(where: { $0.hasPrefix("uml_dir=") })?.dropFirst("uml_dir=".count), !dir.isEmpty {
            wanted.append(try Self.canonical(String(dir), what: "uml_dir"))
        }
        if let name = ["TMPDIR", "TMP", "TEMP"].first(where: { !(environment[$0] ?? "").isEmpty }) {
            wanted.append(try Self.canonical(environment[name]!, what: name))
        } else if let shm = try? Self.canonical("/dev/shm", what: "/dev/shm") {
            wanted.append(shm)
        }
        var seen = Set<String>()
        paths = wanted.filter { seen.insert($0).inserted }.sorted { $0.count < $1.count }
    }

    static func canonical(_ path: String, what: String) throws(SandboxError) -> String {
        guard let resolved = realpath(path, nil) else {
            throw SandboxError("\(what) \(path) is not usable: \(String(cString: strerror(errno)))")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
