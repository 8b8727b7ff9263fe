enum CorralBuildInfo {
    static let commit = ""
}
