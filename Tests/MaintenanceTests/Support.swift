import Foundation
import Testing
import TestSupport

extension Trait where Self == ConditionTrait {
    /// The kernel, corral and the tools a job's guest and its checks use
    /// (``KernelUnderTest``).
    static var bootsKernel: Self {
        .enabled(if: KernelUnderTest.enabled(tools: ["mkfs.ext4", "debugfs", "rsync", "e2fsck", "depmod"]),
                 "needs linux.uml, e2fsprogs, rsync and kmod (CORRAL_REQUIRE_UML=1 makes this a failure)")
    }
}

/// Runs a shell script that must succeed, with the sbin directories on PATH;
/// returns its stdout without the trailing newline.
@discardableResult
func shell(_ script: String, _ args: String...) throws -> String {
    let r = try runProcess("/bin/sh", ["-c", script, "sh"] + args, environment: TestEnvironment.childEnvironment)
    guard r.status == 0 else { throw TestFailure("`\(script)` failed: \(r.summary)") }
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

func sha256(_ path: String) throws -> String {
    String(try shell(#"sha256sum "$1""#, path).prefix(64))
}

extension Scratch {
    /// Files that are not what the test made: temporary copies left behind.
    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.contains(".corral-") }
    }
}

/// A small tree with the things a filesystem-level copy can lose: owners,
/// modes, a hard link, a symlink, an xattr (when setfattr is installed), a
/// sparse-ish big file. Returns the image path.
func makeImage(in scratch: Scratch, name: String = "base.img", size: String = "16M",
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

/// Everything debugfs shows of a tree that a copy must keep, inode numbers
/// and timestamps of directories left out: per path, type/mode, owner,
/// size, link count, xattrs and file contents' hash.
func treeListing(_ image: String, scratch: Scratch) throws -> [String] {
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

/// The inode number of a path (to check hard links).
func inode(_ image: String, _ path: String) throws -> String {
    try shell(#"debugfs -R "stat \"$1\"" "$2" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p'"#, path, image)
}
