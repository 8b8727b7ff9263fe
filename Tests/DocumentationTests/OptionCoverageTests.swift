import Testing

/// Every option and command the CLI shows is in the right man page, so the
/// pages cannot fall behind the code unnoticed.
@Suite struct OptionCoverageTests {
    /// Walking the help finds the commands we know exist, and no hidden one;
    /// otherwise the coverage test below could pass by finding nothing.
    @Test func helpWalkFindsTheCommands() throws {
        let names = try CLI.allCommands().map(\.displayName)
        for expected in ["corral", "corral cow", "corral cow create", "corral cow rebase", "corral boot"] {
            #expect(names.contains(expected), "\(expected) not found by walking --help; found \(names)")
        }
        #expect(!names.contains { $0.contains("_kernel-exec") })
        #expect(names.count >= 13)
    }

    /// Options of the root (`--version`, `-h`, `--help`) are accepted
    /// everywhere and documented once, in corral(1). Every other option is
    /// documented in its command's page and, when that page has a
    /// subsection for the verb (`.SS create …`), in that subsection or in a
    /// section of options the verbs share (`.SH JOB OPTIONS`).
    @Test func everyOptionIsDocumentedInItsPage() throws {
        let commands = try CLI.allCommands()
        let root = try #require(commands.first { $0.path.isEmpty })
        let global = Set(root.help.options)
        #expect(global.contains("--version") && global.contains("--help"), "root options: \(root.help.options)")

        let overview = try ManPage.load("corral.1")
        for option in global {
            let documented = overview.mentions(option)
            #expect(documented, "corral.1 does not document the global option \(option)")
        }

        var checked = 0
        for command in commands where !command.path.isEmpty {
            let page = try ManPage.load(command.manPage)
            let verbSection = command.path.count > 1 ? page.subsection(command.path.last!) : nil
            for option in command.help.options where !global.contains(option) {
                checked += 1
                let inPage = page.mentions(option)
                #expect(inPage, "\(command.manPage) does not mention \(option) of \(command.displayName)")
                if let verbSection {
                    let inSection = ManPage.contains(word: option, in: verbSection)
                        || ManPage.contains(word: option, in: page.sections(titled: "OPTIONS"))
                    #expect(inSection, "\(command.manPage): section \(command.path.last!) does not document \(option) of \(command.displayName)")
                }
            }
        }
        #expect(checked >= 30, "only \(checked) options found in the help; is the parser still reading it?")
    }

    /// Every command is named in its page (its synopsis), and every verb has
    /// its own subsection when the page uses them.
    @Test func everyCommandIsInItsPage() throws {
        for command in try CLI.allCommands() where !command.path.isEmpty {
            let page = try ManPage.load(command.manPage)
            let named = page.text.contains(command.displayName)
            #expect(named, "\(command.manPage) never says \(command.displayName)")
        }
        let cow = try ManPage.load("corral-cow.1")
        for verb in try CLI.help(["cow"]).subcommands {
            let hasSection = cow.subsection(verb) != nil
            #expect(hasSection, "corral-cow.1 has no .SS \(verb) section")
        }
    }

    /// Each command's page is also listed in corral(1)'s SEE ALSO.
    @Test func overviewPointsToEveryPage() throws {
        let overview = try ManPage.load("corral.1")
        for name in try PackagePaths.manPages() where name != "corral.1" {
            let parts = name.split(separator: ".")
            let reference = "\(parts[0]) (\(parts[1]))"
            let referred = overview.text.contains(".BR \(parts[0]) (\(parts[1]))")
            #expect(referred, "corral.1 does not refer to \(reference)")
        }
    }
}
