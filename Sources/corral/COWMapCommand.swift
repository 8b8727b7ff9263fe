import ArgumentParser
import COWEngine

struct COWMap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Show where each part of a COW disk comes from: cow, backing or zero (like qemu-img map).",
        discussion: "`zero` marks ranges that are holes in the file that would supply them. Lengths add up to the disk size.")

    @OptionGroup var format: JSONOutputOptions
    @Option(help: "Backing file to use instead of the header's path.", completion: .file()) var backing: String?
    @OptionGroup var blockDevice: BlockDeviceOption
    @Flag(help: "Accept a backing whose size or mtime differs from the header, or a truncated COW.") var force = false
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        try blockDevice.check(backing)
        if format.isJSON {
            var first = true
            Console.write(1, "[")
            try DiskMap.run(cow: cow, backing: backing, force: force) { x in
                Console.write(1, (first ? "\n" : ",\n")
                    + "  { \"start\": \(x.offset), \"length\": \(x.length), \"source\": \"\(x.source.rawValue)\" }")
                first = false
            }
            Console.out(first ? "]" : "\n]")
        } else {
            Console.out(pad("offset", 20) + pad("length", 20) + "source")
            try DiskMap.run(cow: cow, backing: backing, force: force) { x in
                Console.out(pad("0x" + String(x.offset, radix: 16), 20) + pad("0x" + String(x.length, radix: 16), 20) + x.source.rawValue)
            }
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
