/// Whether a guest may run RAID-6 parity code on a disk: it holds an md RAID
/// member, an LVM physical volume, a btrfs file system (RAID5/6 profiles),
/// or a partition table that could hold any of these.
///
/// Why: the UML kernel spends ~0.85 s of every boot benchmarking its RAID-6
/// routines (`raid6_select_algo`). corral skips that unless a disk might
/// need them, because without it the parity functions are never chosen and
/// the guest kernel crashes at the first RAID-6 parity operation. So this
/// errs towards "yes": any of these signatures keeps the benchmark.
public enum RAIDProbe {
    /// What was found, for a verbose line; nil when the disk shows none of
    /// the signatures (or cannot be read: preflight reports that).
    public static func signature(_ path: String, backing: String? = nil) -> String? {
        guard let disk = try? GuestSectors(path: path, backing: backing) else { return nil }
        return signature(disk)
    }

    /// The same through sectors a caller already has open (``OpenedDisk``).
    public static func signature(_ disk: GuestSectors) -> String? {
        if let offset = mdSuperblockOffsets(size: disk.size).first(where: { disk.bytes(at: $0, count: 4) == mdMagic }) {
            return "an md RAID superblock at byte \(offset)"
        }
        for sector in UInt64(0)...3 where disk.bytes(at: sector * 512, count: 8) == Array("LABELONE".utf8) {
            return "an LVM physical volume label"
        }
        // btrfs: the primary superblock at 64 KiB, magic 64 bytes in.
        if disk.bytes(at: 65536 + 64, count: 8) == Array("_BHRfS_M".utf8) {
            return "a btrfs file system"
        }
        if disk.bytes(at: 512, count: 8) == Array("EFI PART".utf8) {
            return "a GPT partition table"
        }
        if disk.bytes(at: 510, count: 2) == [0x55, 0xAA] {
            return "an MBR partition table or boot sector"
        }
        return nil
    }

    /// 0xa92b4efc, stored little-endian.
    static let mdMagic: [UInt8] = [0xfc, 0x4e, 0x2b, 0xa9]

    /// Where md puts its superblock: v1.1 at 0, v1.2 at 4 KiB, v1.0 at least
    /// 8 KiB before the end on a 4 KiB boundary, v0.90 in the last
    /// 64 KiB-aligned 64 KiB.
    static func mdSuperblockOffsets(size: UInt64) -> [UInt64] {
        var offsets: [UInt64] = [0, 4096]
        if size >= 8192 { offsets.append((size - 8192) & ~UInt64(4095)) }
        if size >= 131072 { offsets.append((size & ~UInt64(65535)) - 65536) }
        return offsets
    }
}
