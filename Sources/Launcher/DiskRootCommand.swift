/// `corral boot --root ubdN --command CMD`: how a command reaches a guest
/// whose root is one of its disks.
///
/// The guest's own init is not used: it would start the guest's services,
/// and nothing in the guest would frame the command's exit status. Instead
/// the kernel boots the host's / read-only with hostfs-init, as for any
/// command, and hostfs-init mounts the disk (read-write only with
/// `--root-rw`), binds its own /proc, /sys and /dev into it, and runs the
/// command with `chroot DIR /bin/sh -c CMD`: the guest's programs, libraries
/// and package database, the exit status passed back, and the disk unmounted
/// cleanly before the power-off.
public struct DiskRootCommand: Sendable, Equatable {
    public var unit: Int
    public var writable: Bool

    /// The init a disk root gets when none is given and there is no command.
    /// Named, not left to the kernel's search: that search ends at /bin/sh,
    /// which on a disk without an init (Debian minbase) waits on a console
    /// whose input went by before it opened it, and the boot never ends.
    public static let defaultInit = "/sbin/init"

    public init(unit: Int, writable: Bool) {
        self.unit = unit
        self.writable = writable
    }

    /// The guest's device name, `/dev/ubdX`.
    public var device: String { "/dev/ubd" + String(UnicodeScalar(UInt8(97 + unit))) }

    /// What hostfs-init reads: `corral_chroot` (the device) and
    /// `corral_chroot_mode` (`ro` or `rw`).
    public var initVariables: [KernelCommandLine.InitVariable] {
        [.init(name: "corral_chroot", value: device),
         .init(name: "corral_chroot_mode", value: writable ? "rw" : "ro")]
    }
}
