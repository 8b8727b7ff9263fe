/// How much of the host one boot's kernel may take, derived from the
/// guest's `mem=`: the numbers the private memory tmpfs and the boot's
/// cgroup are given.
///
/// UML's physical memory is a sparse file in `/dev/shm` (the kernel's own
/// tmpfs, `MountJail`): its apparent size is larger than `mem=` (6.1 shows
/// ~760 MiB for `mem=64M`), but the blocks it ever holds stay below `mem=`
/// (measured by filling a guest's memory until its OOM killer ran: 48 MiB
/// of 64M and 241 MiB of 256M on 6.1, 234 MiB of 256M on 7.2). So the
/// tmpfs gets `mem=` plus a margin, and nothing else written there (a
/// guest's `mount -t hostfs none /mnt -o /dev/shm`, a hostile kernel's
/// own files) can grow past it.
public struct KernelLimits: Sendable, Equatable {
    /// The guest's `mem=` in bytes.
    public var guestMemory: UInt64
    /// Host processes and threads in the boot's cgroup (the helper and the
    /// reaper count too), the same bound as the kernel uid's RLIMIT_NPROC.
    public var processes: Int = Int(KernelAccount.processLimit)

    /// Above the measured peak (the file never exceeded `mem=`): room for
    /// page rounding and the few pages UML writes beyond its RAM.
    public static let memoryFileMargin: UInt64 = 32 << 20
    /// The kernel process's own memory, its stubs' page tables and kernel
    /// structures (~50 KiB per guest process at `processes`), and page
    /// cache of disk I/O, which the cgroup reclaims at its limit.
    public static let hostOverhead: UInt64 = 256 << 20

    /// UML's default when no `mem=` is given.
    public static let defaultGuestMemory: UInt64 = 32 << 20

    public init(guestMemory: UInt64) {
        self.guestMemory = guestMemory
    }

    /// From the kernel's argv (the last `mem=` wins, as in UML) and the policy.
    public init(argv: [String], processes: Int? = nil) {
        let value = argv.last { $0.hasPrefix("mem=") }.map { String($0.dropFirst(4)) }
        self.init(guestMemory: value.flatMap(Self.bytes) ?? Self.defaultGuestMemory)
        if let processes, processes > 0 { self.processes = processes }
    }

    /// Size of the kernel's private `/dev/shm`.
    public var memoryFileBytes: UInt64 { guestMemory + Self.memoryFileMargin }
    /// `memory.max` (v2) / `memory.limit_in_bytes` (v1) of the boot's cgroup.
    public var cgroupMemoryBytes: UInt64 { memoryFileBytes + Self.hostOverhead }

    /// `mem=` syntax: digits with an optional K, M or G ("256M" → 268435456).
    static func bytes(_ value: String) -> UInt64? {
        var digits = Substring(value)
        var shift: UInt64 = 0
        if let last = digits.last, let s = ["k": 10, "K": 10, "m": 20, "M": 20, "g": 30, "G": 30][last] {
            shift = UInt64(s)
            digits = digits.dropLast()
        }
        guard let number = UInt64(digits) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : product
    }
}
