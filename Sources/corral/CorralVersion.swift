/// Version shown by `corral --version`; the Makefile stamps the git commit
/// into CorralBuildInfo.swift for release builds.
enum CorralVersion {
    static let number = "0.1.0"
    static var text: String { "corral \(number)" + (CorralBuildInfo.commit.isEmpty ? "" : " (\(CorralBuildInfo.commit))") }
}
