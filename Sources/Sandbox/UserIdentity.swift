#if canImport(Glibc)
import Glibc
#endif

/// The unprivileged account the kernel runs as (`policy.user`).
///
/// UML needs no capabilities: it only ptraces its own children. Resolved in
/// the helper before any namespace is entered, applied in the kernel child.
struct UserIdentity: Sendable, Equatable {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]

    /// An account that need not exist in the passwd database (`KernelAccount`).
    init(name: String, uid: uid_t, gid: gid_t, groups: [gid_t]) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    init(_ name: String) throws(SandboxError) {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else {
            throw .unknownUser(name, errno: rc != 0 ? rc : nil)
        }
        self.name = name
        uid = entry.pw_uid
        gid = entry.pw_gid
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, entry.pw_gid, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, entry.pw_gid, &list, &count)
        }
        groups = Array(list.prefix(Int(max(count, 0))))
        if uid == 0 { throw .userIsRoot(name) }
    }
}
