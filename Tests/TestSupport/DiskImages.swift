import Foundation

/// The disks tests give a guest or a job: ext4 images made with mkfs.ext4
/// from a tree, the real Debian guest (``GuestImage``), and COWs over them;
/// and what debugfs/dumpe2fs say of an image afterwards.
public enum DiskImage {
    /// A small ext4 image of a tree with the things a filesystem-level copy
    /// can lose: owners, modes, a hard link, a symlink, an xattr (when
    /// setfattr is installed), a sparse-ish big file. Returns the image path.
    public static func make(in scratch: Scratch, name: String = "base.img", size: String = "16M",
                            blockSize: Int? = nil, bigBytes: Int = 300_000) throws -> String {
        let tree = scratch("tree-\(name)")
        try shell("""
            set -e
            mkdir -p "$1/d/sub" "$1/empty"
            echo hello > "$1/d/a.txt"
            head -c \(bigBytes) /dev/urandom > "$1/big"
            ln "$1/d/a.txt" "$1/hard"
            ln -s d/a.txt "$1/link"
            printf 'x' > "$1/d/sub/one"
            chmod 0640 "$1/big"; chmod 4755 "$1/d/sub/one"; chmod 0700 "$1/empty"
            chown 1234:5678 "$1/d/a.txt"; chown 42:43 "$1/d/sub"
            if command -v setfattr >/dev/null; then setfattr -n user.color -v blue "$1/d/a.txt"; fi
            """, tree)
        let image = scratch(name)
        let block = blockSize.map { "-b \($0) " } ?? ""
        try shell("mkfs.ext4 -q -F \(block)-d \"$1\" \"$2\" \(size)", tree, image)
        return image
    }

    /// A COW over `backing` in `scratch`, made by the built corral.
    public static func cow(over backing: String, in scratch: Scratch, name: String = "g.cow") throws -> String {
        let cow = scratch(name)
        let r = try runCorral(["cow", "create", cow, backing])
        guard r.status == 0 else { throw TestFailure("cow create: \(r.summary)") }
        return cow
    }

    /// Everything debugfs shows of a tree that a copy must keep, inode numbers
    /// and timestamps of directories left out: per path, type/mode, owner,
    /// size, link count, xattrs and file contents' hash.
    public static func treeListing(_ image: String, scratch: Scratch) throws -> [String] {
        let dump = scratch("dump-\(UUID().uuidString.prefix(6))")
        try shell(#"mkdir -p "$1" && debugfs -R "rdump / $1" "$2" 2>/dev/null"#, dump, image)
        let paths = try shell(#"cd "$1" && find . -mindepth 1 | sort"#, dump).split(separator: "\n").map { String($0.dropFirst()) }
        var lines: [String] = []
        for path in paths where !path.hasPrefix("/lost+found/") {
            let stat = try shell(#"debugfs -R "stat \"$1\"" "$2" 2>/dev/null | grep -E '^(Inode|User|Links)|^  [a-z]+\.' | sed 's/Inode checksum: 0x[0-9a-f]*//; s/Inode: [0-9]*//; s/Generation.*//; s/Blockcount: [0-9]*//; s/Flags: .*//'"#, path, image)
            let hash = try shell(#"if [ -f "$1$2" ] && [ ! -L "$1$2" ]; then sha256sum < "$1$2" | cut -c1-16; elif [ -L "$1$2" ]; then readlink "$1$2"; fi"#, dump, path)
            lines.append("\(path) \(stat.split(whereSeparator: \.isWhitespace).joined(separator: " ")) \(hash)")
        }
        return lines
    }

    /// The inode number of a path in an image (to check hard links).
    public static func inode(_ image: String, _ path: String) throws -> String {
        try shell(#"debugfs -R "stat \"$1\"" "$2" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p'"#, path, image)
    }

    /// What dumpe2fs says of a filesystem's identity: UUID, label, block
    /// size, inode size and features.
    public static func identity(_ image: String) throws -> [String: String] {
        let text = try shell(#"dumpe2fs -h "$1" 2>/dev/null"#, image)
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            if ["Filesystem UUID", "Filesystem volume name", "Block size", "Inode size", "Filesystem features"].contains(key) {
                fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return fields
    }
}

/// The real Debian guest: bookworm minbase (plus kmod), made by
/// `Tests/Fixtures/make-guest.sh` with debootstrap from the machine's
/// configured Debian mirror, cached under `.build/guest/` (about 35 s the
/// first time, nothing after). Tests never write it: each works on a COW
/// over it (``DiskImage/cow(over:in:name:)``).
public enum GuestImage {
    public static let path = TestPaths.packageRoot + "/.build/guest/bookworm.img"
    /// The module tree of the kernel under test (its full release, from its
    /// banner), as the user-mode-linux package installs it; nil when that
    /// kernel has none there (a test kernel from scripts/kernels).
    public static let modules: String? = {
        guard let r = try? runProcess(TestEnvironment.kernel, ["--version"]), r.status == 0 else { return nil }
        let tree = "/usr/lib/uml/modules/" + r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: tree + "/modules.order") ? tree : nil
    }()

    /// Real-guest tests need root (debootstrap, mkfs -d with owners), the
    /// kernel and debootstrap (``KernelUnderTest``); with CORRAL_REQUIRE_UML=1
    /// (CI) their absence is a failure, not a skip.
    public static let enabled: Bool = KernelUnderTest.enabled(
        tools: ["debootstrap", "mkfs.ext4", "dumpe2fs", "rsync", "dpkg-deb", "depmod"], root: true)

    /// The module tests also need the kernel's own module tree: bookworm's
    /// kernel always has one (user-mode-linux), so with the default kernel
    /// its absence fails them under CORRAL_REQUIRE_UML; another test kernel
    /// without one skips them.
    public static let modulesEnabled: Bool = modules != nil
        || (TestEnvironment.requireUML && TestEnvironment.kernel == "/usr/bin/linux.uml")

    /// Builds the image once per test process (the script itself skips the
    /// work when the image is there).
    public static func ready() throws -> String {
        try built.get()
    }

    /// A COW over the guest image, in `scratch`.
    public static func cow(in scratch: Scratch, name: String = "g.cow") throws -> String {
        try DiskImage.cow(over: try ready(), in: scratch, name: name)
    }

    private static let built: Result<String, TestFailure> = {
        let script = TestPaths.fixtures.appendingPathComponent("make-guest.sh").path
        do {
            let r = try runProcess(script, [path], environment: TestEnvironment.childEnvironment)
            guard r.status == 0 else { return .failure(TestFailure("make-guest.sh failed: \(r.summary)")) }
            return .success(path)
        } catch {
            return .failure(TestFailure("make-guest.sh: \(error)"))
        }
    }()
}
