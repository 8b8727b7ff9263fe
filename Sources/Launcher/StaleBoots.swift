#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import CorralSystem

/// Clears what a SIGKILLed corral left behind.
///
/// If corral itself is SIGKILLed, PR_SET_PDEATHSIG kills the kernel's main
/// process, but without the sandbox's PID namespace UML's helper threads
/// survive (sandbox.md §0 item 5) and its `uml_dir` stays. Each boot records
/// its session id in its per-boot directory; the next boot kills the
/// remaining members of any recorded session whose leader is gone, and
/// removes the directory. A session id is not reused while any member lives,
/// so this never touches an unrelated process.
///
/// Only what corral made is touched: a `corral-boot-*` directory owned by
/// this user with mode 0700, holding a `corral-session` that is a regular
/// file of this user's with one link. Everything is checked on descriptors
/// (fstatat/openat with O_NOFOLLOW, the session file opened O_NONBLOCK, so
/// a FIFO cannot hang the boot) and removed with descriptor-relative calls
/// that never follow a symlink (``Directory/removeTree(_:)``).
enum StaleBoots {
    static let directoryPrefix = "corral-boot-"
    static let sessionFile = "corral-session"

    static func record(session: Int32, in bootDir: Directory) {
        guard let file = try? bootDir.openFile(sessionFile, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) else { return }
        try? file.writeAll(Array("\(session)\n".utf8))
    }

    static func sweep(_ parent: Directory) {
        guard let names = try? parent.names() else { return }
        let me = geteuid()
        for name in names where name.hasPrefix(directoryPrefix) {
            guard let info = try? parent.status(of: name), info.isDirectory, info.owner == me,
                  info.permissions & 0o077 == 0,
                  let bootDir = try? parent.openDirectory(name),
                  let opened = try? bootDir.status(), opened.isSameFile(as: info),
                  let session = readSession(in: bootDir) else { continue }
            if let leader = ProcessTree.stat(session), leader.state != "Z" { continue }
            for pid in ProcessTree.members(ofSession: session) { _ = corral_launch_kill(pid, SIGKILL) }
            try? parent.removeTree(name)
        }
    }

    private static func readSession(in bootDir: Directory) -> Int32? {
        guard let file = try? bootDir.openFile(sessionFile, flags: O_RDONLY | O_NONBLOCK),
              let info = try? file.status(), info.isRegular, info.owner == geteuid(), info.links == 1,
              let bytes = try? file.read(upTo: 32), !bytes.isEmpty else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).filter { $0.isNumber }
        guard let pid = Int32(text), pid > 1 else { return nil }
        return pid
    }
}
