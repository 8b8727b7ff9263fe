#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Running UML kernels whose command line names a file, found in
/// `/proc/*/cmdline`.
///
/// Why a lock is not enough: the 6.1 kernel opens (and locks) a ubd file
/// only while its guest has the device open, so a kernel started with
/// `ubd1=x.cow,base.img` whose guest has not mounted ubdb yet holds no lock
/// on either file, yet will read the bitmap and data the moment it does.
/// A verb that rewrites those files in place (commit, normalize, rebase)
/// must therefore also refuse while a kernel merely names them.
///
/// A file a kernel names only as a backing, or with the `r` flag, is only
/// ever read by it; verbs that merely read such a file ask about it with
/// `writable`, so guests sharing one base image do not block each other's
/// normalize or rebase.
///
/// Files are compared by identity (device and inode), not by string: a
/// relative name is resolved against the kernel's own working directory and
/// an absolute one against its root (`/proc/PID/cwd`, `/proc/PID/root`), so
/// other spellings, symlinks and a jailed kernel's view are all caught. A
/// name that cannot be resolved (another user's process seen by a non-root
/// caller, a process that just exited) is skipped: the scan never blocks
/// and never fails the verb by itself.
public enum RunningKernels {
    /// A kernel process naming one of the files asked about.
    public struct Holder: Sendable, Equatable {
        public var pid: Int32
        /// The file as the caller named it.
        public var path: String
    }

    /// A file named in a ubd argument; `writable` when the kernel may write
    /// it (the first file, without the `r` flag).
    struct Named: Equatable {
        var name: String
        var writable: Bool
    }

    /// The first running process (other than this one) whose command line
    /// has a `ubd<N>[flags]=FILE[,BACKING]` argument naming one of `paths`
    /// in any role, or one of `writable` as a file it may write; nil when
    /// none does. Paths that do not exist are ignored.
    ///
    /// A wrapper (`timeout`, `strace`, a shell's `exec`-less child) carries
    /// the kernel's arguments too; the kernel itself, whose argv[0] is
    /// `linux…` or `vmlinux…` (linux.uml, linux-6.12), is named in
    /// preference, and the wrapper only when no such process matches.
    public static func naming(_ paths: [String], writable: [String] = []) -> Holder? {
        func stat(_ list: [String]) -> [(path: String, status: FileStatus)] {
            list.compactMap { p in (try? FileStatus.of(p)).flatMap { $0 }.map { (p, $0) } }
        }
        let any = stat(paths)
        let written = stat(writable)
        guard !any.isEmpty || !written.isEmpty else { return nil }
        let me = getpid()
        var wrapper: Holder?
        for entry in PathResolution.entries(of: "/proc") {
            guard let pid = Int32(entry), pid > 0, pid != me else { continue }
            let arguments = commandLine(of: pid)
            for named in ubdFiles(in: arguments) {
                guard let status = resolve(named.name, pid: pid) else { continue }
                let candidates = named.writable ? any + written : any
                guard let hit = candidates.first(where: { $0.status.isSameFile(as: status) }) else { continue }
                let holder = Holder(pid: pid, path: hit.path)
                if isKernelName(arguments.first ?? "") { return holder }
                if wrapper == nil { wrapper = holder }
                break
            }
        }
        return wrapper
    }

    /// Whether argv[0] looks like a kernel binary rather than a wrapper.
    static func isKernelName(_ argv0: String) -> Bool {
        let base = argv0.split(separator: "/").last.map(String.init) ?? argv0
        return base.hasPrefix("linux") || base.hasPrefix("vmlinux")
    }

    /// The files named by ubd arguments (after argv[0]), split as the 6.1
    /// kernel splits them (`ubd_setup_common`): the device is a number or
    /// one letter, flags follow it; the first `,` or `:` ends the COW (or
    /// image) name, the next one ends the backing name.
    static func ubdFiles(in arguments: [String]) -> [Named] {
        var files: [Named] = []
        for argument in arguments.dropFirst() {
            guard argument.hasPrefix("ubd"), let eq = argument.firstIndex(of: "=") else { continue }
            let key = argument[argument.index(argument.startIndex, offsetBy: 3)..<eq]
            // ubd0=, ubd1r=, ubdbc= … but not the global `ubd=mmap` style options.
            guard let first = key.first, first.isNumber || first.isLetter,
                  key.allSatisfy({ $0.isNumber || $0.isLetter }) else { continue }
            let flags = first.isNumber ? key.drop(while: { $0.isNumber }) : key.dropFirst()
            let value = argument[argument.index(after: eq)...]
            let parts = value.split(maxSplits: 2, omittingEmptySubsequences: false) { $0 == "," || $0 == ":" }
            for (i, part) in parts.prefix(2).enumerated() where !part.isEmpty {
                files.append(Named(name: String(part), writable: i == 0 && !flags.contains("r")))
            }
        }
        return files
    }

    /// The NUL-separated arguments of `pid`; empty when it has exited, is a
    /// kernel thread or cannot be read.
    static func commandLine(of pid: Int32) -> [String] {
        guard let file = try? Descriptor(open: "/proc/\(pid)/cmdline", flags: O_RDONLY | O_NONBLOCK) else { return [] }
        let limit = 256 * 1024, chunk = 16 * 1024
        var bytes: [UInt8] = []
        // In chunks: most command lines are short, and every process is read.
        while bytes.count < limit, let part = try? file.read(upTo: chunk) {
            bytes += part
            if part.count < chunk { break }
        }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// stat of `name` as process `pid` sees it, or nil.
    static func resolve(_ name: String, pid: Int32) -> FileStatus? {
        let seen = name.hasPrefix("/") ? "/proc/\(pid)/root\(name)" : "/proc/\(pid)/cwd/\(name)"
        if let status = (try? FileStatus.of(seen)).flatMap({ $0 }) { return status }
        // Without access to another user's /proc/PID/root, an absolute name
        // is still what it says in our own root (the common, unjailed case).
        return name.hasPrefix("/") ? (try? FileStatus.of(name)).flatMap { $0 } : nil
    }
}

extension RunningKernels {
    /// Throws ``EngineError/namedByKernel(path:pid:)`` when a running kernel
    /// names any of `paths`, or names one of `writable` as a file it may write.
    static func requireNone(_ paths: [String], writable: [String] = []) throws(EngineError) {
        if let holder = naming(paths, writable: writable) { throw .namedByKernel(path: holder.path, pid: holder.pid) }
    }
}
