#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import Launcher

@Suite struct BootPlanTests {
    func options(_ edit: (inout BootOptions) -> Void) -> BootOptions {
        var o = BootOptions()
        o.kernel = "/opt/uml/linux"
        o.umid = "plan1"
        o.nonce = "ab12"
        o.interactive = false
        o.input = .stream
        o.environment = ["TMPDIR": "/var/tmp", "CORRAL_DATA_DIR": TestPaths.packageRootURL.path]
        edit(&o)
        return o
    }

    @Test func hostfsRootUsesHostfsInitWithNonceAndCommand() throws {
        let plan = try BootPlan.make(options { $0.command = "exit 3" })
        let hostfsInit = TestPaths.packageRootURL.path + "/hostfs-init/hostfs-init"
        #expect(plan.hostfsInitPath == hostfsInit)
        #expect(plan.nonce == "ab12")
        // /var/tmp is shared (mode 1777): root's runtime state goes to /run/corral.
        let base = RuntimeDirectory.base(environment: ["TMPDIR": "/var/tmp"])
        // Another user's: its own ~/.cache/corral, never a shared /tmp name.
        #expect(geteuid() == 0 ? base == "/run/corral" : base.hasSuffix("/.cache/corral"))
        #expect(plan.umlDir == "\(base)/corral-boot-plan1")
        #expect(plan.argv.contains("init=\(hostfsInit)"))
        // The nonce itself is in a file, never on the command line.
        #expect(plan.argv.suffix(3) == ["corral_nonce_file=\(base)/corral-boot-plan1/nonce", "corral_input=pipe", "corral_cmd=exit\\00403"])
        #expect(plan.nonceFile == "\(base)/corral-boot-plan1/nonce")
        #expect(!plan.argv.contains { $0.contains("ab12") })
        #expect(plan.policy.mode == .enforce)
        #expect(plan.policy.writablePaths == ["\(base)/corral-boot-plan1"])
    }

