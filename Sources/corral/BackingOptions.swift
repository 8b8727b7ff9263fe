import ArgumentParser

/// `--backing PATH` with `--allow-block-device`: the backing a user names
/// in place of the one the COW header names (check, info, map, flatten,
/// commit, normalize). One group, so that every verb that takes the
/// override also applies the block-device rule to it (corral-cow(1),
/// BACKING FILES) before it opens anything.
struct BackingOptions: ParsableArguments {
    @Option(help: "Backing file to use instead of the header's path.", completion: .file())
    var backing: String?
    @OptionGroup var blockDevice: BlockDeviceOption

    /// The backing the user named (nil: the header's), refused when it is a
    /// block device and `--allow-block-device` was not given.
    func checked() throws -> String? {
        try blockDevice.check(backing)
        return backing
    }
}
