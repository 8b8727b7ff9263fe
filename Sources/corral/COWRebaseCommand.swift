import ArgumentParser
import COWEngine

/// `corral cow rebase`
struct COWRebaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebase",
        abstract: "Point a COW at another backing file of the same size.",
        discussion: """
            Safe by default: sectors where the old and new backings differ and the COW does not \
            hold them are first copied (from the old backing) into the COW, so the guest's disk \
            does not change. --unsafe rewrites only the header (the fix for a backing copied \
            without its mtime) after proving the contents are equal: by comparing with the old \
            backing if it is readable, else by the recorded fingerprint; --force skips the proof. \
            v1/v2 files keep their layout. Interrupted, re-running finishes the job.
            """)

    @Option(help: "The new backing file.", completion: .file()) var backing: String
    @OptionGroup var blockDevice: BlockDeviceOption
    @Flag(help: "Rewrite only the header; the new backing must hold the same data.") var unsafe = false
    @Flag(help: "Skip the content proof of --unsafe; accept an old backing whose mtime changed, or a truncated COW.") var force = false
    @Flag(name: .customLong("no-fingerprint"), help: "Do not record the new backing's fingerprint (skips reading its data once).")
    var noFingerprint = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The COW file (modified in place).", completion: .file()) var cow: String

    func run() throws {
        try blockDevice.check(backing)
        let r = try Rebase.run(cow: cow, newBacking: backing, unsafe: unsafe, force: force, fingerprint: !noFingerprint,
                               progress: ProgressDisplay.handler(label: "rebase"))
        for w in r.warnings { Console.warning("\(w)") }
        if format.isJSON { return try Console.json(RebaseJSON(r)) }
        let moved = r.unsafe ? "header only, content \(r.verification)"
            : "\(r.pagesCopied) page(s), \(r.sectorsCopied) sector(s) copied from the old backing"
        Console.out("rebased \(cow) from \(r.oldBacking) onto \(r.newBacking) (\(moved))")
    }
}
