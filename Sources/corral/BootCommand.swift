import ArgumentParser
import COWEngine
import Foundation
import Launcher
import Sandbox
import CorralSystem

/// `corral boot`: boot linux.uml on a pty, with preflight, supervision and cleanup.
struct BootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Boot a User-Mode Linux kernel, optionally running one command in it.",
        usage: "corral boot [<options>] [-- <command> ...]",
        discussion: """
            By default the guest's / is the host's / through hostfs, read-only, and
            corral's hostfs-init runs as PID 1: it mounts the guest's own /proc, /sys,
            /dev, /tmp and /run, runs the command (or a shell) and powers off. The
            command comes after -- (corral boot -- ls /) or as one shell string
            (--command 'ls /'); extra kernel arguments go in --kernel-arg. Booting
            needs root. With --root ubdN, the command runs in the disk's own root
            (hostfs-init mounts it, read-write only with --root-rw, and chroots into
            it); without a command a disk root boots its own init (--init, default
            /sbin/init).

            Disks: --disk N=FILE[,BACKING][:FLAGS], N 0-15 (ubd0 is /dev/ubda), FLAGS
            from r (read-only), s (sync), d (raw, no COW), c (no locking), t (no trim).
            Paths with ',' or ':' cannot be given to the kernel.

            When stdin and stdout are a terminal the console is interactive (raw mode);
            press Ctrl-] then q to stop the guest. Otherwise stdin is passed to the
            command (or shell) once it starts, without echo. Kernel messages are hidden ('quiet') unless --verbose.

            Exit status: the guest command's status (0-255); 124 timed out; 128+N
            stopped by signal N (130 also for Ctrl-] q); 240 preflight failed (or not
            root); 241 the kernel could not be started; 242 init not reached or failed;
            243 kernel panic; 244 the command's status was lost; 64 usage error.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The UML kernel: a path, or a name looked up on PATH.", valueName: "PATH"), completion: .file())
    var kernel: String = Resources.defaultKernel

    @Option(name: .long, help: "Guest memory (mem=), e.g. 256M or 1G.")
    var memory: String = "256M"

    @Option(name: .long, help: ArgumentHelp("Root: an absolute host directory (hostfs) or ubdN for a disk.", valueName: "DIR|ubdN"))
    var root: String = "/"

    @Flag(name: .long, help: "Mount the root read-write (default read-only).")
    var rootRw = false

    @Option(name: .customLong("init"), help: ArgumentHelp("Init program in the guest instead of corral's hostfs-init (e.g. /bin/bash).", valueName: "PATH"))
    var initPath: String?

    @Option(name: .long, help: ArgumentHelp("A ubd disk: N=FILE[,BACKING][:FLAGS]. Repeatable.", valueName: "SPEC"), completion: CompletionValues.disk)
    var disk: [String] = []

    @Option(name: .long, help: ArgumentHelp("Show the guest this host directory, read-only, at the same path (mount -t hostfs -o DIR none MOUNTPOINT in the guest); under the sandbox nothing else of the host but the system trees is there. Repeatable.", valueName: "DIR"), completion: .directory)
    var share: [String] = []

    @Option(name: .long, help: "UML instance id (umid=); random by default.")
    var umid: String?

    @Option(name: .long, help: ArgumentHelp("Run CMD in the guest (sh -c), print its output, exit with its status; the same as -- CMD as one string.", valueName: "CMD"))
    var command: String?

    @Option(name: .customLong("kernel-arg"), help: ArgumentHelp("Append ARG to the kernel command line (e.g. loglevel=4). Repeatable.", valueName: "ARG"))
    var kernelArgs: [String] = []

    @Option(name: .long, help: ArgumentHelp("Stop the guest after this many seconds, counted from corral's start (exit status 124).", valueName: "SECONDS"))
    var timeout: Double?

    @Option(name: .long, help: ArgumentHelp("Keep the full console transcript here, each line tagged kernel|, output| or corral|.", valueName: "FILE"), completion: .file())
    var log: String?

    // A plain String, not an ExpressibleByArgument conformance on
    // SandboxPolicy.Mode, so other commands can make their own choice.
    @Option(name: .long, help: ArgumentHelp("Sandbox for the kernel process tree: enforce or off.", valueName: "MODE"), completion: CompletionValues.sandboxModes)
    var sandbox: String = SandboxPolicy.Mode.enforce.rawValue

    @Option(name: .customLong("sandbox-user"), help: ArgumentHelp("Run the sandboxed kernel as USER; 'root' runs it as root where its own uid cannot work (default: a uid of its own for the boot).", valueName: "USER"))
    var sandboxUser: String?

    @Option(name: .long, help: ArgumentHelp("The kernel's 0.85 s RAID-6 benchmark: auto (run it only when a disk shows md, LVM, btrfs or a partition table), on, or off.", valueName: "MODE"), completion: CompletionValues.raid6Modes)
    var raid6: String = RAID6Benchmark.auto.rawValue

    @Flag(name: .long, help: "Show kernel messages on stderr (no 'quiet') and the sandbox report.")
    var verbose = false

    @OptionGroup var output: JSONOutputOptions

    @Flag(name: .long, help: "Print the kernel's argv, shell-quoted, one per line, and exit.")
    var dryRun = false

    @OptionGroup var blockDevice: BlockDeviceOption

    @Option(name: .long, help: .hidden)
    var nonce: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run in the guest, after --.", valueName: "COMMAND"))
    var commandWords: [String] = []

    func validate() throws {
        try output.validate()
        for spec in disk {
            do { _ = try DiskSpec(parsing: spec) } catch { throw ValidationError("\(error)") }
        }
        if SandboxPolicy.Mode(rawValue: sandbox) == nil {
            throw ValidationError("--sandbox must be enforce or off")
        }
        if sandboxUser != nil && sandbox == SandboxPolicy.Mode.off.rawValue {
            throw ValidationError("--sandbox-user needs the sandbox; it does nothing with --sandbox off")
        }
        if sandboxUser?.isEmpty == true { throw ValidationError("--sandbox-user is empty; give an account name or root") }
        if RAID6Benchmark(rawValue: raid6) == nil {
            throw ValidationError("--raid6 must be auto, on or off")
        }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        if let nonce, nonce.isEmpty || !nonce.allSatisfy({ $0.isHexDigit }) {
            throw ValidationError("--nonce must be hexadecimal")
        }
        if command?.isEmpty == true {
            throw ValidationError("--command is empty; give a shell command, e.g. --command 'ls /'")
        }
        if command != nil && !commandWords.isEmpty {
            throw ValidationError("give the command either after -- or with --command, not both")
        }
        if output.isJSON && guestCommand == nil && !dryRun {
            throw ValidationError("--json needs a command (-- CMD or --command CMD): an interactive shell has no result to report")
        }
        for argument in kernelArgs {
            let key = String(argument.prefix { $0 != "=" })
            if let option = Self.reservedKernelArguments[key] {
                throw ValidationError("--kernel-arg \(argument): corral sets \(key)= itself; use \(option)")
            }
            if key.hasPrefix("corral_") {
                throw ValidationError("--kernel-arg \(argument): corral_* variables are hostfs-init's protocol; give the command after -- or with --command")
            }
        }
        if !dryRun { try GuestOptionsCheck.validate(kernel: kernel, memory: memory) }
    }

    /// Kernel arguments corral writes from its own options: a second copy in
    /// --kernel-arg would override them (a later init= replaces hostfs-init,
    /// and the boot waits for a command that never runs).
    static let reservedKernelArguments = [
        "init": "--init PATH", "root": "--root", "rootfstype": "--root", "rootflags": "--root",
        "mem": "--memory", "umid": "--umid", "uml_dir": "--umid",
    ]

    /// The command to run: --command as is, or the words after -- joined
    /// with shell quoting (one word is taken as shell text, like --command).
    var guestCommand: String? {
        if let command { return command }
        if commandWords.isEmpty { return nil }
        return commandWords.count == 1 ? commandWords[0] : commandWords.map(Shell.quote).joined(separator: " ")
    }

    func run() throws {
        // A helper spawned as corral started and not taken by the boot.
        defer { EarlyKernelHelper.discard() }
        // The --timeout clock starts here, before any file is opened.
        let start = MonotonicClock.now()
        if !dryRun { SandboxRunner.warmUpCgroupMove(mode: SandboxPolicy.Mode(rawValue: sandbox) ?? .enforce) }
        if let timeout, !dryRun {
            Watchdog.arm(deadline: start.advanced(bySeconds: timeout), what: "a disk, the kernel or the console")
        }
        var options = BootOptions()
        options.kernel = kernel
        options.memory = memory
        options.root = root
        options.rootWritable = rootRw
        options.initPath = initPath
        options.disks = try disk.map { try DiskSpec(parsing: $0) }
        try blockDevice.check(options.disks.map(\.backing))
        options.sharedDirectories = share
        options.umid = umid
        options.command = guestCommand
        options.timeout = timeout
        options.timeoutStart = start.seconds
        options.logPath = log
        options.sandbox = SandboxPolicy.Mode(rawValue: sandbox) ?? .enforce
        options.sandboxUser = sandboxUser
        options.verbose = verbose
        options.raid6 = RAID6Benchmark(rawValue: raid6) ?? .auto
        options.extraArguments = kernelArgs
        options.nonce = nonce
        options.environment = ProcessInfo.processInfo.environment
        let capture = output.isJSON ? OutputCapture() : nil
        options.observer = capture
        options.events = BootEventPrinter.handler
        options.streams = Console.streams

        let plan: BootPlan
        do {
            plan = try BootPlan.make(options)
        } catch where error.isUsageMistake {
            // A value no boot could take (--root, --umid, a kernel argument):
            // a usage error like any other, whatever the host.
            throw CLIError(message: "\(error)", hint: "run 'corral boot --help' for usage", status: 64)
        } catch {
            // The host cannot boot this (no hostfs-init, …): a preflight failure; nothing ran.
            let status = BootExitStatus.preflightFailed
            Console.write(2, "corral: \(error)\n")
            if output.isJSON { try BootResult(status: status, duration: start, plan: nil, options: options, output: nil).print() }
            throw ExitCode(status.code)
        }
        if dryRun {
            Console.write(1, plan.dryRunText)
            return
        }
        let status = Boot.run(plan)
        if let capture {
            try BootResult(status: status, duration: start, plan: plan, options: options, output: capture.text).print()
        }
        throw ExitCode(status.code)
    }
}

/// `corral boot --json`: how the boot ended, how long it took, where its
/// transcript is, and (with a command) what the command printed.
struct BootResult: Encodable {
    /// The exit status corral ends with.
    var status: Int32
    /// Why corral chose the status when it was not the command's own; null otherwise.
    @NullWhenAbsent var reason: String?
    @NullWhenAbsent var command: String?
    /// The command's output (stdout and stderr, as the console carried them).
    @NullWhenAbsent var output: String?
    /// Seconds from corral's start to the end of the boot.
    var duration: Double
    /// The --log file, or null.
    @NullWhenAbsent var transcript: String?
    /// Whether a disk the guest could write was attached to a guest that ran.
    var changed: Bool

    init(status: BootExitStatus, duration start: MonotonicClock.Instant, plan: BootPlan?, options: BootOptions, output: String?) {
        self.status = status.code
        reason = status.explanation
        command = options.command
        self.output = output
        duration = (MonotonicClock.now().seconds(since: start) * 1000).rounded() / 1000
        transcript = options.logPath.map(PathResolution.absolute)
        let ran = ![.preflightFailed, .launchFailed].contains(status)
        changed = ran && plan != nil && options.disks.contains { !$0.isReadOnly }
    }

    func print() throws { try Console.json(self) }
}

/// Keeps a boot's command output for `--json` instead of writing it to stdout.
final class OutputCapture: BootObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    /// Output past this is dropped (the JSON says so at its end).
    static let limit = 16 << 20
    private var dropped = 0

    func output(_ chunk: [UInt8]) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        let room = max(0, Self.limit - bytes.count)
        bytes += chunk.prefix(room)
        dropped += max(0, chunk.count - room)
        return []
    }

    func outputEnded() -> [UInt8] { [] }
    func stopReason(now: Double) -> String? { nil }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        let body = String(decoding: bytes, as: UTF8.self)
        return dropped > 0 ? body + "\n[\(dropped) more bytes not kept]\n" : body
    }
}
