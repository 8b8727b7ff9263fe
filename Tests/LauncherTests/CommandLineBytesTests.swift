import COWEngine
import Foundation
import Testing
import TestSupport
@testable import Launcher

/// Which bytes the real kernel splits its command line on, against what
/// corral lets onto it (attack 5 of issue 13: a disk named with a 0xA0 byte
/// became a second, attacker-chosen kernel argument).
@Suite(.serialized, .enabled(if: KernelUnderTest.enabled(), "needs linux.uml"))
struct CommandLineBytesTests {
    /// Boots linux.uml with `cbN=x<byte N>y` for each byte and reads back
    /// init's environment: a byte is safe when the kernel hands the value
    /// over as `x<byte>y`, unsplit and unchanged.
    static func kernelKeepsIntact(_ bytes: [UInt8], in dir: Scratch) throws -> [UInt8: Bool] {
        let kernel = KernelUnderTest.path
        let initScript = dir("init")
        try """
            #!/bin/sh
            mount -t proc proc /proc
            echo ENV-START
            env -0 | od -An -tx1 -v
            echo ENV-END
            echo o > /proc/sysrq-trigger
            sleep 10
            """.write(toFile: initScript, atomically: true, encoding: .utf8)
        chmod(initScript, 0o755)
        // bash's $'\xNN' puts the raw byte into argv, which Swift's String cannot.
        let args = bytes.map { "cb\($0)=x$'\\x\(String($0, radix: 16))'y" }.joined(separator: " ")
        let result = try shellResult("""
            exec timeout 60 bash -c "\(kernel) mem=64M root=/dev/root rootfstype=hostfs rootflags=/ ro \
            init=\(initScript) con=null con0=fd:0,fd:1 ssl=null quiet umid=cb\(bytes[0]) uml_dir=\(dir.path) \(args.replacingOccurrences(of: "$", with: "\\$")) cbend=1"
            """, mergeStderr: true)
        let text = result.stdout.replacingOccurrences(of: "\r", with: "")
        guard let start = text.range(of: "ENV-START\n"), let end = text.range(of: "ENV-END") else {
            throw TestFailure("no environment from the kernel: \(result.stdout.suffix(2000))")
        }
        let hex = text[start.upperBound..<end.lowerBound].split(whereSeparator: { $0 == " " || $0 == "\n" })
        let environ = hex.compactMap { UInt8($0, radix: 16) }
        var found: [UInt8: Bool] = [:]
        for entry in environ.split(separator: 0, omittingEmptySubsequences: false) {
            let text = String(decoding: entry, as: UTF8.self)
            guard text.hasPrefix("cb"), let eq = entry.firstIndex(of: UInt8(ascii: "=")),
                  let byte = UInt8(String(decoding: entry[entry.startIndex + 2..<eq], as: UTF8.self)) else { continue }
            found[byte] = Array(entry[(eq + 1)...]) == [UInt8(ascii: "x"), byte, UInt8(ascii: "y")]
        }
        return found
    }

    /// A string whose UTF-8 holds `byte`, or nil when no valid UTF-8 does
    /// (0xC0, 0xC1, 0xF5-0xFF: a path with them reaches corral repaired as U+FFFD).
    static func string(holding byte: UInt8) -> String? {
        if byte < 0x80 { return "x" + String(UnicodeScalar(byte)) + "y" }
        if byte < 0xC0 { return "x" + String(decoding: [0xC2, byte], as: UTF8.self) + "y" }
        if byte < 0xC2 || byte > 0xF4 { return nil }
        let tail: [UInt8] = byte < 0xE0 ? [0x80] : byte < 0xF0 ? [0xA0, 0x80] : [0x90, 0x80, 0x80]
        let s = String(decoding: [byte] + tail, as: UTF8.self)
        return s.utf8.contains(byte) ? "x" + s + "y" : nil
    }

    @Test func everyByteCorralAllowsTheKernelKeepsWhole() throws {
        try KernelUnderTest.require()
        let dir = try Scratch("cb")
        var intact: [UInt8: Bool] = [:]
        // At most 32 environment entries reach init: batches of 24. '"'
        // opens a quote that swallows what follows, so it goes alone, last.
        let all = (1...255).map(UInt8.init).filter { $0 != 0x22 }
        for start in stride(from: 0, to: all.count, by: 24) {
            let batch = Array(all[start..<min(start + 24, all.count)])
            intact.merge(try Self.kernelKeepsIntact(batch, in: dir)) { $1 }
        }
        intact.merge(try Self.kernelKeepsIntact([0x22], in: dir)) { $1 }
        #expect(intact.count == 255, "every byte reported: \(intact.count)")
        // The kernel's isspace: 0x09-0x0D, 0x20 and the Latin-1 0xA0.
        for byte in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x22] as [UInt8] {
            #expect(intact[byte] == false, "byte 0x\(String(byte, radix: 16)) kept whole by the kernel")
        }
        for byte in (0...255).map(UInt8.init) {
            guard let text = Self.string(holding: byte) else { continue }
            let allowed = KernelCommandLine.unsafeReason(text) == nil
            if allowed {
                #expect(intact[byte] == true, "corral allows byte 0x\(String(byte, radix: 16)), which the kernel splits or alters")
            }
            if byte >= 0x80 || byte < 0x20 || byte == 0x7f {
                #expect(!allowed, "byte 0x\(String(byte, radix: 16)) must be refused")
            }
        }
    }

    /// The attack: a disk file named `b<U+00A0>rootflags=DIR` (UTF-8 C2 A0)
    /// would become `ubd0=…b\xC2` and `rootflags=DIR`. corral refuses it
    /// before any kernel runs, saying what to do.
    @Test func diskNameWithNoBreakSpaceIsRefused() throws {
        try KernelUnderTest.require()
        let dir = try Scratch("cb")
        let name = dir("b\u{A0}rootflags=\(dir.path)/evil")
        try FileManager.default.createDirectory(atPath: PathResolution.split(name).directory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: name, contents: Data(count: 1 << 20)))
        let r = try runCorral(["boot", "--dry-run", "--disk", "0=\(name)"])
        #expect(r.status != 0, "accepted: \(r.stdout)")
        #expect(r.stderr.contains("above 0x7F"), "\(r.stderr)")
        #expect(!r.stdout.contains("rootflags=\(dir.path)/evil"))
    }
}
