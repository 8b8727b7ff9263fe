import Foundation

/// A fresh directory (mkdtemp), removed when the last reference goes away.
/// It lives under `$TMPDIR` or /tmp, which a UML guest with the host's `/` as
/// its hostfs root reaches at the same path.
public final class Scratch: Sendable {
    public let path: String

    /// `prefix` starts the directory's name; `base` is its parent (default
    /// `$TMPDIR`, else /tmp). Kernel tests keep both short: the kernel limits
    /// the length of disk paths. `searchable` makes the directory mode 0755
    /// instead of mkdtemp's 0700, for files another uid (a sandboxed
    /// kernel's own) must reach.
    public init(_ prefix: String = "corral-test", in base: String? = nil, searchable: Bool = false) throws {
        let parent = base ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(parent)/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw TestFailure("mkdtemp \(parent)/\(prefix)-XXXXXX: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
        if searchable, chmod(path, 0o755) != 0 {
            throw TestFailure("chmod 0755 \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { remove() }

    public var url: URL { URL(fileURLWithPath: path) }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }
    public func callAsFunction(_ name: String) -> String { file(name) }

    /// Names in the directory, hidden ones included, sorted (to prove no
    /// partial output was left).
    public var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    /// Removes the directory now (also done at deinit).
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// A scratch directory for the length of `body`.
    public static func with<T>(_ prefix: String = "corral-test", in base: String? = nil, searchable: Bool = false,
                               _ body: (URL) throws -> T) throws -> T {
        let scratch = try Scratch(prefix, in: base, searchable: searchable)
        return try withExtendedLifetime(scratch) { try body(scratch.url) }
    }
}
