#if canImport(Glibc)
import Glibc
#endif

/// The host paths the kernel may change: everything else is read-only or
/// absent in its root (`JailRoot`) and write-denied by Landlock.
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
    /// The same paths as asked for, made absolute but not resolved: where
    /// the kernel opens them, so where `JailRoot` shows them (a symlink on
    /// the way is recreated there).
    var requested: [String]

    init(policy: SandboxPolicy, argv: [String], environment: [String: String]) throws(SandboxError) {
        var wanted: [String] = [], given: [String] = []
        func add(_ path: String, what: String) throws(SandboxError) {
            wanted.append(try Self.canonical(path, what: what))
            given.append(Self.absolute(path))
        }
        for path in policy.writablePaths { try add(path, what: "writable path") }
        if let dir = argv.last(where: { $0.hasPrefix("uml_dir=") })?.dropFirst("uml_dir=".count), !dir.isEmpty {
            try add(String(dir), what: "uml_dir")
        }
        if let name = ["TMPDIR", "TMP", "TEMP"].first(where: { !(environment[$0] ?? "").isEmpty }) {
            try add(environment[name]!, what: name)
        } else if let shm = try? Self.canonical("/dev/shm", what: "/dev/shm") {
            wanted.append(shm)
            given.append("/dev/shm")
        }
        var seen = Set<String>()
        paths = wanted.filter { seen.insert($0).inserted }.sorted { $0.count < $1.count }
        var asked = Set<String>()
        requested = given.filter { asked.insert($0).inserted }
    }

    static func canonical(_ path: String, what: String) throws(SandboxError) -> String {
        guard let resolved = realpath(path, nil) else {
            throw .unusablePath(path, role: what, errno: errno)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `path` against the working directory, links left as they are.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" + path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd == "/" ? "/" + path : cwd + "/" + path
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
