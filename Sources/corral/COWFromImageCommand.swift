import ArgumentParser
import COWEngine

/// `corral cow from-image`
struct COWFromImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "from-image",
        abstract: "Make a new v3 COW over BACKING that holds only what differs in IMAGE (the reverse of flatten).",
        discussion: "Differing 4 KiB pages are stored whole, so the COW has no mixed pages. IMAGE and BACKING must be the same size.")

    @Option(help: "The backing file the new COW sits on.", completion: .file()) var backing: String
    @OptionGroup var blockDevice: BlockDeviceOption
    @Flag(help: "Replace COW if it exists.") var force = false
    @Flag(name: .customLong("no-fingerprint"), help: "Do not record the backing's fingerprint (skips reading its data once).")
    var noFingerprint = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The full disk image.", completion: .file()) var image: String
    @Argument(help: "The new COW file.", completion: .file()) var cow: String

    func run() throws {
        try blockDevice.check(backing)
        LeftoverNotes.sweep(output: cow)
        let r: FromImage.Result
        do {
            r = try FromImage.run(image: image, backing: backing, output: cow, force: force,
                                  fingerprint: !noFingerprint, progress: ProgressDisplay.handler(label: "from-image"))
        } catch .backingMissing(let backing, _) {
            // The engine's hint is for a COW whose backing moved; this COW does not exist yet.
            throw CLIError(message: "\(backing): backing file does not exist; a COW can only be made over an existing file")
        }
        if format.isJSON { return try Console.json(WrittenJSON(r, input: ("image", image))) }
        Console.out("created \(r.output) over \(r.backingFile): \(r.pages) page(s) differ (\(Console.bytes(r.sectors * 512))), \(Console.bytes(r.allocatedBytes)) allocated")
    }
}
