import Foundation
import Testing
import TestSupport
@testable import Launcher

/// Preflight on real files in a temp dir; no kernel needed.
@Suite struct PreflightTests {
    /// Specs name files relative to `dir`; they are made absolute here (no
    /// chdir: tests run in parallel in one process).
    func issues(_ specs: [String], in dir: URL) throws -> [PreflightIssue] {
        let absolute = specs.map { spec -> String in
            let unit = spec.prefix { $0 != "=" }
            var rest = String(spec.dropFirst(unit.count + 1))
            var flags = ""
            if let colon = rest.lastIndex(of: ":") { flags = String(rest[colon...]); rest = String(rest[..<colon]) }
            let files = rest.split(separator: ",").map { "\(dir.path)/\($0)" }.joined(separator: ",")
            return "\(unit)=\(files)\(flags)"
        }
        var found: [PreflightIssue] = []
        Preflight.checkDisks(try absolute.map { try DiskSpec(parsing: $0) }, &found)
        return found
    }

    func withFiles<T>(_ body: (URL) throws -> T) throws -> T {
        try Scratch.with("corral-launcher-test") { dir in
            try Data(count: 65536).write(to: dir.appendingPathComponent("a.img"))
            try Data(count: 65536).write(to: dir.appendingPathComponent("b.img"))
            return try body(dir)
        }
    }

    @Test func cleanDisksPass() throws {
        try withFiles { dir in
            let found1 = try issues(["1=a.img", "2=b.img:r"], in: dir)
            #expect(found1.isEmpty)
            // One backing shared read-only by two new COWs is fine.
            let found2 = try issues(["1=x.cow,a.img", "2=y.cow,a.img"], in: dir)
            #expect(found2.isEmpty)
        }
    }

    @Test func missingFileAndDirectory() throws {
        try withFiles { dir in
            let missing = try issues(["1=nope.img"], in: dir)
            #expect(missing.count == 1)
            #expect(missing.first?.line.contains("does not exist") == true)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("d"), withIntermediateDirectories: false)
            let found3 = try issues(["1=d"], in: dir)
            #expect(found3.first?.line.contains("is a directory") == true)
            let found4 = try issues(["1=new.cow,nope.img"], in: dir)
            #expect(found4.first?.line.contains("neither") == true)
            let found5 = try issues(["1=new.cow,a.img:r"], in: dir)
            #expect(found5.first?.line.contains("r flag forbids creating") == true)
        }
    }

    @Test func sameFileTwiceWithAWriterIsRefused() throws {
        try withFiles { dir in
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("alias.img").path, withDestinationPath: "a.img")
            let twice = try issues(["1=a.img", "2=alias.img:r"], in: dir)
            #expect(twice.count == 1)
            #expect(twice.first?.line.contains("used twice") == true)
            let found6 = try issues(["1=a.img:r", "2=alias.img:r"], in: dir)
            #expect(found6.isEmpty)
            // A file used as a writable disk and as another disk's backing.
            let found7 = try issues(["1=a.img", "2=c.cow,a.img"], in: dir)
            #expect(found7.contains { $0.line.contains("used twice") })
        }
    }

    @Test func lockHeldByAnotherProcessIsReported() throws {
        try withFiles { dir in
            let lockFile = dir.appendingPathComponent("a.img").path
            // A helper process takes the kernel's kind of lock (fcntl write lock) and holds it.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            // It holds the lock until its stdin closes.
            holder.arguments = ["-c", "import fcntl,sys; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()", lockFile]
            let out = Pipe(), input = Pipe()
            holder.standardOutput = out
            holder.standardInput = input
            try holder.run()
            defer { try? input.fileHandleForWriting.close(); holder.waitUntilExit() }
            _ = out.fileHandleForReading.availableData  // "locked"
            let found = try issues(["1=a.img"], in: dir)
            // Whoever reports it (DiskCheck or the launcher's own F_GETLK), the line names the holder.
            #expect(found.contains { $0.severity == .failure && $0.line.contains("\(holder.processIdentifier)") }, "\(found)")
            // The c flag tells the kernel not to lock, so corral does not check either.
            let found8 = try issues(["1=a.img:c"], in: dir)
            #expect(found8.isEmpty)
        }
    }
}
