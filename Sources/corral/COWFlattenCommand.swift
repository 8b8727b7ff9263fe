import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

/// `corral cow flatten`
struct COWFlattenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flatten",
        abstract: "Merge a COW and its backing into a new sparse image of exactly the disk's size.")

    @OptionGroup var backingOptions: BackingOptions
    @Flag(help: "Replace OUTPUT if it exists; accept a backing whose size or mtime differs from the header; flatten a COW a running guest holds.")
    var force = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The COW file.", completion: .file()) var cow: String
    @Argument(help: "The new image.", completion: .file()) var output: String

    func run() throws {
        let backing = try backingOptions.checked()
        LeftoverNotes.sweep(output: output)
        let r = try Flatten.run(cow: cow, output: output, backing: backing, force: force,
                                progress: ProgressDisplay.handler(label: "flatten"))
        for w in r.warnings { Console.warning("\(w)") }
        if format.isJSON { return try Console.json(WrittenJSON(r, input: ("cow", cow))) }
        Console.out("flattened \(cow) into \(r.output): \(r.size) bytes, \(Console.bytes(r.cowBytes)) from the COW, \(Console.bytes(r.allocatedBytes)) allocated\(r.cloned ? " (backing reflinked)" : "")")
    }
}
