import CSandboxShim
import CorralSystem

#if canImport(Glibc)
import Glibc
#endif

/// What this host's kernel offers the sandbox, probed without side effects.
///
/// `report(policy:)` and `execKernel` decide from the same probe, so what is
/// reported is what is applied.
struct HostFeatures: Sendable {
    /// SECCOMP_RET_KILL_PROCESS is available (Linux 4.14+).
    var seccompKillProcess: Bool
    /// SECCOMP_RET_USER_NOTIF (probed as Linux 5.6+, see
    /// corral_seccomp_notify_available): a denied call is reported by name
    /// instead of only killing with SIGSYS.
    var seccompNotify: Bool
    /// Landlock ABI version, or why there is none.
    var landlock: Result<Int32, SandboxError>
    /// open_tree/move_mount/mount_setattr exist (Linux 5.12+).
    var mountAPI: Bool
    var isRoot: Bool
    /// Unprivileged user namespaces can be created (only matters when not root).
    var userNamespaces: Bool

    static func probe() -> HostFeatures {
        let actions = (try? SmallTextFile.text("/proc/sys/kernel/seccomp/actions_avail")) ?? ""
        let abi = corral_landlock_abi()
        let code = errno
        let landlock: Result<Int32, SandboxError> = abi >= 1 ? .success(abi)
            : .failure(code == EOPNOTSUPP ? .unsupported(.landlockLSM) : code == ENOSYS ? .unsupported(.landlock) : .landlockProbe(errno: code))
        let maxUserNS = Int((try? SmallTextFile.text("/proc/sys/user/max_user_namespaces"))?.trimmed ?? "0") ?? 0
        let debianClone = (try? SmallTextFile.text("/proc/sys/kernel/unprivileged_userns_clone"))?.trimmed
        return HostFeatures(
            seccompKillProcess: actions.split(separator: " ").contains { $0.hasPrefix("kill_process") },
            seccompNotify: corral_seccomp_notify_available() != 0,
            landlock: landlock,
            mountAPI: corral_mount_api_available() != 0,
            isRoot: geteuid() == 0,
            userNamespaces: maxUserNS > 0 && debianClone != "0"
        )
    }

    /// Namespaces need root, or an unprivileged user namespace.
    var namespaces: Result<Void, SandboxError> {
        if isRoot || userNamespaces { return .success(()) }
        return .failure(.unsupported(.userNamespaces))
    }

    /// Landlock keeps abstract unix sockets bound outside the kernel's
    /// domain out of its reach (`Landlock.scopesAbstractSockets`).
    var scopesAbstractSockets: Bool {
        (try? landlock.get()).map(Landlock.scopesAbstractSockets(abi:)) ?? false
    }

    /// The read-only mount jail also needs the new mount API.
    var mountJail: Result<Void, SandboxError> {
        if case .failure(let why) = namespaces { return .failure(why) }
        if !mountAPI { return .failure(.unsupported(.mountAPI)) }
        return .success(())
    }
}
