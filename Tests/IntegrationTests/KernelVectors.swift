import Foundation
import TestSupport
import Testing

/// One COW test vector written (or read back) by the real kernel.
/// See Tests/Fixtures/make-vectors.sh and cow-format.md section 7.
struct KernelVector: Sendable {
    var name: String
    /// Header layout: "v1", "v2", "v3" or "v3-broken".
    var layout: String
    var alignment: UInt64
    /// The backing size S = the merged image length.
    var size: UInt64
    var cow: String
    var backing: String
    /// The guest's O_DIRECT 4 KiB dump of the whole device (device size = S rounded
    /// up to 512), or nil when the vector is too big to dump (V4).
    var guestView: String?
    /// uml_moo's merge, or nil when skipped.
    var moo: String?
    /// SHA-256 of the correct S-byte merge.
    var expectedSHA256: String
}

/// A byte range of V4's device that the guest dumped with O_DIRECT.
struct GuestRegion: Sendable {
    var offset: UInt64
    var length: UInt64
    var file: String
}

struct VectorSet: Sendable {
    var directory: String
    var vectors: [String: KernelVector]
    var v4Regions: [GuestRegion]

    subscript(name: String) -> KernelVector {
        get throws {
            guard let v = vectors[name] else { throw TestFailure("no vector \(name) in \(directory)/manifest.tsv") }
            return v
        }
    }
}

/// Generates the kernel vectors once per test process and hands them to every test.
///
/// The generator boots linux.uml six times, in two parallel lanes (about 25 s). Set CORRAL_VECTORS_DIR to
/// keep the vectors in a fixed directory and reuse them across runs (it regenerates
/// only when that directory has no manifest.tsv). By default it skips uml_moo on the
/// 5 GiB vector (CORRAL_VECTORS_MOO_V4=1 turns that back on).
actor KernelVectors {
    static let shared = KernelVectors()

    private var generation: Task<VectorSet, any Error>?

    func load() async throws -> VectorSet {
        if let generation { return try await generation.value }
        let task = Task { try await Self.generate() }
        generation = task
        return try await task.value
    }

    private static func generate() async throws -> VectorSet {
        guard Host.hasKernelTools else {
            throw TestFailure("""
                kernel vectors need \(TestEnvironment.kernel), uml_moo, python3 and e2fsprogs \
                (CORRAL_REQUIRE_UML=1 is set, so this is a failure, not a skip)
                """)
        }
        let fm = FileManager.default
        let dir: String
        if let fixed = TestEnvironment.variables["CORRAL_VECTORS_DIR"], !fixed.isEmpty {
            dir = fixed
            if fm.fileExists(atPath: "\(dir)/manifest.tsv") { return try parse(dir) }
        } else {
            sweepStaleDirectories()
            dir = fm.temporaryDirectory.resolvingSymlinksInPath().path + "/corral-vectors-\(getpid())"
            VectorCleanup.register(dir)
        }
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = TestPaths.fixtures.appendingPathComponent("make-vectors.sh").path
        var environment = TestEnvironment.childEnvironment
        environment["CORRAL_VECTORS_MOO_V4"] = TestEnvironment.variables["CORRAL_VECTORS_MOO_V4"] ?? "0"
        // The kernel under test writes the vectors (6.12 and 7.2 too, in
        // make check's later passes), not always bookworm's.
        environment["CORRAL_UML_KERNEL"] = TestEnvironment.kernel
        let result = try await runProcessAsync("/bin/bash", [script, dir], environment: environment)
        guard result.status == 0 else {
            throw TestFailure("make-vectors.sh \(dir) failed (exit \(result.status)):\n\(result.stderr)")
        }
        return try parse(dir)
    }

    private static func parse(_ dir: String) throws -> VectorSet {
        func rows(_ file: String) throws -> [[String: String]] {
            let text = try String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8)
            let lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
            guard let header = lines.first else { throw TestFailure("\(dir)/\(file) is empty") }
            return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        }
        func number(_ row: [String: String], _ key: String) throws -> UInt64 {
            guard let s = row[key], let n = UInt64(s) else { throw TestFailure("manifest: bad \(key) in \(row)") }
            return n
        }
        var vectors: [String: KernelVector] = [:]
        for row in try rows("manifest.tsv") {
            let name = row["name"] ?? "?"
            let optional = { (key: String) -> String? in
                guard let v = row[key], v != "-", !v.isEmpty else { return nil }
                return v
            }
            vectors[name] = KernelVector(
                name: name, layout: row["layout"] ?? "?",
                alignment: try number(row, "align"), size: try number(row, "size"),
                cow: row["cow"] ?? "", backing: row["backing"] ?? "",
                guestView: optional("guestview"), moo: optional("moo"),
                expectedSHA256: row["expected_sha256"] ?? "")
        }
        let regions = try rows("v4_regions.tsv").map {
            GuestRegion(offset: try number($0, "offset"), length: try number($0, "length"), file: $0["file"] ?? "")
        }
        return VectorSet(directory: dir, vectors: vectors, v4Regions: regions)
    }

    /// Removes vector directories left by test processes that no longer exist.
    private static func sweepStaleDirectories() {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.resolvingSymlinksInPath().path
        for entry in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] where entry.hasPrefix("corral-vectors-") {
            guard let pid = Int32(entry.dropFirst("corral-vectors-".count)) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(atPath: "\(tmp)/\(entry)") }
        }
    }
}

/// Deletes the generated vectors (about 200 MiB real, 11 GiB apparent) at process exit.
enum VectorCleanup {
    nonisolated(unsafe) private static var directory: String?

    static func register(_ dir: String) {
        directory = dir
        atexit { VectorCleanup.removeNow() }
    }

    private static func removeNow() {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}
