import Testing

/// The help parser on fixed text, so a change in how it reads the help
/// shows up here rather than as a silently smaller coverage test.
@Suite struct HelpParsingTests {
    static let sample = """
        OVERVIEW: Point a COW at another backing file of the same size.

        USAGE: corral cow rebase --backing <backing> [--unsafe] <cow>

        ARGUMENTS:
          <cow>                   The COW file (modified in place).

        OPTIONS:
          --backing <backing>     The new backing file.
          --no-fingerprint        Do not record the new backing's fingerprint (skips
                                  reading its data once --like --this).
          --a-very-long-option-name-that-wraps <value>
                                  Described on the next line.
          --version               Show the version.
          -h, --help              Show help information.

        SUBCOMMANDS:
          create                  Create an empty v3 COW file.
          from-image              Make a new v3 COW.

          See 'corral help cow <subcommand>' for detailed help.
        """

    @Test func readsOptionNamesNotDescriptions() {
        let help = CommandHelp(parsing: Self.sample)
        #expect(help.options == [
            "--backing", "--no-fingerprint", "--a-very-long-option-name-that-wraps", "--version", "-h", "--help",
        ])
    }

    @Test func readsSubcommandsButNotTheFooter() {
        #expect(CommandHelp(parsing: Self.sample).subcommands == ["create", "from-image"])
    }

    @Test func manPageTextIgnoresMarkup() {
        let page = ManPage(name: "x.1", source: ".TP\n.B \\-\\-no\\-fingerprint\n\\fB\\-\\-force\\fR and \\fI\\-h\\fP\n")
        #expect(page.mentions("--no-fingerprint"))
        #expect(page.mentions("--force"))
        #expect(page.mentions("-h"))
        #expect(!page.mentions("--no"))
        #expect(!page.mentions("--forc"))
    }
}
