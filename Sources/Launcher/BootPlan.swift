#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine
import Sandbox
import CorralSystem

/// What the user asked `corral boot` for, before anything is resolved.
public struct BootOptions: Sendable {
    /// `linux.uml` on PATH, or a path.
    public var kernel: String = Resources.defaultKernel
    public var memory: String = "256M"
    /// A host directory (hostfs) or `ubdN`/`ubdX` for a disk root.
    public var root: String = "/"
    public var rootWritable = false
    /// nil: hostfs-init with a hostfs root, the kernel's own search with a disk root.
    public var initPath: String?
    public var disks: [DiskSpec] = []
    public var umid: String?
    /// Run this in the guest through hostfs-init.
    public var command: String?
    public var timeout: Double?
    /// When the `timeout` clock started (``MonotonicClock`` seconds): the
    /// CLI starts it before any file is opened, so preflight time counts.
    /// nil: when the session starts.
    public var timeoutStart: Double?
    public var logPath: String?
    public var sandbox: SandboxPolicy.Mode = .enforce
    /// `SandboxPolicy.user`: an account for the kernel, or "root"; nil: a
    /// uid of its own for the boot (as root) or the caller.
    public var sandboxUser: String?
    /// Kernel messages on stderr (and no `quiet`), sandbox report.
    public var verbose = false
    public var extraArguments: [String] = []
    /// Fixed nonce, for reproducible `--dry-run` output; random when nil.
    public var nonce: String?
    /// Interactive raw-mode console; nil means "when stdin and stdout are
    /// terminals" (output piped elsewhere gets plain "\n" line ends instead).
    public var interactive: Bool?
    /// What hostfs-init is told about console input; nil: from stdin.
    /// `.none` also keeps corral from reading its stdin at all (the console's
    /// input is then /dev/null).
    public var input: ConsoleInput?
    public var raid6: RAID6Benchmark = .auto
    public var environment: [String: String] = [:]
    /// Host directories the guest reads through hostfs that a stranger may
    /// not (a maintenance job's mode-0700 script directory): the kernel's
    /// own uid gets them as read-only idmapped mounts (`SandboxPolicy`).
    public var readablePaths: [String] = []
    /// `--share`: host directories the guest may mount read-only through
    /// hostfs; each must exist. In the kernel's root like `readablePaths`.
    public var sharedDirectories: [String] = []
    /// The kernel helper's binary (``Resources/kernelHelper(executable:)``).
    public var helperExecutable = Resources.installedKernelHelper
    /// Takes the command's output instead of stdout and may stop the boot
    /// (Maintenance parses its step markers and enforces step timeouts).
    public var observer: (any BootObserver)?
    /// Told what the user should hear about the boot (diagnostics, and the
    /// kernel's text with `verbose`); nil: nobody is told. The launcher
    /// never prints; the CLI passes a handler that writes to stderr.
    public var events: BootEventHandler?
    /// Disks the caller already holds open and surveyed, by unit (a
    /// maintenance job's staged disks): preflight and the RAID-6 probe read
    /// these instead of opening and scanning the files again.
    public var openedDisks: [Int: OpenedDisk] = [:]
    /// The caller's console: where input comes from and the command's
    /// output goes; nil: none (no input, output only to the observer and
    /// the transcript).
    public var streams: ConsoleStreams?

    public init() {}
}

/// Everything resolved and decided: the exact argv and how to supervise it.
public struct BootPlan: Sendable {
    public var kernelPath: String
    /// The kernel's seccomp profile, chosen by its build id once, here: the
    /// preflight (is it UML, which release), the userspace mode and the
    /// launcher's warning all read it instead of the ELF file again.
    public var kernelProfile: KernelProfile.Selection
    public var commandLine: KernelCommandLine
    public var nonce: String?
    /// hostfs-init's path on the host when corral's init is used.
    public var hostfsInitPath: String?
    /// The per-boot directory given as `uml_dir=`, removed after the boot.
    public var umlDir: String
    /// The host file holding the nonce for hostfs-init (in `umlDir`), or nil
    /// when the nonce is on the command line.
    public var nonceFile: String?
    static let nonceFileName = "nonce"
    public var policy: SandboxPolicy
    public var options: BootOptions
    /// Raw-mode console with keyboard passthrough.
    public var interactive: Bool
    /// Why the kernel's RAID-6 benchmark is kept (nil: skipped, or not corral's call).
    public var raid6KeptFor: String?

    public var argv: [String] { commandLine.argv(kernel: kernelPath) }

    /// `--dry-run`: one shell-quoted argument per line.
    public var dryRunText: String {
        argv.map { Shell.quote($0) + "\n" }.joined()
    }

    /// Resolves the kernel and init, draws the nonce and umid, and builds the
    /// command line. Writes nothing; reads a few signature sectors of each
    /// disk (``RAID6Benchmark``).
    public static func make(_ options: BootOptions) throws(LauncherError) -> BootPlan {
        let env = options.environment
        let kernelPath = try Resources.kernelPath(options.kernel, environment: env)
        let kernelProfile = KernelProfile.select(kernelPath: kernelPath)
        let requestedRoot = try root(options)

        let nonce = options.nonce ?? Random.hex(bytes: 16)
        let umid = options.umid ?? "corral-\(Random.hex(bytes: 4))"
        if !KernelCommandLine.isValidUmid(umid) { throw LauncherError.invalidUmid(umid) }
        let umlDir = "\(RuntimeDirectory.base(environment: env))/\(StaleBoots.directoryPrefix)\(umid)"

        for dir in options.sharedDirectories {
            var st = stat()
            guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw LauncherError.invalidArgument("--share", reason: "'\(dir)' is not a directory; give an existing host directory")
            }
        }
        if options.command?.isEmpty == true {
            throw LauncherError.invalidArgument("--command", reason: "the command is empty")
        }
        let interactive = options.interactive
            ?? options.streams.map { corral_launch_isatty($0.input) == 1 && corral_launch_isatty($0.output) == 1 } ?? false
        let guestInit = try GuestInit(options, root: requestedRoot, nonce: nonce, umlDir: umlDir, interactive: interactive)
        let root = guestInit.root
        let initPath = guestInit.initPath
        let variables = guestInit.variables
        let markerNonce = guestInit.markerNonce

