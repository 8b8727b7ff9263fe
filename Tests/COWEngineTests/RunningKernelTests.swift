import Foundation
import Testing
import TestSupport
@testable import COWEngine

/// A 6.1 UML opens (and locks) a ubd file only while its guest has the
/// device open, so a kernel that names a COW on its command line but has
/// not used it yet holds no lock. commit, normalize and rebase must still
/// refuse: the kernel may open the disk at any moment and would read a
/// bitmap or backing changing under it.
@Suite(.serialized) struct RunningKernelTests {
    @Test(.enabled(if: KernelUnderTest.enabled())) func verbsRefuseFilesARunningKernelNamesWithoutALock() throws {
        try KernelUnderTest.require()
        let t = try Scratch("safe-named")
        let size = 1 << 20
        try Fixture.write(Fixture.pattern(size: size), to: t("base.img"))
        try Fixture.write(Fixture.pattern(size: size), to: t("base2.img"))
        // Sector 2 alone makes page 0 mixed, so normalize has work to do.
        try Fixture.makeCOW(t("t.cow"), backing: t("base.img"), size: UInt64(size), sectors: [2: 0x41, 9: 0x42])
        try Fixture.write(Fixture.pattern(size: size, tag: "raw"), to: t("raw.img"))
        for sub in ["l", "g", "u", "w"] { try FileManager.default.createDirectory(atPath: t(sub), withIntermediateDirectories: false) }
        try Fixture.makeCOW(t("g/other.cow"), backing: t("base.img"), size: UInt64(size), sectors: [5: 0x45])
        try Fixture.makeCOW(t("u/u.cow"), backing: t("base.img"), size: UInt64(size), sectors: [7: 0x47])
        // w.cow sits on raw.img, which the kernel has as a writable disk of its own.
        try Fixture.makeCOW(t("w/w.cow"), backing: t("raw.img"), size: UInt64(size), sectors: [3: 0x48])
        // The kernel names t.cow through a symlink, relative to its own cwd,
        // and base.img only through another symlink, as g/other.cow's backing.
        try FileManager.default.createSymbolicLink(atPath: t("l/link.cow"), withDestinationPath: t("t.cow"))
        try FileManager.default.createSymbolicLink(atPath: t("base-link.img"), withDestinationPath: "base.img")
        let files = ["t.cow", "base.img", "u/u.cow", "base2.img", "w/w.cow", "raw.img"]
        func hashes() throws -> [String] { try files.map { try sha256(t($0)) } }
        let before = try hashes()

        // The guest never touches ubdb or ubdc: no lock is ever held on them after boot.
        let uml = try KernelGuest(GuestInit("""
            touch \(t("ready"))
            n=0; while [ ! -e \(t("done")) ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
            """), in: t.path, disks: ["ubd1=l/link.cow", "ubd2r=g/other.cow,base-link.img", "ubd3=\(t("raw.img"))"], memory: "128M", launcher: KernelGuest.timeout(120), cwd: t.path)
        var halted = false
        func halt() {
            guard !halted else { return }
            halted = true
            _ = FileManager.default.createFile(atPath: t("done"), contents: nil)
            uml.waitUntilExit()
        }
        defer { halt() }
        var waited = 0
        while !FileManager.default.fileExists(atPath: t("ready")) && waited < 600 {
            usleep(100_000)
            waited += 1
        }
        try #require(FileManager.default.fileExists(atPath: t("ready")), "the guest never started")
        // The premise: nothing holds a lock on either file.
        #expect(try COWInfo.read(path: t("t.cow")).inUseBy == nil)

        let refused: [(String, [String])] = [
            ("commit", ["cow", "commit", t("t.cow")]),
            ("normalize", ["cow", "normalize", t("t.cow")]),
            ("rebase", ["cow", "rebase", "--backing", t("base2.img"), t("t.cow")]),
            ("forced commit", ["cow", "commit", "--force", t("t.cow")]),
            ("commit, backing named", ["cow", "commit", t("u/u.cow")]),
            ("normalize, backing a writable disk", ["cow", "normalize", t("w/w.cow")]),
            ("rebase, backing a writable disk", ["cow", "rebase", "--backing", t("base2.img"), t("w/w.cow")]),
        ]
        // The kernel is named, not the `timeout` that started it (whose argv has the ubd arguments too).
        let kernelPID = RunningKernels.naming([t("t.cow")])?.pid
        let kernelArgv0 = kernelPID.flatMap { try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8) }?
            .split(separator: "\0").first.map(String.init) ?? ""
        #expect(kernelArgv0 == KernelUnderTest.path, "named process \(String(describing: kernelPID)): \(kernelArgv0)")
        for (what, args) in refused {
            let r = try runCorral(args)
            #expect(r.status != 0, "\(what): \(r.summary)")
            #expect(r.stderr.contains("named on the command line of running UML kernel process")
                    && r.stderr.contains("stop that guest first"), "\(what): \(r.stderr)")
        }
        #expect(try hashes() == before, "a refused verb changed a file")
        // A backing the kernel only reads (another guest's base) does not
        // block normalize, which only reads it too.
        let shared = try runCorral(["cow", "normalize", t("u/u.cow")])
        #expect(shared.status == 0 && shared.stdout.contains("normalized 1 mixed page"), "\(shared.summary)")

        halt()
        #expect(RunningKernels.naming([t("t.cow"), t("base.img")]) == nil)
        let normalize = try runCorral(["cow", "normalize", t("t.cow")])
        #expect(normalize.status == 0, "\(normalize.summary)")
        let rebase = try runCorral(["cow", "rebase", "--backing", t("base2.img"), t("t.cow")])
        #expect(rebase.status == 0, "\(rebase.summary)")
        let commit = try runCorral(["cow", "commit", t("t.cow")])
        #expect(commit.status == 0, "\(commit.summary)")
    }

    /// A holder's parent comes from /proc/PID/stat (ProcessStatTests pins
    /// the parse); a process that is gone is named by nothing rather than
    /// failing the message.
    @Test func aHoldersParentIsReadPastItsCommandName() {
        #expect(ProcessName.parent(of: getpid()) == getppid())
        #expect(ProcessName.describe(Int32.max) == "")
        // The test process is not a kernel: its own name, and no owner.
        #expect(ProcessName.corralOwner(of: getpid()) == nil)
    }

    /// The parser splits ubd arguments as the kernel does and skips the rest.
    @Test func ubdArgumentsAreSplitAsTheKernelDoes() {
        let argv = ["linux.uml", "mem=64M", "ubd0=root.img", "ubd1r=a.cow,b.img", "ubdbc=/x/c.cow:/y/d.img:serial",
                    "ubd=mmap", "ubd2=", "init=/bin/sh"]
        let named = RunningKernels.ubdFiles(in: argv)
        #expect(named.map(\.name) == ["root.img", "a.cow", "b.img", "/x/c.cow", "/y/d.img"])
        #expect(named.map(\.writable) == [true, false, false, true, false])
        #expect(RunningKernels.ubdFiles(in: ["x", "ubd12r=a", "ubd12=b"]).map(\.writable) == [false, true])
        #expect(RunningKernels.ubdFiles(in: ["ubd0=skipped-argv0"]).isEmpty)
    }
}
