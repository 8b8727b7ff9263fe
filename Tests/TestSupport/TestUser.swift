import Foundation

/// An unprivileged local user made for one test (`useradd`), the attacker
/// in security tests, removed again (`userdel`) when the value goes away.
/// Names start with `corral-safe-` so parallel helpers' users never clash.
public final class TestUser: Sendable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32

    /// The home directory `useradd --create-home` made, when asked for one.
    public let home: String?

    public init(_ tag: String, home: Bool = false) throws {
        let name = "corral-safe-\(tag)-\(UInt32.random(in: 0..<1_000_000))"
        let made = try runProcess("/usr/sbin/useradd", [home ? "--create-home" : "--no-create-home", "--shell", "/bin/sh", name])
        guard made.status == 0 else { throw TestFailure("useradd \(name): \(made.summary)") }
        guard let entry = getpwnam(name) else { throw TestFailure("getpwnam \(name) failed after useradd") }
        self.name = name
        self.uid = entry.pointee.pw_uid
        self.gid = entry.pointee.pw_gid
        self.home = home ? String(cString: entry.pointee.pw_dir) : nil
    }

    deinit {
        _ = try? runProcess("/usr/sbin/userdel", ["--force"] + (home != nil ? ["--remove"] : []) + [name])
    }

    /// A new user and a fresh scratch directory it owns: the attacker and
    /// the directory it may write, where security tests stage an attack.
    public static func withDirectory(_ tag: String, scratch prefix: String) throws -> (TestUser, Scratch) {
        let user = try TestUser(tag)
        let dir = try Scratch(prefix)
        try user.own(dir.path)
        return (user, dir)
    }

    /// Runs `script` with /bin/sh as this user (runuser: no password, no PAM session).
    @discardableResult
    public func shell(_ script: String, cwd: String? = nil) throws -> ProcessResult {
        try runProcess("/bin/sh", ["-c", script], cwd: cwd, user: name)
    }

    /// Hands `path` to this user (chown).
    public func own(_ path: String) throws {
        guard chown(path, uid, gid) == 0 else { throw TestFailure("chown \(path): \(String(cString: strerror(errno)))") }
    }
}
