import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

/// `corral cow commit`
struct COWCommitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit",
        abstract: "Merge a COW into its backing file in place, writing only the COW's sectors.",
        discussion: """
            Every other COW on the same backing becomes invalid (the backing's content and mtime \
            change). corral looks for such files next to the COW and the backing and refuses \
            unless --force. Interrupted, re-running the same command finishes the job.
            """)

    @OptionGroup var backingOptions: BackingOptions
    @Flag(help: "Invalidate other COW files on the backing; accept a size/mtime mismatch.") var force = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        let r = try Commit.run(cow: cow, backing: try backingOptions.checked(), force: force,
                               progress: ProgressDisplay.handler(label: "commit"))
        if format.isJSON { return try Console.json(WrittenJSON(r, input: ("cow", cow))) }
        Console.out("committed \(r.sectors) sectors (\(Console.bytes(r.bytes))) from \(cow) into \(r.backing)\(r.resumed ? " (resumed an interrupted commit)" : "")")
        if !r.invalidated.isEmpty {
            Console.warning("these COW files no longer match \(r.backing): \(r.invalidated.joined(separator: ", "))")
        }
        Console.note("\(cow) is now stale (the backing's mtime changed); its disk is fully in \(r.backing)")
    }
}
