import Launcher

/// Everything `corral maint shell` needs: its disks and where to mount
/// them; no template (the shell is not one, ``RescueShell``).
public struct ShellRequest: Sendable {
    /// Where the step library and the shell's script are.
    public var library: TemplateLibrary
    /// Flag r makes a source, anything else a target.
    public var disks: [DiskSpec] = []
    /// Where to mount which disk (read-only when the disk has flag r).
    public var mounts: [(unit: Int, directory: String)] = []
    /// Work on writable disks directly instead of on a copy renamed at the end.
    public var inPlace = false
    public var settings = GuestSettings()

    public init(library: TemplateLibrary) {
        self.library = library
    }
}