        let raid6 = options.raid6.resolve(disks: options.disks, opened: options.openedDisks)
        var commandLine = KernelCommandLine(
            memory: options.memory,
            root: root,
            initPath: initPath,
            disks: options.disks,
            umid: umid,
            umlDir: umlDir,
            quiet: !options.verbose,
            skippedInitcalls: raid6.skip ? RAID6Benchmark.initcalls : [],
            loopsPerJiffy: DelayLoop.hostLoopsPerJiffy(),
            legacyPseudoterminals: LegacyPseudoterminals.count,
            userspace: UserspaceMode.choose(kernelProfile, hostfsInit: guestInit.hostfsInit != nil,
                                            sandbox: options.sandbox, extraArguments: options.extraArguments),
            initVariables: variables,
            extraArguments: options.extraArguments
        )
        if markerNonce != nil, let command = options.command { commandLine.add(command: command) }
        try commandLine.validate()

        let policy = SandboxPolicy(mode: options.sandbox, writablePaths: writablePaths(options.disks, umlDir: umlDir),
                                   readablePaths: readablePaths(options, disks: options.disks, hostfsInit: guestInit.hostfsInit, root: root),
                                   user: options.sandboxUser)

        return BootPlan(
            kernelPath: kernelPath, kernelProfile: kernelProfile, commandLine: commandLine, nonce: markerNonce,
            hostfsInitPath: guestInit.hostfsInit, umlDir: umlDir, nonceFile: guestInit.nonceFile, policy: policy, options: options,
            interactive: interactive, raid6KeptFor: raid6.skip ? nil : raid6.keptFor)
    }

    /// `--root`: a host directory (trailing slashes dropped) or `ubdN`.
    static func root(_ options: BootOptions) throws(LauncherError) -> KernelCommandLine.Root {
        if let unit = parseRootUnit(options.root) { return .ubd(unit: unit, writable: options.rootWritable) }
        guard options.root.hasPrefix("/") else {
            throw .invalidRoot(options.root, reason: "give an absolute host directory, or ubdN for a disk")
        }
        var path = options.root
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return .hostfs(path: path, writable: options.rootWritable)
    }

    /// What the kernel may write (`SandboxPolicy.writablePaths`): each
    /// read-write disk file itself (not its directory: no file beside it, no
    /// sibling COW, no backing), and the boot's uml_dir. A missing COW is
    /// created by corral before the boot (``DiskCreation``), so the kernel
    /// never needs to create a file.
    static func writablePaths(_ disks: [DiskSpec], umlDir: String) -> [String] {
        var writable: [String] = []
        for disk in disks where !disk.isReadOnly {
            let file = PathResolution.absolute(disk.file)
            if !writable.contains(file) { writable.append(file) }
        }
        return writable + [umlDir]
    }

    /// What the kernel's root shows read-only beyond the host's system trees
    /// (`SandboxPolicy.readablePaths`): `:r` disks, every backing file (given,
    /// or named in the COW's header), hostfs-init's directory, a hostfs root
    /// other than /, `--share` directories, and what the caller adds (a
    /// job's script directory).
    static func readablePaths(_ options: BootOptions, disks: [DiskSpec], hostfsInit: String?,
                              root: KernelCommandLine.Root) -> [String] {
        var readable: [String] = []
        func add(_ path: String) {
            let absolute = PathResolution.absolute(path)
            if !readable.contains(absolute) { readable.append(absolute) }
        }
        for disk in disks {
            if disk.isReadOnly { add(disk.file) }
            // A disk the caller holds open (a job's staged disk) is not read again.
            let header = options.openedDisks[disk.unit].map { $0.cow?.header } ?? (try? COWFile(path: disk.file))?.header
            if let backing = disk.backing ?? header?.backingPathString {
                // A relative backing in a header is the kernel's, against its working directory.
                add(backing)
            }
        }
        if let hostfsInit { add(PathResolution.split(hostfsInit).directory) }
        if case let .hostfs(path, _) = root, path != "/" { add(path) }
        for path in options.sharedDirectories + options.readablePaths { add(path) }
        return readable
    }

    /// `ubd1`, `ubdb` → 1.
    static func parseRootUnit(_ text: String) -> Int? {
        guard text.hasPrefix("ubd") else { return nil }
        return DiskSpec.parseUnit(String(text.dropFirst(3)))
    }

    /// The guest sees host `root` as `/`, so hostfs-init must live under it.
    static func guestPath(of hostPath: String, root: String) throws(LauncherError) -> String {
        if root == "/" { return hostPath }
        if hostPath.hasPrefix(root + "/") { return String(hostPath.dropFirst(root.count)) }
        throw LauncherError.invalidRoot(
            root, reason: "hostfs-init (\(hostPath)) is outside it, so the guest cannot run it; pass --init")
    }

}
