import ArgumentParser
import COWEngine

/// `corral cow normalize`
struct COWNormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Make every 4 KiB page wholly COW or wholly backing (works around the 6.1 mixed-page read bug).",
        discussion: """
            Copies the backing's sectors of each mixed page into the COW, then sets their bits \
            (data, fsync, bits, fsync). The guest's view does not change. Refuses a COW that a \
            running UML holds or names on its command line. Interrupted, re-running finishes the job.
            """)

    @OptionGroup var backingOptions: BackingOptions
    @Flag(help: "Accept a truncated COW (data past its end): its lost sectors stay zeros.") var force = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The COW file (modified in place).", completion: .file()) var cow: String

    func run() throws {
        let r = try Normalize.run(cow: cow, backing: try backingOptions.checked(), force: force, progress: ProgressDisplay.handler(label: "normalize"))
        for n in r.notes { Console.note("\(n)") }
        if format.isJSON { return try Console.json(NormalizeJSON(r)) }
        Console.out(r.mixedPages == 0
            ? "\(cow): no mixed pages"
            : "\(cow): normalized \(r.mixedPages) mixed page(s), \(r.sectorsCopied) sector(s) copied from the backing")
    }
}
