/// What `corral --version` prints: the release number and, when it can be
/// found, the commit the binary was built from (see ``CorralBuildInfo``).
enum CorralVersion {
    static let number = "0.1.0"

    static var text: String {
        text(commit: CorralBuildInfo.commit)
    }

    static func text(commit: BuildCommit?) -> String {
        "corral \(number) (commit \(commit?.short ?? "unknown"))"
    }
}
