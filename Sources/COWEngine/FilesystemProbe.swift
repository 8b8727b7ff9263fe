#if canImport(Glibc)
import Glibc
#endif

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
    static let superblockSector: UInt64 = 2

    /// nil when the disk holds no ext superblock (or it cannot be read).
    public static func extBlockSize(_ path: String, backing: String? = nil) -> UInt32? {
        var sector = [UInt8](repeating: 0, count: 512)
        if COWFile.hasMagic(path: path) {
            guard let cow = try? COWFile(path: path) else { return nil }
            var bitmap = [UInt8](repeating: 0, count: 1)
            guard (try? cow.file.read(into: &bitmap, at: cow.geometry.bitmapOffset)) == 1 else { return nil }
            // Bit k of byte j is sector 8j + k, least significant first (§3.1).
            if bitmap[0] & (1 << UInt8(superblockSector)) != 0 {
                guard (try? cow.file.read(into: &sector, at: cow.geometry.dataOffset + superblockSector * 512)) == 512 else { return nil }
            } else {
                guard let file = try? OpenFile(backing ?? cow.header.backingPathString, flags: O_RDONLY),
                      (try? file.read(into: &sector, at: superblockSector * 512)) == 512 else { return nil }
            }
        } else {
            guard let file = try? OpenFile(path, flags: O_RDONLY),
                  (try? file.read(into: &sector, at: superblockSector * 512)) == 512 else { return nil }
        }
        // s_magic at superblock offset 56 (0xEF53, little-endian); s_log_block_size at 24.
        guard sector[56] == 0x53, sector[57] == 0xEF else { return nil }
        let log = UInt32(sector[24]) | UInt32(sector[25]) << 8 | UInt32(sector[26]) << 16 | UInt32(sector[27]) << 24
        guard log <= 6 else { return nil }
        return 1024 << log
    }
}
