#if canImport(Glibc)
import Glibc
#endif
import COWEngine

/// Whether the guest kernel benchmarks its RAID-6 routines at boot.
///
/// `raid6_select_algo` times every RAID-6 implementation for ~0.85 s, over
/// half of a ~1.6 s UML boot here, and nothing but md RAID-6 (also under
/// LVM) and btrfs RAID5/6 uses the result. Skipping it
/// (`initcall_blacklist=raid6_select_algo`) leaves those without parity
/// functions: the guest kernel crashes at its first RAID-6 parity
/// operation. So by default corral skips it only when no disk could hold
/// such an array (``RAIDProbe``).
public enum RAID6Benchmark: String, Sendable, Equatable, CaseIterable {
    /// Skip it unless a disk shows an md, LVM, btrfs or partition-table signature.
    case auto
    /// Always run it (the kernel's own behaviour).
    case on
    /// Always skip it, whatever the disks hold.
    case off

    /// The benchmark's initcall: `raid6_select_algo` up to 6.12,
    /// `raid6_init` in 7.x (lib/raid/raid6). Blacklisting a name a kernel
    /// lacks does nothing, so both go on every command line.
    static let initcalls = ["raid6_select_algo", "raid6_init"]

    /// The decision for these disks: whether to skip, and why not when kept.
    /// `opened`: disks the caller holds open (``BootOptions/openedDisks``).
    public func resolve(disks: [DiskSpec], opened: [Int: OpenedDisk] = [:]) -> (skip: Bool, keptFor: String?) {
        switch self {
        case .on: return (false, "--raid6 on")
        case .off: return (true, nil)
        case .auto:
            for disk in disks {
                // A COW the kernel will create shows its backing.
                let found = if let open = opened[disk.unit] {
                    open.guestSectors(backing: disk.backing).flatMap(RAIDProbe.signature)
                } else if access(disk.file, F_OK) == 0 {
                    RAIDProbe.signature(disk.file, backing: disk.backing)
                } else {
                    disk.backing.flatMap { RAIDProbe.signature($0) }
                }
                if let found {
                    return (false, "ubd\(disk.unit) (\(disk.file)) holds \(found)")
                }
            }
            return (true, nil)
        }
    }
}

extension BootPlan {
    /// What this boot does with the benchmark, as `--verbose` reports it.
    var raid6Decision: RAID6Decision {
        guard commandLine.skippedInitcalls.contains(RAID6Benchmark.initcalls[0]) else {
            return .kept(for: raid6KeptFor ?? "the kernel's own init")
        }
        return options.raid6 == .off ? .skippedByOption : .skippedNotNeeded
    }
}
