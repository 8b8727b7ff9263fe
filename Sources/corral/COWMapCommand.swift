import ArgumentParser
import COWEngine

/// `corral cow map`
struct COWMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Show where each part of a COW disk comes from: cow, backing or zero (like qemu-img map).",
        discussion: "`zero` marks ranges that are holes in the file that would supply them. Lengths add up to the disk size.")

    @OptionGroup var format: JSONOutputOptions
    @OptionGroup var backingOptions: BackingOptions
    @Flag(help: "Accept a backing whose size or mtime differs from the header, or a truncated COW.") var force = false
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    /// The table header (or JSON's "[") is written with the first extent,
    /// which comes only after the COW, its backing and their checks have
    /// passed: a refused file prints nothing on stdout, only the error.
    func run() throws {
        let backing = try backingOptions.checked()
        var started = false
        if format.isJSON {
            try DiskMap.run(cow: cow, backing: backing, force: force) { x in
                Console.write(1, (started ? ",\n" : "[\n")
                    + "  { \"start\": \(x.offset), \"length\": \(x.length), \"source\": \"\(x.source.rawValue)\" }")
                started = true
            }
            Console.out(started ? "\n]" : "[]")
        } else {
            let header = pad("offset", 20) + pad("length", 20) + "source"
            try DiskMap.run(cow: cow, backing: backing, force: force) { x in
                if !started { Console.out(header) }
                started = true
                Console.out(pad("0x" + String(x.offset, radix: 16), 20) + pad("0x" + String(x.length, radix: 16), 20) + x.source.rawValue)
            }
            if !started { Console.out(header) }
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
