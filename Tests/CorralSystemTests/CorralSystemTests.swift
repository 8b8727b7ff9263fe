import CorralSystem
import Foundation
import SystemPackage
import Testing
import TestSupport

@Suite struct SystemCallTests {
    @Test func failureNamesCallObjectAndErrno() throws {
        #expect(throws: SystemError(call: "open", object: "/nonexistent/x", errno: .noSuchFileOrDirectory)) {
            _ = try Descriptor(open: "/nonexistent/x", flags: O_RDONLY)
        }
        let error = SystemError(call: "open", object: "/x", errno: .noSuchFileOrDirectory)
        #expect(error.description == "open(/x): No such file or directory")
    }

    @Test func interruptedCallIsRetried() throws {
        var calls = 0
        let result = try systemCall("fake", "thing") { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(result == 7 && calls == 3)
    }

    @Test func symlinkIsNotOpened() throws {
        let dir = try Scratch("sys")
        _ = FileManager.default.createFile(atPath: dir("target"), contents: Data("secret".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir("link"), withDestinationPath: dir("target"))
        #expect(throws: SystemError(call: "open", object: dir("link"), errno: .tooManySymbolicLinkLevels)) {
            _ = try Descriptor(open: dir("link"), flags: O_RDONLY)
        }
        let d = try Directory(dir.path)
        #expect(throws: SystemError.self) { _ = try d.openFile("link", flags: O_RDONLY) }
        #expect(try d.status(of: "link")?.isSymbolicLink == true)
        #expect(try d.status(of: "absent") == nil)
        #expect(throws: SystemError.self) { _ = try d.status(of: "../etc") }
    }

    /// A directory the user names may be reached through links (the last
    /// component included) with `namedByUser`; the plain init refuses that
    /// link, and names inside are never followed either way.
    @Test func userNamedDirectoryFollowsItsPathButNotItsEntries() throws {
        let dir = try Scratch("sys")
        try FileManager.default.createDirectory(atPath: dir("real"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir("real/file"), contents: Data("mine".utf8))
        _ = FileManager.default.createFile(atPath: dir("secret"), contents: Data("secret".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir("real/link"), withDestinationPath: dir("secret"))
        try FileManager.default.createSymbolicLink(atPath: dir("images"), withDestinationPath: dir("real"))
        try FileManager.default.createSymbolicLink(atPath: dir("alias"), withDestinationPath: dir("real/link"))

        #expect(throws: SystemError.self) { _ = try Directory(dir("images")) }
        let d = try Directory(namedByUser: dir("images"))
        #expect(d.path == dir("images"))
        #expect(try d.status().isSameFile(as: try Directory(dir("real")).status()))
        #expect(Set(try d.names()) == ["file", "link"])
        #expect(String(decoding: try d.openFile("file", flags: O_RDONLY).read(upTo: 16), as: UTF8.self) == "mine")
        #expect(throws: SystemError(call: "openat", object: dir("images/link"), errno: .tooManySymbolicLinkLevels)) {
            _ = try d.openFile("link", flags: O_RDONLY)
        }
        #expect(try d.status(of: "link")?.isSymbolicLink == true)
        // Still a directory: a link to a file is refused, not opened.
        #expect(throws: SystemError(call: "open", object: dir("alias"), errno: .notDirectory)) {
            _ = try Directory(namedByUser: dir("alias"))
        }
    }
}

