import Launcher

/// The git commit this corral was built from, found at run time.
///
/// SwiftPM has no clean way to pass a build-time value into the compiler, and
/// a generated Swift file would either be committed (and always stale) or
/// break `swift build` in a fresh clone. So the binary looks the commit up
/// next to itself instead:
/// 1. installed: `make install` writes `git rev-parse HEAD` (with `-dirty`
///    when the tree had changes) to `<prefix>/share/corral/VERSION`;
/// 2. development: a binary under `<checkout>/.build/` reads the checkout's
///    `.git` (HEAD, then the ref it names), without running git, so the
///    answer follows every commit with no rebuild.
/// Neither found: the commit is unknown, and `--version` says so.
enum CorralBuildInfo {
    static let commit: BuildCommit? = Resources.currentExecutable().flatMap(commit(executable:))

    static func commit(executable: String) -> BuildCommit? {
        let stamp = "\(DataDirectory.installed(executable: executable))/VERSION"
        if let text = GitHead.text(stamp), let commit = BuildCommit(parsing: text) {
            return commit
        }
        if let checkout = DataDirectory.developmentCheckout(executable: executable) {
            return GitHead(checkout: checkout).commit()
        }
        return nil
    }
}