    /// The kernel writes its read-write disk files and uml_dir only; `:r`
    /// disks, backing files and hostfs-init's directory are read-only in
    /// its root (`JailRoot`).
    @Test func writableAreTheReadWriteDiskFilesOnly() throws {
        let plan = try BootPlan.make(options {
            $0.command = "true"
            $0.disks = [try! DiskSpec(parsing: "0=/images/guest.cow,/images/base.img"),
                        try! DiskSpec(parsing: "1=/images/shared.img:r")]
            $0.readablePaths = ["/srv/job"]
        })
        #expect(plan.policy.writablePaths == ["/images/guest.cow", plan.umlDir])
        // --share: an existing directory is readable; anything else is refused before boot.
        let shared = try BootPlan.make(options { $0.command = "true"; $0.sharedDirectories = ["/usr/share"] })
        #expect(shared.policy.readablePaths.contains("/usr/share"))
        #expect(throws: LauncherError.self) {
            try BootPlan.make(options { $0.command = "true"; $0.sharedDirectories = ["/nonexistent-corral-share"] })
        }
        #expect(plan.policy.readablePaths == ["/images/base.img", "/images/shared.img",
                                              TestPaths.packageRootURL.path + "/hostfs-init", "/srv/job"])
    }

    @Test func diskRootNamesItsInit() throws {
        let plan = try BootPlan.make(options {
            $0.root = "ubd0"
            $0.disks = [try! DiskSpec(parsing: "0=/images/root.img")]
            $0.sandbox = .off
        })
        #expect(plan.nonce == nil)
        #expect(plan.hostfsInitPath == nil)
        #expect(plan.argv.contains("root=/dev/ubda"))
        // Named, so a disk without it panics with its name instead of
        // falling back to a /bin/sh that waits forever.
        #expect(plan.argv.contains("init=/sbin/init"))
        #expect(!plan.argv.contains { $0.hasPrefix("corral_") })
        let base = RuntimeDirectory.base(environment: ["TMPDIR": "/var/tmp"])
        // The disk file itself, not its directory.
        #expect(plan.policy.writablePaths == ["/images/root.img", "\(base)/corral-boot-plan1"])
        // Its own --init still cannot be given a command.
        #expect(throws: LauncherError.commandNeedsHostfsInit) {
            try BootPlan.make(options {
                $0.root = "ubdb"
                $0.initPath = "/bin/sh"
                $0.disks = [try! DiskSpec(parsing: "1=/images/root.img")]
                $0.command = "true"
            })
        }
    }

    @Test func diskRootCommandRunsThroughHostfsInitChrootedIntoTheDisk() throws {
        let plan = try BootPlan.make(options {
            $0.root = "ubdb"
            $0.disks = [try! DiskSpec(parsing: "1=/images/root.img")]
            $0.command = "dpkg -l"
        })
        let hostfsInit = TestPaths.packageRootURL.path + "/hostfs-init/hostfs-init"
        #expect(plan.hostfsInitPath == hostfsInit)
        #expect(plan.nonce == "ab12")
        #expect(plan.argv.contains("rootflags=/") && plan.argv.contains("ro"))
        #expect(!plan.argv.contains("root=/dev/ubdb"))
        #expect(plan.argv.contains("corral_chroot=/dev/ubdb"))
        #expect(plan.argv.contains("corral_chroot_mode=ro"))
        let writable = try BootPlan.make(options {
            $0.root = "ubd1"
            $0.rootWritable = true
            $0.disks = [try! DiskSpec(parsing: "1=/images/root.img")]
            $0.command = "true"
        })
        #expect(writable.argv.contains("corral_chroot_mode=rw"))
        // The unit must be one of the disks.
        #expect(throws: LauncherError.self) {
            try BootPlan.make(options {
                $0.root = "ubd2"
                $0.disks = [try! DiskSpec(parsing: "1=/images/root.img")]
                $0.command = "true"
            })
        }
    }

    @Test func hostfsInitMustBeInsideAHostfsRoot() {
        #expect(throws: LauncherError.self) { try BootPlan.make(options { $0.root = "/srv/elsewhere" }) }
        #expect(throws: LauncherError.self) { try BootPlan.make(options { $0.root = "relative/dir" }) }
        // With its own init, any host directory can be the root.
        #expect(throws: Never.self) {
            try BootPlan.make(options { $0.root = "/srv/elsewhere/"; $0.initPath = "/bin/sh" })
        }
    }

    @Test func hostfsInitIsFoundFromTheDataDirectoryOrNotAtAll() {
        #expect(throws: LauncherError.self) {
            try Resources.hostfsInit(environment: ["CORRAL_DATA_DIR": "/nonexistent"], executable: "/nonexistent/bin/corral")
        }
        let found = try? Resources.hostfsInit(environment: [:], executable: TestPaths.corral)
        #expect(found == TestPaths.packageRootURL.path + "/hostfs-init/hostfs-init")
    }

    @Test func longCommandsFallBackToBase64ThenAreRefused() throws {
        // 800 spaces: 4000 bytes escaped, too long with the rest; 1072 in base64.
        let spaced = String(repeating: " ", count: 800) + "true"
        let plan = try BootPlan.make(options { $0.command = spaced })
        let variable = try #require(plan.argv.last)
        #expect(variable == "corral_cmd64=" + InitCommandEncoding.base64(Array(spaced.utf8)))
        #expect(!plan.argv.contains { $0.hasPrefix("corral_cmd=") })
        #expect(plan.commandLine.length <= KernelCommandLine.maximumLength)
        // Too long either way: the command line's own limit.
        #expect(throws: LauncherError.self) {
            try BootPlan.make(options { $0.command = String(repeating: " ", count: 3500) })
        }
    }

    @Test func consoleInputIsToldToInit() throws {
        for input in [ConsoleInput.terminal, .stream, .none] {
            let plan = try BootPlan.make(options { $0.input = input; $0.command = "true" })
            #expect(plan.argv.contains("corral_input=\(input.rawValue)"))
        }
        #expect(ConsoleInput.of(standardInput: 0, interactive: true) == .terminal)
        let null = open("/dev/null", O_RDONLY)
        defer { close(null) }
        #expect(ConsoleInput.of(standardInput: null, interactive: false) == .none)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(ConsoleInput.of(standardInput: fds[0], interactive: false) == .stream)
        // A closed descriptor can never be read either.
        #expect(ConsoleInput.of(standardInput: 999, interactive: false) == .none)
    }

    @Test func raid6BenchmarkIsSkippedUnlessADiskMayHoldRAID() throws {
        try Scratch.with("corral-launcher-test") { dir in
            let plain = dir.appendingPathComponent("plain.img").path
            let btrfs = dir.appendingPathComponent("btrfs.img").path
            #expect(try shellResult("truncate -s 1M '\(plain)' '\(btrfs)' && printf '_BHRfS_M' | dd of='\(btrfs)' bs=1 seek=65600 conv=notrunc status=none", mergeStderr: true).status == 0)
            let skip = "initcall_blacklist=raid6_select_algo,raid6_init"
            let none = try BootPlan.make(options { _ in })
            #expect(none.argv.contains(skip))
            #expect(none.raid6KeptFor == nil)
            let onPlain = try BootPlan.make(options { $0.disks = [try! DiskSpec(parsing: "1=\(plain)")] })
            #expect(onPlain.argv.contains(skip))
            let onBtrfs = try BootPlan.make(options { $0.disks = [try! DiskSpec(parsing: "1=\(plain)"), try! DiskSpec(parsing: "2=\(btrfs)")] })
            #expect(!onBtrfs.argv.contains { $0.hasPrefix("initcall_blacklist") })
            #expect(onBtrfs.raid6KeptFor?.contains("ubd2") == true)
            #expect(onBtrfs.raid6KeptFor?.contains("btrfs") == true)
            // A COW the kernel will create over that backing shows the backing.
            let created = try BootPlan.make(options { $0.disks = [try! DiskSpec(parsing: "1=\(dir.path)/new.cow,\(btrfs)")] })
            #expect(!created.argv.contains(skip))
            #expect(try BootPlan.make(options { $0.raid6 = .on }).raid6KeptFor == "--raid6 on")
            #expect(!(try BootPlan.make(options { $0.raid6 = .on }).argv.contains(skip)))
            #expect(try BootPlan.make(options { $0.raid6 = .off; $0.disks = [try! DiskSpec(parsing: "1=\(btrfs)")] }).argv.contains(skip))
        }
    }

    @Test func emptyCommandIsRefused() {
        #expect(throws: LauncherError.self) { try BootPlan.make(options { $0.command = "" }) }
    }
}
