import ArgumentParser
import COWEngine

/// `--allow-block-device`, on every verb that takes a backing the user
/// names (`--backing`, `cow create`'s BACKING, `--disk N=COW,BACKING`):
/// only regular files are backings unless the user says a block device is
/// meant (corral-cow(1), BACKING FILES).
struct BlockDeviceOption: ParsableArguments {
    @Flag(name: .customLong("allow-block-device"), help: "Accept a block device as the backing file (without it only regular files are).")
    var allowBlockDevice = false

    /// Refuses a block device among `backings` unless the flag was given.
    func check(_ backings: String?...) throws {
        try check(backings)
    }

    func check(_ backings: [String?]) throws {
        for backing in backings {
            try BackingPolicy.requireAllowed(blockDevice: backing, allowed: allowBlockDevice)
        }
    }
}
