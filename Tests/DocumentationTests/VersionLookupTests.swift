import Foundation
import TestSupport
import Testing

/// How `corral --version` finds its commit without running git: a copy of
/// the built binary is placed in a made-up checkout or install, so each
/// layout git (or `make install`) can leave is read by the real code.
@Suite struct VersionLookupTests {
    static let hashA = String(repeating: "a1", count: 20)
    static let hashB = String(repeating: "b2", count: 20)
    static let hashC = String(repeating: "c3", count: 20)

    /// Builds a tree in a fresh directory, copies corral to `binary` (relative
    /// to it), and returns what `--version` prints.
    func version(binary: String, files: [String: String]) throws -> String {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("corral-version-\(UUID().uuidString)").path
        defer { try? fm.removeItem(atPath: root) }
        for (path, text) in files {
            let full = "\(root)/\(path)"
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
        let copy = "\(root)/\(binary)"
        try fm.createDirectory(atPath: (copy as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestPaths.corral, toPath: copy)
        let result = try runProcess(copy, ["--version"], cwd: "/")
        guard result.status == 0 else { throw TestFailure("--version failed: \(result.summary)") }
        return result.stdout
    }

    @Test func branchInPackedRefs() throws {
        let out = try version(binary: ".build/debug/corral", files: [
            "Package.swift": "",
            ".git/HEAD": "ref: refs/heads/main\n",
            ".git/packed-refs": "# pack-refs with: peeled fully-peeled sorted\n\(Self.hashB) refs/heads/other\n\(Self.hashA) refs/heads/main\n^\(Self.hashC)\n",
        ])
        #expect(out == "corral 0.1.0 (commit \(Self.hashA.prefix(12)))\n")
    }

    @Test func looseRefWinsOverPackedRefs() throws {
        let out = try version(binary: ".build/x86_64-unknown-linux-gnu/debug/corral", files: [
            "Package.swift": "",
            ".git/HEAD": "ref: refs/heads/main\n",
            ".git/refs/heads/main": "\(Self.hashC)\n",
            ".git/packed-refs": "\(Self.hashA) refs/heads/main\n",
        ])
        #expect(out == "corral 0.1.0 (commit \(Self.hashC.prefix(12)))\n")
    }

    @Test func detachedHead() throws {
        let out = try version(binary: ".build/release/corral", files: [
            "Package.swift": "", ".git/HEAD": "\(Self.hashB)\n",
        ])
        #expect(out == "corral 0.1.0 (commit \(Self.hashB.prefix(12)))\n")
    }

    /// A linked worktree: `.git` is a file pointing into the main
    /// repository, which holds the shared refs (its `commondir`).
    @Test func linkedWorktree() throws {
        let out = try version(binary: "wt/.build/debug/corral", files: [
            "wt/Package.swift": "",
            "wt/.git": "gitdir: ../repo/.git/worktrees/wt\n",
            "repo/.git/worktrees/wt/HEAD": "ref: refs/heads/feature\n",
            "repo/.git/worktrees/wt/commondir": "../..\n",
            "repo/.git/refs/heads/feature": "\(Self.hashA)\n",
        ])
        #expect(out == "corral 0.1.0 (commit \(Self.hashA.prefix(12)))\n")
    }

    /// An install: the stamp `make install` wrote next to the binary, even
    /// when the prefix itself lies inside some git checkout.
    @Test func installedStamp() throws {
        let out = try version(binary: "usr/bin/corral", files: [
            "usr/share/corral/VERSION": "\(Self.hashC)-dirty\n",
            ".git/HEAD": "\(Self.hashA)\n",
        ])
        #expect(out == "corral 0.1.0 (commit \(Self.hashC.prefix(12))-dirty)\n")
    }

    /// No stamp, no checkout (or a `.git` above a binary that is not a
    /// package build, like a dotfiles repository in a home directory).
    @Test func unknownWithoutStampOrCheckout() throws {
        let out = try version(binary: "home/bin/corral", files: [".git/HEAD": "\(Self.hashA)\n"])
        #expect(out == "corral 0.1.0 (commit unknown)\n")
    }

    @Test func garbageIsNotACommit() throws {
        let out = try version(binary: "usr/bin/corral", files: ["usr/share/corral/VERSION": "not a hash\n"])
        #expect(out == "corral 0.1.0 (commit unknown)\n")
    }
}
