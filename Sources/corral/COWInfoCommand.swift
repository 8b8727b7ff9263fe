import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

/// `corral cow info`
struct COWInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a COW file's header, geometry, dirty data and backing status.")

    @OptionGroup var format: JSONOutputOptions
    @OptionGroup var backingOptions: BackingOptions
    @Argument(help: "The COW file.", completion: .file()) var cow: String

    func run() throws {
        let backing = try backingOptions.checked()
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
