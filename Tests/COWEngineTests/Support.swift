import Foundation
import Testing
@testable import COWEngine
@testable import COWFormat

/// A scratch directory removed at the end of a test.
final class Scratch {
    let path: String

    init() {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        path = "\(base)/corral-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Names of the files in the directory (hidden ones included).
    var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

enum Fixture {
    static let mtime: Int64 = 1_704_067_200

    /// Spec §7 backing pattern: sector i is "back:%012d:" repeated, cut to 512 bytes.
    static func pattern(size: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size)
        var i = 0
        while out.count < size {
            let unit = Array(String(format: "back:%012d:", i).utf8)
            var sector: [UInt8] = []
            while sector.count < 512 { sector += unit }
            out += sector.prefix(min(512, size - out.count))
            i += 1
        }
        return out
    }

    static func write(_ bytes: [UInt8], to path: String, mtime: Int64? = Fixture.mtime) {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        if let mtime { setMtime(path, mtime) }
    }

    static func setMtime(_ path: String, _ t: Int64) {
        var times = [timespec(tv_sec: Int(t), tv_nsec: 0), timespec(tv_sec: Int(t), tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
    }

    static func read(_ path: String) -> [UInt8] {
        (FileManager.default.contents(atPath: path)).map { [UInt8]($0) } ?? []
    }

    /// Writes a COW of `layout` over `backing` with the given sectors set to
    /// the given byte value, independently of the engine's writer paths.
    static func makeCOW(
        _ path: String, backing: String, size: UInt64, layout: COWLayout = .v3, alignment: UInt32 = 4096,
        sectors: [UInt64: UInt8], mtime: UInt32 = UInt32(Fixture.mtime)
    ) throws {
        let header = COWHeader(layout: layout, mtime: mtime, size: size, sectorSize: 512,
                               alignment: alignment, backingPath: Array(backing.utf8))
        let g = try COWGeometry(header: header)
        var bytes = try header.encode()
        bytes += [UInt8](repeating: 0, count: Int(g.dataOffset) - bytes.count)
        let full = Int(g.createdFileLength)
        bytes += [UInt8](repeating: 0, count: full - bytes.count)
        for (s, value) in sectors {
            let j = Int(g.bitmapOffset) + Int(s / 8)
            bytes[j] |= 1 << (s % 8)
            let at = Int(g.dataOffset) + Int(s) * 512
            if bytes.count < at + 512 { bytes += [UInt8](repeating: 0, count: at + 512 - bytes.count) }
            for k in 0..<512 { bytes[at + k] = value }
        }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// The merge contract of spec §3.5, written plainly.
    static func referenceMerge(backing: [UInt8], size: Int, sectors: [UInt64: UInt8]) -> [UInt8] {
        var out = Array(backing.prefix(size))
        out += [UInt8](repeating: 0, count: size - out.count)
        for (s, value) in sectors {
            let lo = Int(s) * 512
            guard lo < size else { continue }
            for k in lo..<min(lo + 512, size) { out[k] = value }
        }
        return out
    }
}

/// Runs the built `corral` binary (make check builds it before testing).
enum Corral {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var binary: String { packageRoot + "/.build/debug/corral" }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ args: [String], cwd: String? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}

var isRoot: Bool { getuid() == 0 }
