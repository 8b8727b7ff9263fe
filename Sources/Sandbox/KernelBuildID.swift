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
        buildID(path: path)
    }

    /// The ELF interpreter (PT_INTERP) of the file at `path`, nil for a
    /// static binary: the one other file the kernel's exec must be allowed
    /// to open for execution (``Landlock``).
    public static func interpreter(path: String) -> String? {
        guard let elf = ELFImage(path: path),
              let segment = elf.segments.first(where: { $0.type == ELFImage.interpreterType }),
              let text = elf.contents(segment) else { return nil }
        return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The directories in the ELF file's DT_RUNPATH (or DT_RPATH), with
    /// `$ORIGIN` replaced: where its interpreter looks for its libraries
    /// first, so they must exist in the kernel's root (``JailRoot``).
    public static func libraryDirectories(path: String) -> [String] {
        guard let elf = ELFImage(path: path),
              let dynamic = elf.segments.first(where: { $0.type == ELFImage.dynamicType }),
              let section = elf.contents(dynamic) else { return [] }
        var strtab: UInt64?, runpath: UInt64?, rpath: UInt64?
        for at in stride(from: 0, to: section.count - 15, by: 16) {
            switch section.le64(at) {
            case 5: strtab = section.le64(at + 8)     // DT_STRTAB
            case 29: runpath = section.le64(at + 8)   // DT_RUNPATH
            case 15: rpath = section.le64(at + 8)     // DT_RPATH
            default: continue
            }
        }
        guard let strtab, let index = runpath ?? rpath, let start = elf.fileOffset(ofAddress: strtab) else { return [] }
        let text = elf.prefix(at: start &+ index, upTo: 4096)
        var origin = path
        if let slash = origin.lastIndex(of: "/") { origin = String(origin[..<slash]) } else { origin = "." }
        return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self).split(separator: ":").map {
            expandingOrigin(String($0), origin)
        }.filter { $0.hasPrefix("/") }
    }

    /// `entry` with every `$ORIGIN` and `${ORIGIN}` replaced by `origin`.
    /// By hand rather than `String.replacing`: that one's first use (the
    /// string-processing library setting itself up) cost the helper about
    /// 4 ms, on the way to the kernel's start.
    static func expandingOrigin(_ entry: String, _ origin: String) -> String {
        var result = ""
        var rest = Substring(entry)
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            let after = rest[dollar...]
            if after.hasPrefix("${ORIGIN}") {
                result += origin
                rest = after.dropFirst(9)
            } else if after.hasPrefix("$ORIGIN") {
                result += origin
                rest = after.dropFirst(7)
            } else {
                result += "$"
                rest = after.dropFirst()
            }
        }
        return result + rest
    }

    /// The payload of the first NT_GNU_BUILD_ID note named "GNU", in hex.
    private static func buildID(path: String) -> String? {
        guard let elf = ELFImage(path: path) else { return nil }
        for segment in elf.segments where segment.type == ELFImage.noteType {
            guard let notes = elf.contents(segment) else { continue }
            var at = 0
            while at + 12 <= notes.count {
                let nameSize = Int(notes.le32(at)), descSize = Int(notes.le32(at + 4)), type = notes.le32(at + 8)
                let nameStart = at + 12, descStart = nameStart + (nameSize + 3) / 4 * 4
                let end = descStart + (descSize + 3) / 4 * 4
                guard descStart + descSize <= notes.count else { break }
                if type == 3 /* NT_GNU_BUILD_ID */, nameSize == 4, notes[nameStart..<(nameStart + 3)].elementsEqual(Array("GNU".utf8)) {
                    return notes[descStart..<(descStart + descSize)].map { byte in
                        let hex = String(byte, radix: 16)
                        return hex.count == 1 ? "0" + hex : hex
                    }.joined()
                }
                at = end
            }
        }
        return nil
    }
}
