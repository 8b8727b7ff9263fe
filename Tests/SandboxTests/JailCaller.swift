import CTestPTY
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Who runs `corral boot` in a jail test: root (whose kernel gets a uid of
/// its own), or an ordinary user made with `useradd` (whose kernel runs in
/// a user namespace as that user). The attacks are the same; for the user,
/// the victims are what that user could reach on the host outside corral
/// (its own files, sockets, terminal and processes), so a denial is the
/// jail's doing, not the host's permissions.
enum JailCaller: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case root, user
    var testDescription: String { rawValue }
}

/// A caller made real for one test: the user (none for root) and a working
/// directory it owns (mode 0755), where its disks go.
final class JailBooter {
    let caller: JailCaller
    let user: TestUser?
    let directory: Scratch

    init(_ caller: JailCaller) throws {
        self.caller = caller
        user = caller == .user ? try TestUser("booter", home: true) : nil
        directory = try Scratch("corral-jail-booter")
        chmod(directory.path, 0o755)
        try own(directory.path)
    }

    /// Fails the test unless the kernel under test is there to boot.
    static func requireKernel() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.kernel), "\(TestEnvironment.kernel) is missing")
    }

    /// An ordinary user made for a test that boots the kernel under test,
    /// with its booter.
    static func ordinaryUser() throws -> (booter: JailBooter, user: TestUser) {
        try requireKernel()
        let booter = try JailBooter(.user)
        return (booter, try #require(booter.user))
    }

    /// Hands `path` to the caller (nothing to do for root).
    func own(_ path: String) throws {
        try user?.own(path)
    }

    /// `corral ARGS` as the caller, in its directory.
    func corral(_ arguments: [String], mergeStderr: Bool = false) throws -> ProcessResult {
        guard let user else { return try runCorral(arguments, cwd: directory.path, mergeStderr: mergeStderr) }
        return try runProcess("/usr/sbin/runuser", ["-u", user.name, "--", TestPaths.corral] + arguments,
                              cwd: directory.path, environment: TestEnvironment.childEnvironment, mergeStderr: mergeStderr)
    }

    /// A long-running host process of the caller's with `environment`
    /// (setpriv execs in place, so terminating it ends the process itself).
    func hostProcess(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> Process {
        let process = Process()
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid", "\(user.uid)", "--regid", "\(user.gid)", "--clear-groups", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.environment = environment
        try process.run()
        return process
    }

    /// A pseudo-terminal of the caller's: the master stays open here (so
    /// the slave exists), the slave is the caller's. Returns the master fd
    /// and the slave's path.
    func terminal() throws -> (master: Int32, path: String) {
        var name = [CChar](repeating: 0, count: 128)
        let master = corral_test_open_pty(&name, name.count)
        try #require(master >= 0, "cannot open a pty: \(errno)")
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try own(path)
        return (master, path)
    }
}
