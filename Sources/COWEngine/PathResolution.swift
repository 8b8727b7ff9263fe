#if canImport(Glibc)
import Glibc
#endif

/// Path helpers with the kernel's rules where they matter.
public enum PathResolution {
    /// The working directory, or "/" if it cannot be read.
    public static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path` made absolute against the working directory, without resolving links.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = currentDirectory()
        return cwd == "/" ? "/" + path : cwd + "/" + path
    }

    /// The directory part and last component of `path`.
    public static func split(_ path: String) -> (directory: String, name: String) {
        let abs = absolute(path)
        guard let slash = abs.lastIndex(of: "/") else { return (".", abs) }
        let dir = String(abs[..<slash])
        return (dir.isEmpty ? "/" : dir, String(abs[abs.index(after: slash)...]))
    }

    /// What the header stores for a backing file: the physical directory
    /// (`realpath`) plus the last component unchanged, so a final symlink is
    /// kept as given (the kernel's absolutizing, spec §4.4, without its bugs).
    public static func headerPath(for path: String) -> String {
        let (dir, name) = split(path)
        guard let real = realpath(dir, nil) else { return absolute(path) }
        defer { free(real) }
        let d = String(cString: real)
        return d == "/" ? "/" + name : d + "/" + name
    }

    /// Fully resolved path, or nil when it does not exist.
    public static func real(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// Names in a directory (no "." or ".."); empty when unreadable.
    public static func entries(of directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
