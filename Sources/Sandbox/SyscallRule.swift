/// One syscall in an allowlist: what happens when it is called, under which
/// argument conditions, and why it is there.
///
/// A rule with several `Variant`s matches if any variant matches; a variant
/// matches if all its conditions hold. A syscall with no matching variant
/// gets the list's default action.
public struct SyscallRule: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case allow
        /// Fail the call with this errno instead of killing: for argument
        /// mismatches the guest can trigger, and for `clone3` → ENOSYS.
        case errno(Int32)
    }

    /// `(args[index] & mask) == value`. 32-bit arguments (int, unsigned int)
    /// use a 32-bit mask, so a sign- or zero-extended upper half cannot
    /// change the answer (Firecracker's `dword`).
    public struct Condition: Sendable, Equatable {
        public var index: UInt32
        public var mask: UInt64
        public var value: UInt64

        public static func equals(_ index: UInt32, _ value: UInt64) -> Condition {
            Condition(index: index, mask: .max, value: value)
        }
        public static func equals32(_ index: UInt32, _ value: UInt32) -> Condition {
            Condition(index: index, mask: 0xffff_ffff, value: UInt64(value))
        }
        public static func masked(_ index: UInt32, mask: UInt64, _ value: UInt64) -> Condition {
            Condition(index: index, mask: mask, value: value)
        }
    }

    public struct Variant: Sendable, Equatable {
        public var action: Action
        public var conditions: [Condition]
    }

    public var syscall: String
    public var reason: String
    public var variants: [Variant]

    /// Whether some argument combination of this syscall is allowed.
    public var allows: Bool { variants.contains { $0.action == .allow } }
    /// Whether the rule looks at arguments at all.
    public var isArgumentFiltered: Bool { variants.contains { !$0.conditions.isEmpty } }

    // MARK: building rules

    /// Allowed with any arguments.
    public static func allow(_ syscall: String, _ reason: String) -> SyscallRule {
        SyscallRule(syscall: syscall, reason: reason, variants: [Variant(action: .allow, conditions: [])])
    }

    /// Allowed when 32-bit argument `index` is one of `values`.
    public static func allow(
        _ syscall: String, arg index: UInt32, in32 values: [UInt32], _ reason: String
    ) -> SyscallRule {
        SyscallRule(syscall: syscall, reason: reason, variants: values.map {
            Variant(action: .allow, conditions: [.equals32(index, $0)])
        })
    }

    /// Allowed when 64-bit argument `index` is exactly one of `values`.
    public static func allow(
        _ syscall: String, arg index: UInt32, in64 values: [UInt64], _ reason: String
    ) -> SyscallRule {
        SyscallRule(syscall: syscall, reason: reason, variants: values.map {
            Variant(action: .allow, conditions: [.equals(index, $0)])
        })
    }

    /// Every call fails with `code` (never allowed).
    public static func fail(_ syscall: String, errno code: Int32, _ reason: String) -> SyscallRule {
        SyscallRule(syscall: syscall, reason: reason, variants: [Variant(action: .errno(code), conditions: [])])
    }
}
