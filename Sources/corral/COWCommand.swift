import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

struct COWCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cow",
        abstract: "Inspect, check, create and merge UML COW disk files (v1, v2, v3, broken v3).",
        subcommands: [
            COWCreate.self, COWInfoCommand.self, COWCheck.self, COWFlatten.self, COWCommit.self,
            COWNormalize.self, COWFromImage.self, COWCompare.self, COWMap.self, COWRebase.self,
        ])
}

struct COWCreate: ParsableCommand {
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
        if format.isJSON { return try Console.json(CreateJSON(r)) }
        Console.out("created \(r.path): \(Console.bytes(r.size)) disk over \(r.backingFile) (data at \(r.dataOffset))")
    }
}

struct COWInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a COW file's header, geometry, dirty data and backing status.")

    @OptionGroup var format: JSONOutputOptions
    @Option(help: "Backing file to compare against instead of the header's path.", completion: .file()) var backing: String?
    @OptionGroup var blockDevice: BlockDeviceOption
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        try blockDevice.check(backing)
        let info = try COWInfo.read(path: cow, backing: backing)
        if format.isJSON { return try Console.json(info) }
        let b = info.backing
        var lines = [
            "file:          \(info.path) (\(Console.bytes(info.fileLength)), \(Console.bytes(info.allocatedBytes)) allocated)",
            "version:       \(info.version) (header \(info.headerLength) bytes)",
            "backing file:  \(info.backingFile)\(backing.map { " (checking \($0))" } ?? "")",
            "size:          \(info.size) bytes (\(Console.bytes(info.size)), \(info.sectorCount) sectors)",
            "mtime:         \(info.mtime) (\(Self.date(Int64(info.mtime))))",
            "sector size:   \(info.sectorSize)",
            "alignment:     \(info.alignment)",
            "bitmap:        offset \(info.bitmapOffset), \(info.bitmapLength) bytes",
            "data offset:   \(info.dataOffset)",
            "dirty:         \(info.dirtySectors) sectors, \(info.dirtyBytes) bytes (\(Console.bytes(info.dirtyBytes)))",
            "mixed pages:   \(info.mixedPages)",
        ]
        if !b.exists {
            lines.append("backing:       MISSING (\(b.path))")
        } else {
            let size = b.sizeMatches ? "size ok" : "SIZE MISMATCH (actual \(b.actualSize ?? 0))"
            let mtime = b.mtimeMatches ? "mtime ok" : "MTIME MISMATCH (actual \(b.actualMtime ?? 0))"
            lines.append("backing:       \(b.matches ? "matches" : "does not match"): \(size), \(mtime)")
        }
        if let pid = info.inUseBy { lines.append("in use:        by process \(pid)") }
        lines.forEach(Console.out)
    }

    static func date(_ t: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }
}

struct COWCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Find every reason the kernel would refuse or misread a COW disk.",
        discussion: "Exit status: 0 healthy (warnings allowed), 1 problems found, 2 could not check (qemu-img check says 0, 2 and 1 for these; see corral-cow(1)).")

    @Option(help: "Backing file to use instead of the header's path.", completion: .file()) var backing: String?
    @OptionGroup var blockDevice: BlockDeviceOption
    @OptionGroup var format: JSONOutputOptions
    @Flag(help: "Also verify the backing's content against the fingerprint corral recorded (reads its data).")
    var deep = false
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        try blockDevice.check(backing)
        LeftoverNotes.sweep(directory: PathResolution.split(cow).directory)
        let report: CheckReport
        do {
            report = try DiskCheck.check(path: cow, backing: backing, requireWritable: false, expectCOW: true, deep: deep)
        } catch {
            throw CLIError(message: "could not check: \(error)", hint: error.hint, status: 2)
        }
        if format.isJSON {
            try Console.json(report)
        } else if report.findings.isEmpty {
            Console.out("\(cow): ok (backing \(report.backingFile ?? "-") matches)")
        } else {
            for f in report.findings {
                var line = "\(cow): \(f.severity.rawValue): \(f.message) [\(f.code)]"
                if let hint = f.hint { line += "\n    fix: \(hint)" }
                Console.out(line)
            }
        }
        if report.hasProblems { throw ExitCode(1) }
    }
}

struct COWFlatten: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flatten",
        abstract: "Merge a COW and its backing into a new sparse image of exactly the disk's size.")

    @Option(help: "Backing file to use instead of the header's path.", completion: .file()) var backing: String?
    @OptionGroup var blockDevice: BlockDeviceOption
    @Flag(help: "Replace OUTPUT if it exists; accept a backing whose size or mtime differs from the header; flatten a COW a running guest holds.")
    var force = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The COW file.", completion: .file()) var cow: String
    @Argument(help: "The new image.", completion: .file()) var output: String

    func run() throws {
        try blockDevice.check(backing)
        LeftoverNotes.sweep(output: output)
        let r = try Flatten.run(cow: cow, output: output, backing: backing, force: force,
                                progress: ProgressDisplay.handler(label: "flatten"))
        for w in r.warnings { Console.warning("\(w)") }
        if format.isJSON { return try Console.json(FlattenJSON(cow: cow, r)) }
        Console.out("flattened \(cow) into \(r.output): \(r.size) bytes, \(Console.bytes(r.cowBytes)) from the COW, \(Console.bytes(r.allocatedBytes)) allocated\(r.cloned ? " (backing reflinked)" : "")")
    }
}

struct COWCommit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit",
        abstract: "Merge a COW into its backing file in place, writing only the COW's sectors.",
        discussion: """
            Every other COW on the same backing becomes invalid (the backing's content and mtime \
            change). corral looks for such files next to the COW and the backing and refuses \
            unless --force. Interrupted, re-running the same command finishes the job.
            """)

    @Option(help: "Backing file to write instead of the header's path.", completion: .file()) var backing: String?
    @OptionGroup var blockDevice: BlockDeviceOption
    @Flag(help: "Invalidate other COW files on the backing; accept a size/mtime mismatch.") var force = false
    @OptionGroup var format: JSONOutputOptions
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        try blockDevice.check(backing)
        let r = try Commit.run(cow: cow, backing: backing, force: force,
                               progress: ProgressDisplay.handler(label: "commit"))
        if format.isJSON { return try Console.json(CommitJSON(cow: cow, r)) }
        Console.out("committed \(r.sectors) sectors (\(Console.bytes(r.bytes))) from \(cow) into \(r.backing)\(r.resumed ? " (resumed an interrupted commit)" : "")")
        if !r.invalidated.isEmpty {
            Console.warning("these COW files no longer match \(r.backing): \(r.invalidated.joined(separator: ", "))")
        }
        Console.note("\(cow) is now stale (the backing's mtime changed); its disk is fully in \(r.backing)")
    }
}
