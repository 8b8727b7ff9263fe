import COWEngine

/// What runs as the guest's PID 1 and what it is told: corral's hostfs-init
/// (with the nonce, how console input comes, and a disk root's command),
/// the user's `--init`, or a disk root's own init. Part of ``BootPlan/make(_:)``.
struct GuestInit {
    /// The root the kernel boots: a disk root with a command boots the
    /// host's / instead, and hostfs-init chroots into the disk.
    var root: KernelCommandLine.Root
    var initPath: String?
    /// hostfs-init's path on the host, when it is the init.
    var hostfsInit: String?
    var variables: [KernelCommandLine.InitVariable] = []
    /// The nonce hostfs-init frames the command with; nil without hostfs-init.
    var markerNonce: String?
    /// The host file that hands the guest its nonce, or nil when the command line carries it.
    var nonceFile: String?

    init(_ options: BootOptions, root requested: KernelCommandLine.Root, nonce: String, umlDir: String,
         interactive: Bool) throws(LauncherError) {
        root = requested
        initPath = options.initPath
        if initPath == nil, options.command != nil, case let .ubd(unit, writable) = root {
            // A command for a disk-root guest: the kernel boots the host's /
            // (read-only) with hostfs-init, which mounts the disk and runs the
            // command chrooted into it (DiskRootCommand), so the command gets
            // the guest's own programs, the nonce-framed exit status and a
            // clean unmount; the guest's own init never runs.
            guard options.disks.contains(where: { $0.unit == unit }) else {
                throw .invalidRoot("ubd\(unit)", reason: "no --disk \(unit)=FILE gives that unit; add one")
            }
            variables += DiskRootCommand(unit: unit, writable: writable).initVariables
            root = .hostfs(path: "/", writable: false)
        } else if initPath == nil, case .ubd = root {
            // The kernel's own search would fall back to /bin/sh on a disk
            // without /sbin/init (Debian minbase), a shell that never hears the
            // end of a console it opened late: a boot that hangs. Naming the
            // init makes that a panic that says which program is missing.
            initPath = DiskRootCommand.defaultInit
        }
        if initPath == nil, case let .hostfs(rootPath, _) = root {
            try useHostfsInit(options, rootPath: rootPath, nonce: nonce, umlDir: umlDir, interactive: interactive)
        } else if options.command != nil {
            throw .commandNeedsHostfsInit
        }
    }

    private mutating func useHostfsInit(_ options: BootOptions, rootPath: String, nonce: String, umlDir: String,
                                        interactive: Bool) throws(LauncherError) {
        let hostPath = try Resources.hostfsInit(environment: options.environment, executable: Resources.currentExecutable())
        hostfsInit = hostPath
        initPath = try BootPlan.guestPath(of: hostPath, root: rootPath)
        markerNonce = nonce
        // The nonce goes in a file that corral removes as soon as the
        // guest has opened it (BootSession), not on the command line,
        // which any guest process can read in /proc/cmdline and use to
        // forge the command's exit status. A hostfs root that does not
        // hold the runtime directory cannot reach the file: then the
        // command line carries it (hostfs-init(8)).
        if let guestFile = try? BootPlan.guestPath(of: "\(umlDir)/\(BootPlan.nonceFileName)", root: rootPath) {
            nonceFile = "\(umlDir)/\(BootPlan.nonceFileName)"
            variables.append(.init(name: "corral_nonce_file", value: guestFile))
        } else {
            variables.append(.init(name: "corral_nonce", value: nonce))
        }
        let input = options.input ?? options.streams.map { ConsoleInput.of(standardInput: $0.input, interactive: interactive) } ?? .none
        variables.append(.init(name: "corral_input", value: input.rawValue))
    }
}
