import CSandboxShim
import CSeccomp

#if canImport(Glibc)
import Glibc
#endif
import CorralSystem

/// A libseccomp filter compiled from an `Allowlist`.
///
/// Default action KILL_PROCESS (not KILL_THREAD: a half-dead UML would hang
/// waiting for its helper, sandbox.md §0.8); any ABI other than native x86_64,
/// and x32 syscall numbers, are killed too. Owns the libseccomp context.
public struct SeccompFilter: ~Copyable {
    private let context: scmp_filter_ctx
    /// Number of libseccomp rules added (one per variant).
    public let ruleCount: Int

    /// What happens to a syscall the allowlist does not list.
    public enum DefaultAction: Sendable {
        /// SECCOMP_RET_KILL_PROCESS.
        case killProcess
        /// SECCOMP_RET_USER_NOTIF: the call waits for the reaper, which
        /// records it and then kills the kernel (or, learning, lets it run).
        case notify
    }

    public init(allowlist: Allowlist, defaultAction: DefaultAction = .killProcess) throws(SandboxError) {
        let fallback = defaultAction == .notify ? corral_scmp_act_notify() : corral_scmp_act_kill_process()
        guard let ctx = seccomp_init(fallback) else {
            throw .seccompInit
        }
        var added = 0
        do throws(SandboxError) {
            try seccompCall("seccomp_attr_set(BADARCH)",
                            seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, corral_scmp_act_kill_process()))
            // load() sets no_new_privs itself; the sandbox sets it earlier anyway.
            try seccompCall("seccomp_attr_set(NNP)", seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1))
            // A binary tree over syscall numbers instead of a linear chain:
            // UML makes ~48k host syscalls per boot (58 % ptrace), each one
            // walking the filter, so the depth matters.
            try seccompCall("seccomp_attr_set(OPTIMIZE)", seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2))
            for rule in allowlist.rules {
                let number = seccomp_syscall_resolve_name(rule.syscall)
                if number == __NR_SCMP_ERROR {
                    throw .unknownSyscall(rule.syscall, allowlist: allowlist.name)
                }
                for variant in rule.variants {
                    let action: UInt32 = switch variant.action {
                    case .allow: corral_scmp_act_allow()
                    case .errno(let code): corral_scmp_act_errno(code)
                    }
                    var comparisons = variant.conditions.map {
                        scmp_arg_cmp(arg: $0.index, op: SCMP_CMP_MASKED_EQ, datum_a: $0.mask, datum_b: $0.value)
                    }
                    let rc = comparisons.withUnsafeMutableBufferPointer {
                        seccomp_rule_add_array(ctx, action, number, UInt32($0.count), $0.baseAddress)
                    }
                    try seccompCall("seccomp_rule_add(\(rule.syscall))", rc)
                    added += 1
                }
            }
        } catch {
            seccomp_release(ctx)
            throw error
        }
        context = ctx
        ruleCount = added
    }

    /// Same as `init(allowlist:)`.
    public static func build(from allowlist: Allowlist) throws(SandboxError) -> SeccompFilter {
        try SeccompFilter(allowlist: allowlist)
    }

    deinit { seccomp_release(context) }

    /// The filter as raw BPF, to be installed later without libseccomp
    /// (between fork and exec only async-signal-safe calls are allowed).
    public func bpf() throws(SandboxError) -> BPFProgram {
        var buffer: UnsafeMutablePointer<UInt8>?
        var length = 0
        try seccompCall("seccomp_export_bpf", corral_scmp_export_bpf(context, &buffer, &length))
        defer { free(buffer) }
        return BPFProgram(bytes: Array(UnsafeBufferPointer(start: buffer, count: length)))
    }

    /// Loads the filter into the calling thread (and its future children).
    /// Irreversible: meant for a child process that is about to probe or exec.
    public func load() throws(SandboxError) {
        try seccompCall("seccomp_load", seccomp_load(context))
    }
}

/// A compiled seccomp program: `struct sock_filter` instructions, 8 bytes each.
public struct BPFProgram: Sendable, Equatable {
    public var bytes: [UInt8]
    public var instructionCount: Int { bytes.count / 8 }

    /// Installs the program on the calling thread. Needs no_new_privs first.
    public func install() throws(SandboxError) {
        try SandboxError.systemCall("seccomp(SECCOMP_SET_MODE_FILTER)", "") {
            bytes.withUnsafeBufferPointer { corral_seccomp_install($0.baseAddress, $0.count) }
        }
    }
}
