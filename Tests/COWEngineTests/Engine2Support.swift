import Foundation
import Testing
import COWEngine
import COWFormat

/// Helpers for the engine-part-2 tests (normalize, from-image, compare,
/// map, rebase, fingerprint). Data is generated in fresh temp dirs under
/// /tmp, which the UML guest reaches at the same path (hostfs root "/").
enum E2 {
    static let kernel = "/usr/bin/linux.uml"
    static let hasKernel = FileManager.default.isExecutableFile(atPath: kernel)
    /// CI sets CORRAL_REQUIRE_UML=1: a missing kernel then fails kernel tests.
    static let requireKernel = ProcessInfo.processInfo.environment["CORRAL_REQUIRE_UML"] == "1"
    static var kernelTests: Bool { hasKernel || requireKernel }
    static let mtime: Int64 = 1_704_067_200

    /// The built `corral` executable next to the test bundle's build products.
    static let corral: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/corral").path
    }()

    final class TempDir {
        let path: String
        init() {
            var template = Array("/tmp/corral-e2-XXXXXX".utf8CString)
            path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func callAsFunction(_ name: String) -> String { path + "/" + name }
        /// Names in the directory (to prove no partial output was left).
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    }

    /// Sector i is "tag:%012d:" repeated, cut to 512 bytes; the file is cut to `size`.
    static func pattern(size: Int, tag: String = "back") -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size)
        var i = 0
        while out.count < size {
            let line = Array("\(tag):\(String(repeating: "0", count: max(0, 12 - String(i).count)))\(i):".utf8)
            var sector: [UInt8] = []
            while sector.count < 512 { sector += line }
            out += sector.prefix(min(512, size - out.count))
            i += 1
        }
        return out
    }

    static func write(_ bytes: [UInt8], to path: String, mtime: Int64? = E2.mtime) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        if let mtime { try setMtime(path, mtime) }
    }

    static func setMtime(_ path: String, _ t: Int64) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: TimeInterval(t))], ofItemAtPath: path)
    }

    static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func sha(_ path: String) throws -> String {
        let r = try run(["/usr/bin/sha256sum", path])
        return String(r.out.prefix(64))
    }

    /// Patches bytes into a file in place (keeps its mtime unless told).
    static func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try h.seek(toOffset: offset)
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    struct Run { var status: Int32; var out: String; var err: String }

    @discardableResult
    static func run(_ argv: [String], env: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: r, as: UTF8.self))
    }

    /// Runs the corral binary. `swift test` does not rebuild executables:
    /// run `swift build` first (make check does).
    static func corral(_ args: String...) throws -> Run {
        try #require(FileManager.default.isExecutableFile(atPath: corral), "\(corral) missing: run swift build first")
        return try run([corral] + args)
    }

    /// Ends a lock holder from ``holdLock(_:)``.
    static func release(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Holds a POSIX (fcntl) write lock on `path` from another process, as a
    /// running UML does, until ``release(_:)``.
    static func holdLock(_ path: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import fcntl,time,sys; f=open(sys.argv[1],'r+b'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked',flush=True); time.sleep(60)", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        _ = out.fileHandleForReading.availableData  // blocks until "locked"
        return p
    }

    /// Boots the UML kernel with `script` as the guest's work, the disks as
    /// `ubd` arguments (e.g. "ubd1=x.cow"), and returns the console log.
    /// The guest helpers `W CHAR|zero SECTOR COUNT` (O_DIRECT sector
    /// writes to /dev/ubdb) are defined.
    @discardableResult
    static func boot(_ dir: TempDir, _ script: String, ubd: [String]) throws -> String {
        let p = try startBoot(dir, script, ubd: ubd)
        let out = (p.standardOutput as? Pipe)?.fileHandleForReading.readDataToEndOfFile() ?? Data()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self)
    }

    /// Starts a boot like ``boot(_:_:ubd:)`` without waiting; the console
    /// (stdout and stderr) is on the process's `standardOutput` pipe.
    static func startBoot(_ dir: TempDir, _ script: String, ubd: [String]) throws -> Process {
        let initPath = dir("init.sh")
        let text = """
            #!/bin/sh
            export PATH=/usr/sbin:/usr/bin:/sbin:/bin
            mount -t proc proc /proc
            W() { if [ "$1" = zero ]; then head -c $((512*$3)) /dev/zero; else head -c $((512*$3)) /dev/zero | tr '\\0' "$1"; fi | dd of=/dev/ubdb bs=512 seek=$2 count=$3 oflag=direct conv=notrunc 2>/dev/null; }
            \(script)
            sync
            echo o > /proc/sysrq-trigger
            sleep 10

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: initPath))
        chmod(initPath, 0o755)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["120", kernel, "mem=128M", "rootfstype=hostfs", "rootflags=/", "rw",
                       "init=\(initPath)"] + ubd + ["con=null", "con0=null,fd:1"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// An independent merge (spec §3.5) of a v3 COW with 512-byte sectors:
    /// bit i set → the COW's data, else the backing's. Whole files in memory (tests only).
    static func referenceMerge(cow: String, backing: String) throws -> [UInt8] {
        let c = try read(cow)
        let b = try read(backing)
        func be32(_ o: Int) -> Int { Int(c[o]) << 24 | Int(c[o + 1]) << 16 | Int(c[o + 2]) << 8 | Int(c[o + 3]) }
        let size = (0..<8).reduce(0) { $0 << 8 | Int(c[12 + $1]) }
        let align = be32(24)
        let sectors = (size + 511) / 512
        let bitmapOffset = (4128 + align - 1) / align * align
        let dataOffset = (bitmapOffset + (sectors + 7) / 8 + align - 1) / align * align
        var out = b
        for s in 0..<sectors where c[bitmapOffset + s / 8] >> (s % 8) & 1 == 1 {
            for k in (s * 512)..<min(s * 512 + 512, size) {
                let at = dataOffset + k
                out[k] = at < c.count ? c[at] : 0
            }
        }
        return out
    }

    /// Sets bit `sector` and stores `data` (≤ 512 bytes) for it in a v3 COW,
    /// as the kernel would after a single-sector write.
    static func writeSector(cow: String, sector: Int, data: [UInt8]) throws {
        let file = try COWFile(path: cow)
        let g = file.geometry
        try patch(cow, at: g.dataOffset + UInt64(sector) * 512, data)
        var byte = [UInt8](repeating: 0, count: 1)
        _ = try file.file.read(into: &byte, at: g.bitmapOffset + UInt64(sector / 8))
        try patch(cow, at: g.bitmapOffset + UInt64(sector / 8), [byte[0] | UInt8(1 << (sector % 8))])
    }
}
