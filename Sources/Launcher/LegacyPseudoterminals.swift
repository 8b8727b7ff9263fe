/// `pty.legacy_count=0`: the kernel makes no BSD pseudo-terminals.
///
/// Debian's UML kernels are built with `CONFIG_LEGACY_PTYS` and 256 of them,
/// and bookworm's 6.1 spends most of its boot registering their 512 devices
/// (`initcall_debug`: `pty_init` 14–238 ms; 6.12 about 6 ms). A guest's
/// terminals come from `/dev/ptmx` and devpts, as on any current system;
/// `/dev/ptyp0` and friends are for programs older than Unix98 ptys.
/// `--kernel-arg pty.legacy_count=N` (read after this one) brings them back.
/// On a kernel built without legacy ptys the parameter names nothing, and a
/// dotted parameter for nothing is ignored, not handed to init.
public enum LegacyPseudoterminals {
    /// How many corral asks the kernel for.
    public static let count = 0
}
