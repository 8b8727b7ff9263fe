import Foundation
import Testing
import TestSupport

/// Messages that tell users what to run must name commands that work.
@Suite struct MessageTests {
    /// rebuild-cow's summary recommends `corral cow from-image …` for a
    /// block-related image: that very command, with real files for its
    /// placeholders, must succeed.
    @Test func rebuildCowRecommendsAWorkingFromImageCommand() throws {
        let template = try String(contentsOfFile: TestPaths.packageRoot + "/templates/rebuild-cow.sh", encoding: .utf8)
        // The summary is the template's `note` line.
        let note = try #require(template.split(separator: "\n").first { $0.hasPrefix("note ") })
        let start = try #require(note.range(of: "corral cow from-image "))
        let end = try #require(note[start.upperBound...].range(of: " gives"))
        let words = note[start.upperBound..<end.lowerBound].split(separator: " ").map(String.init)
        #expect(words.contains("BACKING") && words.contains("IMAGE") && words.contains("COW"), "\(words)")
        let s = try Scratch("corral-msg")
        try shell(#"head -c 1048576 /dev/zero > "$1" && cp "$1" "$2" && printf 'changed' | dd of="$2" bs=1 seek=8192 conv=notrunc 2>/dev/null"#,
                  s("base.img"), s("flat.img"))
        let placeholders = ["BACKING": s("base.img"), "IMAGE": s("flat.img"), "COW": s("new.cow")]
        let arguments = ["cow", "from-image"] + words.map { placeholders[$0] ?? $0 }
        let r = try runCorral(arguments)
        #expect(r.status == 0, "corral \(arguments.joined(separator: " ")): \(r.summary)")
        #expect(FileManager.default.fileExists(atPath: s("new.cow")))
    }

    /// A job on a guest file that does not exist says so and does not
    /// suggest making an empty one (the boot preflight's "truncate -s 1G").
    @Test(arguments: [["fsck", "--cow"], ["install-modules", "--modules", "MODULES", "--cow"]])
    func aMissingGuestFileIsNamedWithoutATruncateHint(job: [String]) throws {
        let s = try Scratch("corral-msg")
        let missing = s("missing.cow")
        // A well-formed module tree, so the guest file is the one mistake
        // (the --modules check runs first and would answer for a bad tree).
        try FileManager.default.createDirectory(atPath: s("modules"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: s("modules/modules.order"), contents: Data())
        let r = try runCorral(["maint"] + job.map { $0 == "MODULES" ? s("modules") : $0 } + [missing])
        #expect(r.status != 0, "\(r.summary)")
        #expect(r.stderr.contains("'\(missing)' does not exist"), "\(r.summary)")
        #expect(!r.stderr.contains("truncate"), "\(r.summary)")
        #expect(!FileManager.default.fileExists(atPath: missing))
    }
}
