#if canImport(Glibc)
import Glibc
#endif
import CCorralShim

/// Clears what a SIGKILLed corral left behind.
///
/// If corral itself is SIGKILLed, PR_SET_PDEATHSIG kills the kernel's main
/// process, but without the sandbox's PID namespace UML's helper threads
/// survive (sandbox.md §0 item 5) and its `uml_dir` stays. Each boot records
/// its session id in its per-boot directory; the next boot kills the
/// remaining members of any recorded session whose leader is gone, and
/// removes the directory. A session id is not reused while any member lives,
/// so this never touches an unrelated process.
enum StaleBoots {
    static let directoryPrefix = "corral-boot-"
    static let sessionFile = "corral-session"

    static func record(session: Int32, in umlDir: String) {
        let path = "\(umlDir)/\(sessionFile)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        SystemCall.writeAll(fd, "\(session)\n")
        close(fd)
    }

    static func sweep(parent: String) {
        guard let dir = opendir(parent) else { return }
        var candidates: [String] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(directoryPrefix) { candidates.append("\(parent)/\(name)") }
        }
        closedir(dir)

        for bootDir in candidates {
            guard let session = readSession("\(bootDir)/\(sessionFile)") else { continue }
            if let leader = ProcessTree.stat(session), leader.state != "Z" { continue }
            for pid in ProcessTree.members(ofSession: session) { _ = corral_launch_kill(pid, SIGKILL) }
            removeTree(bootDir)
        }
    }

    private static func readSession(_ path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).filter { $0.isNumber }
        guard let pid = Int32(text), pid > 1 else { return nil }
        return pid
    }
}
