import COWFormat

/// Where each part of a COW disk comes from, like `qemu-img map`:
/// extents in order whose lengths add up to the disk size, each `cow`,
/// `backing`, or `zero` (the file that would supply it has a hole there, or
/// ends before it). Adjacent extents with the same source are merged, so
/// the list is as short as the sources allow.
public enum DiskMap {
    /// Streams the merged extents to `body`; memory stays constant.
    public static func run(cow path: String, backing: String? = nil, force: Bool = false,
                           _ body: (Extent) throws(EngineError) -> Void) throws(EngineError) {
        guard COWFile.hasMagic(path: path) else {
            _ = try COWFile(path: path)  // throws the precise format error
            throw .notACOW(path: path)
        }
        let disk = try VirtualDisk(path: path, backing: backing, force: force)
        var stream = try disk.extents()
        var open: Extent?
        while let x = try stream.next() {
            if var o = open, o.source == x.source, o.end == x.offset {
                o.length += x.length
                open = o
                continue
            }
            if let o = open { try body(o) }
            open = x
        }
        if let o = open { try body(o) }
    }

    /// The whole map as an array (for tests and small disks).
    public static func extents(cow path: String, backing: String? = nil, force: Bool = false) throws(EngineError) -> [Extent] {
        var all: [Extent] = []
        try run(cow: path, backing: backing, force: force) { all.append($0) }
        return all
    }
}
