import Foundation
import Testing
import TestSupport
@testable import Launcher
import Sandbox

/// The preflight's "is this a UML kernel" check: a shipped kernel is known by
/// its build id without the 9 MiB banner scan, any other by the banner,
/// wherever it falls.
@Suite(.enabled(if: FileManager.default.isReadableFile(atPath: KernelUnderTest.path), "needs linux.uml"))
struct KernelIdentityTests {
    static let banner = Array("User Mode Linux v".utf8)

    /// Every offset of `needle` in `bytes`.
    static func offsets(of needle: [UInt8], in bytes: Data) -> [Int] {
        var found: [Int] = []
        var start = bytes.startIndex
        while let hit = bytes.range(of: Data(needle), in: start..<bytes.endIndex) {
            found.append(hit.lowerBound)
            start = hit.upperBound
        }
        return found
    }

    /// A copy of the kernel under test in `dir`, with `edit` applied.
    func kernelCopy(in dir: URL, named name: String, _ edit: (inout Data) throws -> Void) throws -> String {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: KernelUnderTest.path))
        try edit(&bytes)
        let path = dir.appendingPathComponent(name).path
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Overwrites the banner's first byte everywhere it occurs.
    static func stripBanner(_ bytes: inout Data) throws {
        let hits = offsets(of: banner, in: bytes)
        guard !hits.isEmpty else { throw TestFailure("\(KernelUnderTest.path) has no UML banner") }
        for hit in hits { bytes[hit] = UInt8(ascii: "X") }
    }

    /// Changes one byte of the build id note's descriptor, so no shipped
    /// profile names the copy.
    static func changeBuildID(_ bytes: inout Data) throws {
        guard let id = KernelProfile.select(kernelPath: KernelUnderTest.path).buildID else {
            throw TestFailure("\(KernelUnderTest.path) has no build id")
        }
        let raw = stride(from: 0, to: id.count, by: 2).compactMap { index -> UInt8? in
            let start = id.index(id.startIndex, offsetBy: index)
            return UInt8(id[start..<id.index(start, offsetBy: 2)], radix: 16)
        }
        let hits = offsets(of: raw, in: bytes)
        guard hits.count == 1, let hit = hits.first else { throw TestFailure("build id \(id) found \(hits.count) times") }
        bytes[hit] ^= 0xff
    }

    @Test func aShippedKernelIsKnownByItsBuildIDWithoutTheScan() throws {
        #expect(KernelProfile.select(kernelPath: KernelUnderTest.path).known, "the kernel under test is a shipped one")
        try Scratch.with("corral-kernel-id") { dir in
            let stripped = try kernelCopy(in: dir, named: "linux.uml", Self.stripBanner)
            // The scan alone would refuse it; the build id answers first.
            #expect(!Resources.carriesBanner(stripped))
            #expect(Resources.isUMLKernel(stripped))
        }
    }

    @Test func anUnknownBuildIsKnownByItsBanner() throws {
        try Scratch.with("corral-kernel-id") { dir in
            let unknown = try kernelCopy(in: dir, named: "linux.uml", Self.changeBuildID)
            #expect(!KernelProfile.select(kernelPath: unknown).known)
            #expect(Resources.isUMLKernel(unknown))

            let neither = try kernelCopy(in: dir, named: "other") { bytes in
                try Self.changeBuildID(&bytes)
                try Self.stripBanner(&bytes)
            }
            #expect(!Resources.isUMLKernel(neither))
            #expect(!Resources.isUMLKernel("/bin/true"))
        }
    }

    /// The banner split at every point across the end of a scan window, in a
    /// small ELF-looking file scanned in 4 KiB windows; and the same bytes
    /// without the ELF magic, a short file, a FIFO and a missing file refused.
    @Test func theBannerIsFoundAcrossAWindowsEnd() throws {
        try Scratch.with("corral-kernel-id") { dir in
            let window = 4096
            for split in 0...Self.banner.count {
                var bytes = [UInt8](repeating: 0, count: 3 * window)
                bytes.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
                let at = window - split
                bytes.replaceSubrange(at..<at + Self.banner.count, with: Self.banner)
                let path = dir.appendingPathComponent("split-\(split)").path
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                #expect(Resources.carriesBanner(path, window: window), "banner split \(split) bytes before the window's end")

                bytes[0] = 0
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                #expect(!Resources.carriesBanner(path, window: window), "no ELF magic, split \(split)")
            }
            let short = dir.appendingPathComponent("short").path
            try Data([0x7f, 0x45, 0x4c, 0x46] + Self.banner.prefix(8)).write(to: URL(fileURLWithPath: short))
            #expect(!Resources.carriesBanner(short))
            let fifo = dir.appendingPathComponent("fifo").path
            #expect(mkfifo(fifo, 0o600) == 0)
            #expect(!Resources.carriesBanner(fifo))
            #expect(!Resources.carriesBanner(dir.appendingPathComponent("missing").path))
        }
    }
}
