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
        #expect(keys == ["offset", "length", "source"])
        let section = try #require(try ManPage.load("corral-cow.1").subsection("map"))
        for key in keys {
            let found = ManPage.contains(word: key, in: section)
            #expect(found, "corral-cow.1 map section does not name the key \(key)")
        }
    }
}
