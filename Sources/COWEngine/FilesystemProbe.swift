/// The ext2/3/4 block size of the disk a guest would see, read from the
/// superblock through the COW's bitmap (sector 2 from the COW or the backing).
///
/// Why it matters: the 6.1 kernel misreads any read segment that mixes COW
/// and backing sectors (spec §4.7). With 4 KiB blocks a filesystem reads
/// whole, aligned pages, so normalizing mixed pages is enough. With 1 or
/// 2 KiB blocks a 4 KiB page-cache segment can start at any block and cross
/// a page boundary where COW data meets backing data, so even a normalized
/// COW is misread; such a guest has to be given a flat image instead.
public enum FilesystemProbe {
    /// The superblock is 1024 bytes into the disk.
    static let superblockOffset: UInt64 = 1024

    /// nil when the disk holds no ext superblock (or it cannot be read).
    public static func extBlockSize(_ path: String, backing: String? = nil) -> UInt32? {
        guard let disk = try? GuestSectors(path: path, backing: backing) else { return nil }
        return extBlockSize(disk)
    }

    /// The same through sectors a caller already has open (``OpenedDisk``).
    public static func extBlockSize(_ disk: GuestSectors) -> UInt32? {
        guard let sector = disk.sector(superblockOffset / GuestSectors.sectorSize) else { return nil }
        // s_magic at superblock offset 56 (0xEF53, little-endian); s_log_block_size at 24.
        guard sector[56] == 0x53, sector[57] == 0xEF else { return nil }
        let log = UInt32(sector[24]) | UInt32(sector[25]) << 8 | UInt32(sector[26]) << 16 | UInt32(sector[27]) << 24
        guard log <= 6 else { return nil }
        return 1024 << log
    }
}
