import Foundation
import TestSupport

/// `corral cow info --json` (the fields the tests look at).
struct InfoJSON: Decodable {
    var version: String
    var size: UInt64
    var backingFile: String
    var mtime: Int64
    var sectorSize: UInt64
    var alignment: UInt64
    var bitmapOffset: UInt64
    var bitmapLength: UInt64
    var dataOffset: UInt64
    var dirtySectors: UInt64
    var dirtyBytes: UInt64
    var backing: Backing

    struct Backing: Decodable {
        var path: String
        var exists: Bool
        var actualSize: UInt64?
        var actualMtime: Int64?
        var matches: Bool
    }
}

/// `corral cow check --json`.
struct CheckJSON: Decodable {
    var path: String
    var findings: [Finding]

    struct Finding: Decodable {
        var code: String
        var severity: String
        var message: String
        var fix: String?
    }

    func finding(_ code: String) -> Finding? { findings.first { $0.code == code } }
    var problems: [Finding] { findings.filter { $0.severity == "problem" } }
}

func decodeJSON<T: Decodable>(_ type: T.Type, from result: ProcessResult) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    } catch {
        throw TestFailure("cannot decode \(T.self) from corral output (\(error)); \(result.summary)")
    }
}

func corralInfo(_ cow: String) async throws -> InfoJSON {
    let r = try await runCorralAsync(["cow", "info", "--json", cow])
    guard r.status == 0 else { throw TestFailure("corral cow info failed: \(r.summary)") }
    return try decodeJSON(InfoJSON.self, from: r)
}

func corralCheck(_ cow: String, backing: String? = nil) async throws -> (ProcessResult, CheckJSON) {
    let r = try await runCorralAsync(["cow", "check", "--json"] + (backing.map { ["--backing", $0] } ?? []) + [cow])
    return (r, try decodeJSON(CheckJSON.self, from: r))
}
