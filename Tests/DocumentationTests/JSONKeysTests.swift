import Foundation
import TestSupport
import Testing

/// The JSON that `corral cow info --json`, `check --json` and `map --json`
/// print is an interface: every key they emit is described in corral-cow(1)'s
/// JSON OUTPUT section (or, for map, with the verb).
@Suite struct JSONKeysTests {
    /// Every key of every object in `value`, nested ones included.
    static func keys(of value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set(object.keys)) { $0.formUnion(keys(of: $1.value)) }
        }
        if let array = value as? [Any] {
            return array.reduce(into: Set<String>()) { $0.formUnion(keys(of: $1)) }
        }
        return []
    }

    /// A COW over a 1 MiB backing in a fresh directory, and the JSON of `verb`.
    func json(_ verb: String) throws -> Any {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corral-json-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: "\(dir)/base.img"))
        let created = try runProcess(TestPaths.corral, ["cow", "create", "\(dir)/g.cow", "\(dir)/base.img"])
        try #require(created.status == 0, "\(created.summary)")
        let r = try runProcess(TestPaths.corral, ["cow", verb, "--json", "\(dir)/g.cow"])
        try #require(r.status == 0, "\(r.summary)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }

    @Test(arguments: ["info", "check"])
    func everyKeyIsDocumented(verb: String) throws {
        let keys = Self.keys(of: try json(verb))
        #expect(keys.count >= 3, "\(verb): \(keys)")
        let documented = try ManPage.load("corral-cow.1").sections(titled: "JSON")
        for key in keys.sorted() {
            let found = documented.contains(".B \(key)\n") || documented.contains(".BR \(key) ")
            #expect(found, "corral-cow.1 JSON OUTPUT does not describe the key \(key) of cow \(verb) --json")
        }
    }

    @Test func mapKeysAreDocumentedWithTheVerb() throws {
        let keys = Self.keys(of: try json("map"))
        #expect(keys == ["start", "length", "source"])
        let section = try #require(try ManPage.load("corral-cow.1").subsection("map"))
        for key in keys {
            let found = ManPage.contains(word: key, in: section)
            #expect(found, "corral-cow.1 map section does not name the key \(key)")
        }
    }
}

/// `--json` (and `--output=json`) on every cow verb: one JSON document on
/// stdout, every key described in corral-cow(1), and `changed` on every verb
/// that may write a file.
@Suite struct EveryVerbJSONTests {
    /// Runs the verbs in order on fresh files; returns verb → parsed JSON.
    func results(spelling: [String]) throws -> [String: [String: Any]] {
        let dir = try Scratch("corral-json")
        let base = dir.file("base.img"), image = dir.file("image.img")
        try Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: base))
        var changed = try Data(contentsOf: URL(fileURLWithPath: base))
        changed.replaceSubrange(8192..<8200, with: Data("modified".utf8))
        try changed.write(to: URL(fileURLWithPath: image))
        _ = try runProcess("/bin/cp", ["-p", base, dir.file("base2.img")])
        let steps: [(String, [String])] = [
            ("create", ["create", dir.file("empty.cow"), base]),
            ("from-image", ["from-image", "--backing", base, image, dir.file("g.cow")]),
            ("flatten", ["flatten", dir.file("g.cow"), dir.file("flat.img")]),
            ("compare", ["compare", image, dir.file("flat.img")]),
            ("normalize", ["normalize", dir.file("g.cow")]),
            ("info", ["info", dir.file("g.cow")]),
            ("check", ["check", dir.file("g.cow")]),
            ("rebase", ["rebase", "--backing", dir.file("base2.img"), dir.file("g.cow")]),
            ("commit", ["commit", dir.file("g.cow")]),
        ]
        var out: [String: [String: Any]] = [:]
        for (verb, arguments) in steps {
            let r = try runProcess(TestPaths.corral, ["cow"] + arguments.prefix(1) + spelling + arguments.dropFirst())
            try #require(r.status == 0, "\(verb): \(r.summary)")
            let parsed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
            out[verb] = try #require(parsed as? [String: Any], "\(verb) printed no JSON object: \(r.stdout)")
        }
        return out
    }

    @Test(arguments: [["--json"], ["--output=json"], ["--output", "json"]])
    func everyVerbPrintsDocumentedJSON(spelling: [String]) throws {
        let page = try ManPage.load("corral-cow.1").sections(titled: "JSON")
        for (verb, object) in try results(spelling: spelling) {
            for key in JSONKeysTests.keys(of: object).sorted() {
                #expect(ManPage.contains(word: key, in: page), "corral-cow.1 JSON OUTPUT does not describe \(key) of cow \(verb) --json")
            }
            if ["create", "from-image", "flatten", "normalize", "rebase", "commit"].contains(verb) {
                #expect(object["changed"] is Bool, "cow \(verb) --json has no changed: \(object)")
            }
        }
    }

    @Test func changedSaysWhetherAFileWasWritten() throws {
        let r = try results(spelling: ["--json"])
        #expect(r["flatten"]?["changed"] as? Bool == true)
        #expect(r["commit"]?["changed"] as? Bool == true)
        // from-image stores whole pages: nothing is mixed, normalize writes nothing.
        #expect(r["normalize"]?["changed"] as? Bool == false)
        #expect(r["compare"]?["identical"] as? Bool == true)
    }
}
