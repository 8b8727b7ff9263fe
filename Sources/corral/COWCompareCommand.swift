import ArgumentParser
import COWEngine

/// `corral cow compare`
struct COWCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare what a guest sees on two disks (each a COW or a raw image), like qemu-img compare.",
        discussion: "Exit status: 0 identical, 1 different (the first differing byte is printed), 2 error.")

    @Flag(help: "Accept a COW whose backing's size or mtime differs from its header, or a truncated COW (lost sectors read as zeros).") var force = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "First disk (COW or raw image).", completion: .file()) var a: String
    @Argument(help: "Second disk (COW or raw image).", completion: .file()) var b: String

    func run() throws {
        let r: Compare.Result
        do {
            r = try Compare.run(a, b, force: force, progress: ProgressDisplay.handler(label: "compare"))
        } catch {
            throw CLIError(message: "could not compare: \(error)", hint: error.hint, status: 2)
        }
        if format.isJSON {
            try Console.json(CompareJSON(r))
            if !r.identical { throw ExitCode(1) }
            return
        }
        switch r.outcome {
        case .identical:
            Console.out("identical (\(r.size) bytes)")
        case .sizesDiffer(let x, let y):
            Console.out("different: sizes differ (\(a) is \(x) bytes, \(b) is \(y) bytes)")
            throw ExitCode(1)
        case .contentDiffers(let at):
            Console.out("different: first difference at byte \(at) (sector \(at / 512))")
            throw ExitCode(1)
        }
    }
}
