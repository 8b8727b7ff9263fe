#if canImport(Glibc)
import Glibc
#endif

/// A kernel binary's GNU build id (the `NT_GNU_BUILD_ID` ELF note), in hex:
/// what a seccomp profile is keyed by. It names one build exactly, and
/// survives `patchelf` (scripts/kernels rewrites the interpreter and rpath of
/// the newer kernels, not their notes).
public enum KernelBuildID {
    /// The build id of the ELF file at `path`, or nil when it has none or is
    /// not a 64-bit little-endian ELF file. Reads the program headers and
    /// notes only.
    public static func read(path: String) -> String? {
        scan(path: path).buildID
    }

    /// The ELF interpreter (PT_INTERP) of the file at `path`, nil for a
    /// static binary: the one other file the kernel's exec must be allowed
    /// to open for execution (``Landlock``).
    public static func interpreter(path: String) -> String? {
        scan(path: path).interpreter
    }

    /// The directories in the ELF file's DT_RUNPATH (or DT_RPATH), with
    /// `$ORIGIN` replaced: where its interpreter looks for its libraries
    /// first, so they must exist in the kernel's root (``JailRoot``).
    public static func libraryDirectories(path: String) -> [String] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        func bytes(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard count > 0, count <= 1 << 20 else { return nil }
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? buffer : nil
        }
        guard let header = bytes(0, 64), header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]),
              header[4] == 2, header[5] == 1 else { return [] }
        let phoff = header.le64(32), phentsize = Int(header.le16(54)), phnum = Int(header.le16(56))
        guard phentsize >= 56, phnum <= 256, let table = bytes(phoff, phentsize * phnum) else { return [] }
        let entries = (0..<phnum).map { Array(table[($0 * phentsize)..<(($0 + 1) * phentsize)]) }
        // A virtual address in a PT_LOAD segment → its file offset.
        func fileOffset(_ address: UInt64) -> UInt64? {
            for e in entries where e.le32(0) == 1 /* PT_LOAD */ {
                let vaddr = e.le64(16), offset = e.le64(8), size = e.le64(32)
                if address >= vaddr && address < vaddr + size { return address - vaddr + offset }
            }
            return nil
        }
        guard let dynamic = entries.first(where: { $0.le32(0) == 2 /* PT_DYNAMIC */ }),
              let section = bytes(dynamic.le64(8), Int(dynamic.le64(32))) else { return [] }
        var strtab: UInt64?, runpath: UInt64?, rpath: UInt64?
        for at in stride(from: 0, to: section.count - 15, by: 16) {
            switch section.le64(at) {
            case 5: strtab = section.le64(at + 8)
            case 29: runpath = section.le64(at + 8)
            case 15: rpath = section.le64(at + 8)
            case 0: break
            default: continue
            }
        }
        guard let strtab, let index = runpath ?? rpath, let start = fileOffset(strtab) else { return [] }
        var text = [UInt8](repeating: 0, count: 4096)
        let n = text.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, off_t(start + index)) }
        guard n > 0 else { return [] }
        var origin = path
        if let slash = origin.lastIndex(of: "/") { origin = String(origin[..<slash]) } else { origin = "." }
        return String(decoding: text.prefix(n).prefix { $0 != 0 }, as: UTF8.self).split(separator: ":").map {
            String($0).replacing("${ORIGIN}", with: origin).replacing("$ORIGIN", with: origin)
        }.filter { $0.hasPrefix("/") }
    }

    private static func scan(path: String) -> (buildID: String?, interpreter: String?) {
        var interpreter: String?
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (nil, nil) }
        defer { close(fd) }
        func bytes(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard count > 0, count <= 1 << 20 else { return nil }
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? buffer : nil
        }
        guard let header = bytes(0, 64), header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]),
              header[4] == 2 /* ELFCLASS64 */, header[5] == 1 /* little-endian */ else { return (nil, nil) }
        let phoff = header.le64(32), phentsize = Int(header.le16(54)), phnum = Int(header.le16(56))
        guard phentsize >= 56, phnum <= 256,
              let table = bytes(phoff, phentsize * phnum) else { return (nil, nil) }
        for index in 0..<phnum {
            let entry = Array(table[(index * phentsize)..<((index + 1) * phentsize)])
            if entry.le32(0) == 3 /* PT_INTERP */, let text = bytes(entry.le64(8), Int(entry.le64(32))) {
                interpreter = String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        for index in 0..<phnum {
            let entry = Array(table[(index * phentsize)..<((index + 1) * phentsize)])
            guard entry.le32(0) == 4 /* PT_NOTE */, let notes = bytes(entry.le64(8), Int(entry.le64(32))) else { continue }
            var at = 0
            while at + 12 <= notes.count {
                let nameSize = Int(notes.le32(at)), descSize = Int(notes.le32(at + 4)), type = notes.le32(at + 8)
                let nameStart = at + 12, descStart = nameStart + (nameSize + 3) / 4 * 4
                let end = descStart + (descSize + 3) / 4 * 4
                guard descStart + descSize <= notes.count else { break }
                if type == 3 /* NT_GNU_BUILD_ID */, nameSize == 4, notes[nameStart..<(nameStart + 3)].elementsEqual(Array("GNU".utf8)) {
                    let id = notes[descStart..<(descStart + descSize)].map { byte in
                        let hex = String(byte, radix: 16)
                        return hex.count == 1 ? "0" + hex : hex
                    }.joined()
                    return (id, interpreter)
                }
                at = end
            }
        }
        return (nil, interpreter)
    }
}

private extension Array where Element == UInt8 {
    func le16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func le32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[at + $1]) << (8 * $1) } }
    func le64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[at + $1]) << (8 * $1) } }
}
