#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// The commit a git checkout has checked out, read from its files the way git
/// itself would, without running git (which may be absent, or slow, or not
/// allowed where corral runs).
///
/// Handles a plain `.git` directory and a linked worktree (`.git` is a file
/// saying `gitdir: …`, shared refs live in the `commondir`), a detached HEAD,
/// loose refs and `packed-refs`. Anything else (a symbolic ref chain, a
/// reftable repository) gives nil: the version then says "unknown" rather
/// than guessing.
struct GitHead {
    /// The checkout's top directory, the one holding `.git`.
    var checkout: String

    /// The hash HEAD resolves to, or nil.
    func commit() -> BuildCommit? {
        guard let gitDir = gitDirectory() else { return nil }
        let commonDir = readLine("\(gitDir)/commondir").map { resolve($0, against: gitDir) } ?? gitDir
        guard let head = readLine("\(gitDir)/HEAD") else { return nil }
        guard head.hasPrefix("ref:") else { return BuildCommit(parsing: head) }
        let ref = String(head.dropFirst(4).trimmingWhitespace)
        guard ref.hasPrefix("refs/"), !ref.contains("..") else { return nil }
        for dir in [gitDir, commonDir] {
            if let loose = readLine("\(dir)/\(ref)") { return BuildCommit(parsing: loose) }
        }
        return packedRef(ref, in: commonDir)
    }

    /// `.git` itself, or where a worktree's `.git` file points.
    func gitDirectory() -> String? {
        let dotGit = "\(checkout)/.git"
        var status = stat()
        guard stat(dotGit, &status) == 0 else { return nil }
        if (status.st_mode & S_IFMT) == S_IFDIR { return dotGit }
        guard let line = readLine(dotGit), line.hasPrefix("gitdir:") else { return nil }
        return resolve(String(line.dropFirst("gitdir:".count).trimmingWhitespace), against: checkout)
    }

    /// `<hash> <ref>` lines of `packed-refs`; `#` and `^` lines are metadata.
    private func packedRef(_ ref: String, in commonDir: String) -> BuildCommit? {
        guard let text = Self.text("\(commonDir)/packed-refs") else { return nil }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("^") {
            let fields = line.split(separator: " ", maxSplits: 1)
            if fields.count == 2, fields[1].trimmingWhitespace == ref { return BuildCommit(parsing: fields[0]) }
        }
        return nil
    }

    private func readLine(_ path: String) -> String? {
        guard let text = Self.text(path) else { return nil }
        let line = text.split(separator: "\n", maxSplits: 1).first.map { String($0.trimmingWhitespace) }
        return line?.isEmpty == false ? line : nil
    }

    /// A whole small text file, or nil when it cannot be read. Bounded (1
    /// MiB), so a wrong path can never make `--version` read a disk image.
    static func text(_ path: String) -> String? {
        try? SmallTextFile.text(path, limit: 1 << 20)
    }

    private func resolve(_ path: String, against dir: String) -> String {
        path.hasPrefix("/") ? path : "\(dir)/\(path)"
    }
}
