import Launcher

/// Everything `corral maint shell` needs: its disks and where to mount
/// them; no template (the shell is not one, ``RescueShell``).
public struct ShellRequest: JobBoot {
    public struct Mount: Sendable {
        public var unit: Int
        public var directory: String
        public var readOnly: Bool
        public init(unit: Int, directory: String, readOnly: Bool) {
            self.unit = unit
            self.directory = directory
            self.readOnly = readOnly
        }
    }

    /// Where the step library and the shell's script are.
    public var library: TemplateLibrary
    /// Flag r makes a source, anything else a target.
    public var disks: [DiskSpec] = []
    public var mounts: [Mount] = []
    /// Work on writable disks directly instead of on a copy renamed at the end.
    public var inPlace = false
    public var logPath: String?
    public var kernel = Resources.defaultKernel
    public var memory = "256M"
    public var environment: [String: String] = [:]
    public var verbose = false

    public init(library: TemplateLibrary) {
        self.library = library
    }
}
