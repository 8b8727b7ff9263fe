import ArgumentParser
import Foundation
import Launcher
import Sandbox

/// `corral boot`: boot linux.uml on a pty, with preflight, supervision and cleanup.
struct BootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Boot a User-Mode Linux kernel, optionally running one command in it.",
        discussion: """
            By default the guest's / is the host's / through hostfs, read-only, and
            corral's hostfs-init runs as PID 1: it mounts the guest's own /proc, /sys,
            /dev, /tmp and /run, runs --command (or a shell) and powers off.
            With --root ubdN, --command runs in the disk's own root (hostfs-init
            mounts it, read-write only with --root-rw, and chroots into it); without
            --command a disk root boots its own init (--init, default /sbin/init).

            Disks: --disk N=FILE[,BACKING][:FLAGS], N 0-15 (ubd0 is /dev/ubda), FLAGS
            from r (read-only), s (sync), d (raw, no COW), c (no locking), t (no trim).
            Paths with ',' or ':' cannot be given to the kernel.

            When stdin and stdout are a terminal the console is interactive (raw mode);
            press Ctrl-] then q to stop the guest. Otherwise stdin is passed to the
            command (or shell) once it starts, without echo. Kernel messages are hidden ('quiet') unless --verbose.

            Exit status: the guest command's status (0-255); 124 timed out; 128+N
            stopped by signal N (130 also for Ctrl-] q); 240 preflight failed; 241 the
            kernel could not be started; 242 init not reached; 243 kernel panic; 244 the
            command's status was lost; 64 usage error.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The UML kernel: a path, or a name looked up on PATH.", valueName: "PATH"))
    var kernel: String = Resources.defaultKernel

    @Option(name: .long, help: "Guest memory (mem=), e.g. 256M or 1G.")
    var memory: String = "256M"

    @Option(name: .long, help: ArgumentHelp("Root: an absolute host directory (hostfs) or ubdN for a disk.", valueName: "DIR|ubdN"))
    var root: String = "/"

    @Flag(name: .long, help: "Mount the root read-write (default read-only).")
    var rootRw = false

    @Option(name: .customLong("init"), help: ArgumentHelp("Init program in the guest instead of corral's hostfs-init (e.g. /bin/bash).", valueName: "PATH"))
    var initPath: String?

    @Option(name: .long, help: ArgumentHelp("A ubd disk: N=FILE[,BACKING][:FLAGS]. Repeatable.", valueName: "SPEC"))
    var disk: [String] = []

    @Option(name: .long, help: "UML instance id (umid=); random by default.")
    var umid: String?

    @Option(name: .long, help: ArgumentHelp("Run CMD in the guest (sh -c), print its output, exit with its status.", valueName: "CMD"))
    var command: String?

    @Option(name: .long, help: ArgumentHelp("Stop the guest after this many seconds (exit status 124).", valueName: "SECONDS"))
    var timeout: Double?

    @Option(name: .long, help: ArgumentHelp("Keep the full console transcript here, each line tagged kernel|, output| or corral|.", valueName: "FILE"))
    var log: String?

    // A plain String, not an ExpressibleByArgument conformance on
    // SandboxPolicy.Mode, so other commands can make their own choice.
    @Option(name: .long, help: ArgumentHelp("Sandbox for the kernel process tree: enforce or off.", valueName: "MODE"))
    var sandbox: String = SandboxPolicy.Mode.enforce.rawValue

    @Option(name: .long, help: ArgumentHelp("The kernel's 0.85 s RAID-6 benchmark: auto (run it only when a disk shows md, LVM, btrfs or a partition table), on, or off.", valueName: "MODE"))
    var raid6: String = RAID6Benchmark.auto.rawValue

    @Flag(name: .long, help: "Show kernel messages on stderr (no 'quiet') and the sandbox report.")
    var verbose = false

    @Flag(name: .long, help: "Print the kernel's argv, shell-quoted, one per line, and exit.")
    var dryRun = false

    @Option(name: .long, help: .hidden)
    var nonce: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("Extra kernel arguments, after --.", valueName: "KERNEL-ARG"))
    var kernelArguments: [String] = []

    func validate() throws {
        for spec in disk {
            do { _ = try DiskSpec(parsing: spec) } catch { throw ValidationError("\(error)") }
        }
        if SandboxPolicy.Mode(rawValue: sandbox) == nil {
            throw ValidationError("--sandbox must be enforce or off")
        }
        if RAID6Benchmark(rawValue: raid6) == nil {
            throw ValidationError("--raid6 must be auto, on or off")
        }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        if let nonce, nonce.isEmpty || !nonce.allSatisfy({ $0.isHexDigit }) {
            throw ValidationError("--nonce must be hexadecimal")
        }
    }

    func run() throws {
        var options = BootOptions()
        options.kernel = kernel
        options.memory = memory
        options.root = root
        options.rootWritable = rootRw
        options.initPath = initPath
        options.disks = try disk.map { try DiskSpec(parsing: $0) }
        options.umid = umid
        options.command = command
        options.timeout = timeout
        options.logPath = log
        options.sandbox = SandboxPolicy.Mode(rawValue: sandbox) ?? .enforce
        options.verbose = verbose
        options.raid6 = RAID6Benchmark(rawValue: raid6) ?? .auto
        options.extraArguments = kernelArguments
        options.nonce = nonce
        options.environment = ProcessInfo.processInfo.environment

        let plan: BootPlan
        do {
            plan = try BootPlan.make(options)
        } catch {
            // A command line the kernel cannot take is a preflight failure too: nothing ran.
            let status = BootExitStatus.preflightFailed
            BootWriter.standardError.write("corral: \(error)\n")
            throw ExitCode(status.code)
        }
        if dryRun {
            BootWriter.standardOutput.write(plan.dryRunText)
            return
        }
        let status = Boot.run(plan)
        throw ExitCode(status.code)
    }
}

/// Writes to fd 1 or 2 directly (Swift 6 has no usable stdout/stderr globals).
private struct BootWriter {
    let fd: Int32
    static let standardOutput = BootWriter(fd: 1)
    static let standardError = BootWriter(fd: 2)

    func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }
}
