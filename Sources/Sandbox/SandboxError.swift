#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// Why the sandbox could not be set up, or why a part of it is unavailable
/// on this host (`SandboxRunner.report` gives the latter as reasons).
///
/// ``description`` is one line, saying which call failed on what, or what
/// the host lacks; the launcher forwards it to the user unchanged. ``hint``
/// is what the user can do about it, when the line does not say so itself.
public enum SandboxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A call failed: a system call, a libseccomp call (its negative errno)
    /// or a step of the reaper's start-up; `object` is what it was about.
    case call(String, _ object: String? = nil, errno: Int32)
    /// libseccomp could not make a filter context (it says no more).
    case seccompInit
    /// An allowlist names a syscall this libseccomp does not know.
    case unknownSyscall(String, allowlist: String)
    /// The host's kernel lacks a feature the sandbox needs or reports.
    case unsupported(HostFeature)
    /// Probing for Landlock failed for a reason other than its absence.
    case landlockProbe(errno: Int32)
    /// `policy.user` has no account; `errno` when the lookup itself failed.
    case unknownUser(String, errno: Int32?)
    /// `policy.user` names an account with uid 0 under another name.
    case userIsRoot(String)
    /// `policy.user` was given, but only root can switch to another user.
    case userNeedsRoot(String)
    /// A path the kernel must reach does not resolve; `role` says which
    /// (`writable path`, `uml_dir`, `TMPDIR`, …).
    case unusablePath(String, role: String, errno: Int32)
    /// No cgroup of the boot's own can be made on this host.
    case noCgroup(CgroupObstacle)
    /// Making or filling the boot's cgroup failed (`version` is v1 or v2).
    case cgroupSetup(version: String, SystemError)
    /// A root caller's kernel cannot run as a uid of its own (`KernelAccount`),
    /// and running it as root was not asked for.
    indirect case ownUIDRefused(OwnUIDObstacle)
    /// The helper set the jail up before its spec for the default policy
    /// (`PreparedJail`), and the spec asks for another: its namespaces
    /// cannot be left. The launcher never sends such a spec.
    case preparedForAnotherPolicy

    /// A kernel feature the sandbox uses, named where the host lacks it.
    public enum HostFeature: Sendable, Equatable {
        /// SECCOMP_RET_KILL_PROCESS (Linux 4.14+): without it no kernel runs.
        case seccompKillProcess
        /// Seccomp user notification and pidfd_getfd (Linux 5.6+), which
        /// learning mode (`SandboxRunner.learnVariable`) needs.
        case seccompNotify
        /// Landlock is not built into the kernel.
        case landlock
        /// Landlock is built in but not among the active LSMs.
        case landlockLSM
        /// A non-root caller needs unprivileged user namespaces.
        case userNamespaces
        /// open_tree/move_mount/mount_setattr (Linux 5.12+), for the mount jail.
        case mountAPI

        /// What is said when the host lacks it.
        var lack: String {
            switch self {
            case .seccompKillProcess:
                "seccomp: this kernel lacks SECCOMP_RET_KILL_PROCESS; refusing to run unsandboxed (turn the sandbox off explicitly to override)"
            case .seccompNotify: "\(SandboxRunner.learnVariable) needs seccomp user notification and pidfd_getfd (Linux 5.6+)"
            case .landlock: "this kernel has no Landlock"
            case .landlockLSM: "Landlock is built in but not enabled (lsm= boot parameter)"
            case .userNamespaces: "not root and unprivileged user namespaces are disabled"
            case .mountAPI: "kernel lacks mount_setattr (needs Linux 5.12+)"
            }
        }

        /// How to get it, where the user can.
        var remedy: String? {
            switch self {
            case .seccompKillProcess: "use a host with Linux 4.14 or later, or boot with --sandbox off to run the kernel unconfined"
            case .seccompNotify: "use a host with Linux 5.6 or later, or unset \(SandboxRunner.learnVariable)"
            case .landlock: nil
            case .landlockLSM: "add landlock to the host's lsm= kernel parameter"
            case .userNamespaces: "run corral as root, or enable unprivileged user namespaces on the host"
            case .mountAPI: "use a host with Linux 5.12 or later"
            }
        }
    }

    /// Why this process cannot make a cgroup for a boot.
    public enum CgroupObstacle: Sendable, Equatable {
        case membershipUnreadable
        case notInCgroup2
        /// cgroup v2: the parent does not enable `controller` for its children.
        case controllerNotDelegated(parent: String, controller: String)
        /// cgroup v2: the parent is not writable by this user.
        case parentNotWritable(String)
        case v1NeedsRoot
        case v1NoController(String)
        case v1NotWritable(String)

        var reason: String {
            switch self {
            case .membershipUnreadable: "/proc/self/cgroup is unreadable"
            case .notInCgroup2: "this process is in no cgroup2 cgroup"
            case let .controllerNotDelegated(parent, controller):
                "cgroup v2: \(parent) does not enable the \(controller) controller for its children (no delegated cgroup)"
            case let .parentNotWritable(parent): "cgroup v2: \(parent) is not writable by this user (no delegated cgroup)"
            case .v1NeedsRoot: "cgroup v1 needs root"
            case let .v1NoController(controller): "cgroup v1: no \(controller) controller"
            case let .v1NotWritable(home): "cgroup v1: \(home) is not writable"
            }
        }
    }

    /// Why the kernel cannot run as a uid of its own, each with its way out.
    public enum OwnUIDObstacle: Sendable, Equatable {
        /// The host lacks the mount jail (namespaces or the new mount API).
        case hostLacks(SandboxError)
        /// A file the kernel needs is out of the uid's reach.
        case unreachable(String)
        /// The user namespace for the idmapped mounts could not be made.
        case noIdmapNamespace(SandboxError)
        /// A writable path's filesystem takes no idmapped mounts.
        case noIdmappedMounts(String)
        /// A readable path's filesystem takes no idmapped mounts, and its
        /// mode shuts a stranger out.
        case unmappedUnreachable(String)

        var reason: String {
            switch self {
            case .hostLacks(let why): "the host lacks what it takes (\(why.description))"
            case .unreachable(let path): "\(path) is out of its reach (another user's file whose mode shuts others out)"
            case .noIdmapNamespace(let error): error.description
            case .noIdmappedMounts(let path): "\(path) is on a filesystem without idmapped mounts, so it could not write there"
            case .unmappedUnreachable(let path): "\(path) is on a filesystem without idmapped mounts, and its mode shuts others out"
            }
        }

        var fix: String {
            switch self {
            case .hostLacks: "use a host with Linux 5.12 or later"
            case .unreachable: "give the file to root or open its mode to others"
            case .noIdmapNamespace: "allow user namespaces for root"
            case .noIdmappedMounts: "move the disk to a filesystem that has them (ext4, xfs, btrfs, tmpfs)"
            case .unmappedUnreachable: "open its mode to others (read, and search or execute), or move it to a filesystem with idmapped mounts (ext4, xfs, btrfs, tmpfs)"
            }
        }
    }

    public var description: String {
        switch self {
        case let .call(name, object, code):
            "\(name)\(object.map { "(\($0))" } ?? "") failed: \(SystemError.describe(code))"
        case .seccompInit:
            "seccomp_init failed"
        case let .unknownSyscall(name, allowlist):
            "seccomp: unknown syscall \(name) in \(allowlist)"
        case let .unsupported(feature):
            feature.lack
        case let .landlockProbe(code):
            "Landlock probe failed: \(SystemError.describe(code))"
        case let .unknownUser(name, code):
            "sandbox user \(name) does not exist" + (code.map { ": \(SystemError.describe($0))" } ?? "")
        case let .userIsRoot(name):
            "sandbox user \(name) is root; pick an unprivileged account"
        case let .userNeedsRoot(name):
            "sandbox user \(name) needs corral to run as root"
        case let .unusablePath(path, role, code):
            "\(role) \(path) is not usable: \(SystemError.describe(code))"
        case let .noCgroup(obstacle):
            obstacle.reason
        case let .cgroupSetup(version, error):
            "cgroup \(version) for the kernel: \(SandboxError(error).description)"
        case let .ownUIDRefused(obstacle):
            "the kernel cannot run as a uid of its own: \(obstacle.reason); \(obstacle.fix), or pass --sandbox-user root to run the kernel as root (the guest then reaches what root reaches)"
        case .preparedForAnotherPolicy:
            "the kernel helper was set up for the default sandbox, not for this boot's; nothing was started (a bug in corral: please report it)"
        }
    }

    /// What the user can do about it, or nil: nothing can be done, or the
    /// line says it already (a refused own uid names both ways out).
    public var hint: String? {
        switch self {
        case let .unsupported(feature): feature.remedy
        case .unknownUser: "create the account, or name another one with --sandbox-user"
        case .userIsRoot: "name an unprivileged account with --sandbox-user, or --sandbox-user root to mean root"
        case .userNeedsRoot: "run corral as root, or leave out --sandbox-user"
        default: nil
        }
    }
}

extension SandboxError: SystemErrorWrapping {
    /// A failed call from CorralSystem: `call(object) failed: reason`, or
    /// `call failed: reason` when the call has no object.
    public init(_ error: SystemError) {
        self = .call(error.call, error.object.isEmpty ? nil : error.object, errno: error.errno.rawValue)
    }
}

/// libseccomp's convention: a negative errno as the return value (errno
/// itself is not set, so this is not a system call for ``systemCall``).
func seccompCall(_ name: String, _ rc: Int32) throws(SandboxError) {
    if rc < 0 { throw SandboxError.call(name, errno: -rc) }
}
