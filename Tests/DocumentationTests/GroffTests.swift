import Testing
import TestSupport

/// Every page formats without a single groff warning (`-ww` turns all of
/// them on; `-z` discards the output), which catches unknown macros,
/// unbalanced fonts and bad escapes before a reader does.
@Suite struct GroffTests {
    static let groff = TestEnvironment.which("groff")

    @Test(.enabled(if: GroffTests.groff != nil, "groff is not installed (make deps installs it)"))
    func everyPageFormatsWithoutWarnings() throws {
        let groff = try #require(Self.groff)
        let pages = try PackagePaths.manPages()
        #expect(Set(pages).isSuperset(of: ["corral.1", "corral-cow.1", "corral-boot.1", "hostfs-init.8"]), "pages: \(pages)")
        for page in pages {
            let result = try runProcess(groff, ["-ww", "-z", "-man", "\(PackagePaths.manDirectory)/\(page)"])
            #expect(result.status == 0 && result.stderr.isEmpty, "groff -ww -z -man \(page): \(result.summary)")
        }
    }

    /// Each page's .TH names the page itself, in the section its file
    /// name says, so `man corral-cow` shows the right header, and carries
    /// the version `corral --version` prints (bump them together).
    @Test func titleLineMatchesFileNameAndVersion() throws {
        let version = try runProcess(TestPaths.corral, ["--version"])
        let number = try #require(version.stdout.split(separator: " ").dropFirst().first, "\(version.summary)")
        for name in try PackagePaths.manPages() {
            let page = try ManPage.load(name)
            let th = try #require(page.text.split(separator: "\n").first { $0.hasPrefix(".TH ") }, "\(name) has no .TH")
            let words = th.split(separator: " ")
            let parts = name.split(separator: ".")
            #expect(words.count >= 3 && words[1] == parts[0].uppercased() && words[2] == parts[1], "\(name): \(th)")
            #expect(th.contains("\"corral \(number)\""), "\(name): \(th) does not say corral \(number)")
        }
    }
}
