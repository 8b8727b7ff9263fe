import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

/// `corral cow create`
struct COWCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an empty v3 COW file over BACKING, exactly as the kernel would.")

    @Flag(help: "Replace an existing COW with an empty one (its old data is discarded).")
    var force = false
    @Flag(name: .customLong("no-fingerprint"), help: "Do not record the backing's fingerprint (skips reading its data once).")
    var noFingerprint = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The new COW file.", completion: .file()) var cow: String
    @Argument(help: "The backing file (read-only from now on).", completion: .file()) var backing: String
    @OptionGroup var blockDevice: BlockDeviceOption

    func validate() throws {
        // A COW `corral boot --disk N=COW` could not attach is no use: the
        // kernel's ubd option splits on ',' and ':' and its command line on
        // whitespace, wherever they are in the path it is given.
        let absolute = PathResolution.absolute(cow)
        if let bad = absolute.first(where: { $0 == ":" || $0 == "," || $0.isWhitespace }) {
            throw ValidationError("'\(cow)': a path with \(bad == " " ? "a space" : "'\(bad)'") cannot be given to the kernel, so corral boot could not attach this COW; choose a name (and directory) without ',', ':' or spaces")
        }
    }

    func run() throws {
        try blockDevice.check(backing)
        LeftoverNotes.sweep(output: cow)
        let r: Create.Result
        do {
            r = try Create.run(cow: cow, backing: backing, force: force, fingerprint: !noFingerprint)
        } catch .backingMissing(let missing, _) {
            // The engine's hint is for a COW whose backing moved; this COW does not exist yet.
            if let existing = try? FileStatus.of(cow), existing.isRegular, !COWFile.hasMagic(path: cow) {
                // `create base.img new.cow`: the image first, the new COW second.
                throw CLIError(
                    message: "\(missing) does not exist, and \(cow) is an existing image, not a COW: the arguments look swapped",
                    hint: "the new COW comes first: corral cow create \(Shell.quote(backing)) \(Shell.quote(cow))")
            }
            throw CLIError(message: "\(missing): backing file does not exist; a COW can only be made over an existing file")
        }
        for w in r.warnings { Console.warning("\(w)") }
        if format.isJSON { return try Console.json(WrittenJSON(r)) }
        Console.out("created \(r.path): \(Console.bytes(r.size)) disk over \(r.backingFile) (data at \(r.dataOffset))")
    }
}
