import Foundation
import TestSupport
import Testing

/// `corral cow check` promises stable finding codes; every code the checker
/// can emit is listed in corral-cow(1). The codes are read from the
/// checker's source: each is a `case name = "code"` of `FindingCode`, the
/// only type a finding's code can have.
@Suite struct FindingCodesTests {
    static func codesInSource() throws -> Set<String> {
        let path = "\(TestPaths.packageRoot)/Sources/COWEngine/FindingCode.swift"
        let source = try String(contentsOfFile: path, encoding: .utf8)
        var codes = Set<String>()
        let patterns = [#/case [a-zA-Z]+ = "([a-z0-9-]+)"/#]
        for pattern in patterns {
            for match in source.matches(of: pattern) { codes.insert(String(match.1)) }
        }
        return codes
    }

    @Test func everyFindingCodeIsDocumented() throws {
        let codes = try Self.codesInSource()
        #expect(codes.count >= 20, "found only \(codes.sorted()) in FindingCode.swift; did FindingCode.swift change shape?")
        let page = try ManPage.load("corral-cow.1")
        let check = try #require(page.subsection("check"))
        for code in codes.sorted() {
            let documented = ManPage.contains(word: code, in: check)
            #expect(documented, "corral-cow.1 (check) does not list the finding code \(code)")
        }
    }
}
