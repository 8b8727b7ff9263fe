import ArgumentParser
import Launcher

/// `--disk N=FILE[,BACKING][:r]` (repeatable) with `--allow-block-device`:
/// the disks `maint run` and `maint shell` attach. Each command checks the
/// specs in its own `validate()` (``GuestOptionsCheck/disks(_:)``), in the
/// order of its other checks.
struct GuestDisksOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A disk: N=FILE[,BACKING][:r]. Repeatable.", valueName: "SPEC"), completion: CompletionValues.disk)
    var disk: [String] = []
    @OptionGroup var blockDevice: BlockDeviceOption

    /// The parsed disks, a block-device backing refused unless
    /// `--allow-block-device` was given.
    func specs() throws -> [DiskSpec] {
        let disks: [DiskSpec]
        do { disks = try disk.map { try DiskSpec(parsing: $0) } } catch { throw ValidationError("\(error)") }
        try blockDevice.check(disks.map(\.backing))
        return disks
    }
}
