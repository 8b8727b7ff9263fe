#if canImport(Glibc)
import Glibc
#endif

/// Host paths as the jail sees them: symlink-free, compared by component.
/// `JailRoot` binds a path at its symlink-free form (`mirror`), so every
/// question about what a bind covers, or whether a file the kernel will
/// open lies in one, is asked of that form, never of the name given.
enum HostPath {
    /// Whether the symlink-free `path` is `base` or lies below it
    /// (`/a/bc` is not below `/a/b`).
    static func lies(_ path: String, within base: String) -> Bool {
        path == base || path.hasPrefix(base == "/" ? "/" : base + "/")
    }

    /// `path` (relative to the working directory, or absolute) with every
    /// symlink resolved (`realpath`). A last component that does not exist
    /// yet (a file the kernel will create) is kept as given after its
    /// resolved directory; nil when even the directory cannot be resolved.
    static func resolved(_ path: String) -> String? {
        if let full = realpath(path, nil) {
            defer { free(full) }
            return String(cString: full)
        }
        guard errno == ENOENT else { return nil }
        let absolute = WritablePaths.absolute(path)
        guard let slash = absolute.lastIndex(of: "/") else { return nil }
        let name = absolute[absolute.index(after: slash)...]
        guard !name.isEmpty, name != ".", name != ".." else { return nil }
        let directory = slash == absolute.startIndex ? "/" : String(absolute[..<slash])
        guard let parent = realpath(directory, nil) else { return nil }
        defer { free(parent) }
        let base = String(cString: parent)
        return (base == "/" ? "/" : base + "/") + name
    }
}
