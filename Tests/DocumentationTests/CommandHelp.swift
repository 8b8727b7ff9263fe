/// What swift-argument-parser's `--help` text says about one command: the
/// options it accepts and the subcommands it lists.
///
/// The help is the source of truth for the documentation tests because it is
/// generated from the same declarations the parser uses: an option that
/// parses but is missing here would be hidden (`.hidden`, or a command with
/// `shouldDisplay: false`), and hidden things are exempt from documentation.
struct CommandHelp: Sendable, Equatable {
    /// Every `--long` and `-x` name in the OPTIONS section, in order.
    var options: [String]
    /// The names in the SUBCOMMANDS section, in order.
    var subcommands: [String]

    init(parsing text: String) {
        var options: [String] = []
        var subcommands: [String] = []
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first.isUppercase, let colon = line.firstIndex(of: ":") {
                // "OPTIONS:", "SUBCOMMANDS:", "USAGE: corral …"
                section = String(line[..<colon])
                continue
            }
            // Entries are indented by exactly two spaces; descriptions that
            // wrap are indented further and never start a new entry.
            guard line.hasPrefix("  "), let start = line.dropFirst(2).first, start != " " else { continue }
            let entry = line.dropFirst(2)
            switch section {
            case "OPTIONS" where start == "-":
                for name in Self.optionNames(in: Self.nameColumn(of: entry)) where !options.contains(name) {
                    options.append(name)
                }
            case "SUBCOMMANDS" where start.isLowercase || start == "_":
                let name = entry.prefix { !$0.isWhitespace }
                subcommands.append(String(name))
            default:
                break
            }
        }
        self.options = options
        self.subcommands = subcommands
    }

    /// The part of an entry before the gap that starts its description:
    /// "-h, --help" of "-h, --help              Show help information.".
    static func nameColumn(of entry: Substring) -> Substring {
        guard let gap = entry.firstRange(of: "  ") else { return entry }
        return entry[..<gap.lowerBound]
    }

    /// "--backing", "-h", … in a name column such as "-h, --help" or
    /// "--disk <SPEC>"; value placeholders in <> are not names.
    static func optionNames(in column: Substring) -> [String] {
        column.split(whereSeparator: { $0 == " " || $0 == "," })
            .filter { $0.hasPrefix("-") && $0.count > 1 && !$0.hasPrefix("<") }
            .map { word in String(word.prefix { $0.isLetter || $0.isNumber || $0 == "-" }) }
            .filter { $0 != "-" && $0 != "--" }
    }
}
