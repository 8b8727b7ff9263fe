import Foundation
import TestSupport
import Testing

/// The bash completion corral generates, driven as bash drives it: the
/// script is sourced, COMP_WORDS set as for a half-typed command line, and
/// `_corral` fills COMPREPLY.
@Suite struct CompletionTests {
    /// COMPREPLY for `line` (the cursor at its end), run in `directory`.
    func complete(_ line: String, in directory: String) throws -> [String] {
        let script = try runProcess(TestPaths.corral, ["--generate-completion-script", "bash"])
        try #require(script.status == 0, "\(script.summary)")
        let file = "\(directory)/corral.bash"
        try script.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let driver = #"""
            source "$1"
            read -ra COMP_WORDS <<< "$2"
            [[ "$2" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
            COMP_WORDS[0]="$3"
            _corral "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\n' "${COMPREPLY[@]}"
            """#
        let r = try runProcess("/bin/bash", ["-c", driver, "bash", file, line, TestPaths.corral], cwd: directory)
        try #require(r.status == 0, "\(r.summary)")
        return r.stdout.split(separator: "\n").map(String.init).sorted()
    }

    @Test func filesDisksValuesAndTemplates() throws {
        let dir = try Scratch("corral-complete")
        for name in ["guest.cow", "base.img"] {
            _ = FileManager.default.createFile(atPath: dir.file(name), contents: Data())
        }
        #expect(try complete("corral cow flatten gu", in: dir.path).contains("guest.cow"))
        #expect(try complete("corral boot --disk ", in: dir.path).contains("1="))
        #expect(try complete("corral boot --disk 1=ba", in: dir.path) == ["1=base.img"])
        #expect(try complete("corral boot --sandbox ", in: dir.path) == ["enforce", "off"])
        #expect(try complete("corral boot --raid6 ", in: dir.path) == ["auto", "off", "on"])
        #expect(try complete("corral cow info --output ", in: dir.path) == ["human", "json"])
        let templates = try complete("corral maint show ", in: dir.path)
        #expect(templates.contains("fsck") && templates.contains("install-modules"), "\(templates)")
        #expect(try complete("corral maint job fs", in: dir.path) == ["fsck"])
    }
}
