import ArgumentParser
import COWEngine
import Foundation
import CorralSystem

/// `corral cow`: the COW engine verbs, one file each (COW<Verb>Command).
struct COWCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cow",
        abstract: "Inspect, check, create and merge UML COW disk files (v1, v2, v3, broken v3).",
        subcommands: [
            COWCreateCommand.self, COWInfoCommand.self, COWCheckCommand.self, COWFlattenCommand.self, COWCommitCommand.self,
            COWNormalizeCommand.self, COWFromImageCommand.self, COWCompareCommand.self, COWMapCommand.self, COWRebaseCommand.self,
        ])
}
