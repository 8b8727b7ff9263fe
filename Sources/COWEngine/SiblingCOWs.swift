import COWFormat

/// Finds the other COW files that use a backing file, which an in-place
/// commit would silently break ("once a backing file, always a backing
/// file": the kernel only notices the changed mtime, not the content).
///
/// Only the directories of the COW and of the backing are searched; a COW
/// elsewhere cannot be found without scanning the whole host.
public enum SiblingCOWs {
    public static func find(backing: OpenFile, backingPath: String, excluding cow: COWFile) throws(EngineError) -> [String] {
        let target = try backing.status()
        var dirs = [PathResolution.split(cow.path).directory, PathResolution.split(backingPath).directory]
        if dirs[0] == dirs[1] { dirs.removeLast() }
        var found: [String] = []
        for dir in dirs {
            for name in PathResolution.entries(of: dir) {
                let path = dir == "/" ? "/" + name : dir + "/" + name
                guard let st = try? FileStatus.of(path), st.isRegular,
                      !st.isSameFile(as: cow.status), !st.isSameFile(as: target),
                      COWFile.hasMagic(path: path),
                      let other = try? COWFile(path: path)
                else { continue }
                var headerPath = other.header.backingPathString
                if !headerPath.hasPrefix("/") { headerPath = dir + "/" + headerPath }
                if let hs = try? FileStatus.of(headerPath), hs.isSameFile(as: target) {
                    found.append(path)
                }
            }
        }
        return found
    }
}