@Suite struct TreeRemovalTests {
    /// A symlink inside the tree is removed as a link; what it points to stays.
    @Test func linksAreRemovedNotFollowed() throws {
        let dir = try Scratch("sys")
        try FileManager.default.createDirectory(atPath: dir("victim/keep"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir("victim/keep/file"), contents: Data("x".utf8))
        try FileManager.default.createDirectory(atPath: dir("tree/a"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir("tree/a/link"), withDestinationPath: dir("victim"))
        try FileManager.default.createSymbolicLink(atPath: dir("tree/top"), withDestinationPath: dir("victim/keep"))
        try Directory(dir.path).removeTree("tree")
        #expect(!FileManager.default.fileExists(atPath: dir("tree")))
        #expect(FileManager.default.fileExists(atPath: dir("victim/keep/file")))
    }

    /// The attack on the boot sweep: while root removes a planted tree, the
    /// planter swaps a directory of it for a symlink to a tree of root's.
    /// A path-based walk (lstat, then opendir by name) follows the swap;
    /// the descriptor-relative one never does.
    @Test func componentSwappedDuringWalkIsNotFollowed() throws {
        let dir = try Scratch("sys")
        let victim = dir("victim")
        for round in 0..<150 {
            try FileManager.default.createDirectory(atPath: "\(victim)/d", withIntermediateDirectories: true)
            for i in 0..<20 { _ = FileManager.default.createFile(atPath: "\(victim)/d/f\(i)", contents: nil) }
            let plant = dir("plant\(round)")
            try FileManager.default.createDirectory(atPath: "\(plant)/a/b", withIntermediateDirectories: true)
            for i in 0..<20 { _ = FileManager.default.createFile(atPath: "\(plant)/a/b/f\(i)", contents: nil) }
            let stop = Flag()
            let swapper = Thread {
                while !stop.isSet {
                    rename("\(plant)/a/b", "\(plant)/a/real")
                    symlink("\(victim)/d", "\(plant)/a/b")
                    unlink("\(plant)/a/b")
                    rename("\(plant)/a/real", "\(plant)/a/b")
                }
            }
            swapper.start()
            let d = try Directory(dir.path)
            try? d.removeTree("plant\(round)")
            stop.set()
            while !swapper.isFinished { usleep(1000) }
            let left = try FileManager.default.contentsOfDirectory(atPath: "\(victim)/d").count
            #expect(left == 20, "round \(round): the walk followed the swapped link and removed \(20 - left) of root's files")
            if left != 20 { return }
        }
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

@Suite struct NewFileTests {
    @Test func publishRefusesAnExistingNameUnlessReplacing() throws {
        let dir = try Scratch("sys")
        _ = FileManager.default.createFile(atPath: dir("out"), contents: Data("old".utf8))
        let d = try Directory(dir.path)
        let file = try NewFile(in: d, for: "out")
        try file.descriptor.writeAll(Array("new".utf8))
        #expect(throws: SystemError.self) { try file.publish(as: "out", replace: false) }
        #expect(try String(contentsOfFile: dir("out"), encoding: .utf8) == "old")
        try file.publish(as: "out", replace: true)
        #expect(try String(contentsOfFile: dir("out"), encoding: .utf8) == "new")
        #expect(dir.entries == ["out"])
    }

    /// The temporary name swapped for a symlink: fchmod and writes still go
    /// to corral's file, publish refuses, and the link's target is untouched.
    @Test func swappedTemporaryNameIsNeitherFollowedNorPublished() throws {
        let dir = try Scratch("sys")
        _ = FileManager.default.createFile(atPath: dir("secret"), contents: Data("s".utf8), attributes: [.posixPermissions: 0o600])
        let d = try Directory(dir.path)
        let file = try NewFile(in: d, for: "out")
        let tmp = try #require(file.temporaryPath)
        unlink(tmp)
        symlink(dir("secret"), tmp)
        try file.descriptor.setPermissions(0o644)
        try file.descriptor.writeAll(Array("attacker".utf8))
        #expect(throws: SystemError.self) { try file.publish(as: "out", replace: true) }
        let attributes = try FileManager.default.attributesOfItem(atPath: dir("secret"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOfFile: dir("secret"), encoding: .utf8) == "s")
        file.discard()
        // discard leaves a name that is no longer its file alone.
        #expect(FileManager.default.fileExists(atPath: tmp))
    }

    @Test func droppedFileLeavesNothing() throws {
        let dir = try Scratch("sys")
        do {
            let file = try NewFile(in: try Directory(dir.path), for: "out", tag: "x")
            #expect(try file.descriptor.status().permissions == 0o600)
        }
        #expect(dir.entries.isEmpty)
    }
}

@Suite struct RandomAndShellTests {
    @Test func randomHexHasTheLengthAndVaries() {
        let a = Random.hex(bytes: 16), b = Random.hex(bytes: 16)
        #expect(a.count == 32 && a != b && a.allSatisfy(\.isHexDigit))
    }

    @Test func quoting() {
        #expect(Shell.quote("a/b.c") == "a/b.c")
        #expect(Shell.quote("") == "''")
        #expect(Shell.quote("it's") == "'it'\\''s'")
        #expect(Shell.quote("a b") == "'a b'")
    }
}
