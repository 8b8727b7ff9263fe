import COWEngine
import CorralSystem
import Testing
import TestSupport
@testable import Launcher

@Suite struct KernelCommandLineTests {
    @Test func defaultsRenderInOrder() throws {
        let line = KernelCommandLine(
            disks: [try DiskSpec(parsing: "2=b.img:r"), try DiskSpec(parsing: "1=a.cow,base.img")],
            umid: "vm1", umlDir: "/tmp/corral-boot-vm1",
            initVariables: [.init(name: "corral_nonce", value: "ff")],
            extraArguments: ["loglevel=7"])
        try line.validate()
        #expect(line.argv(kernel: "/usr/bin/linux.uml") == [
            "/usr/bin/linux.uml", "mem=256M",
            "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
            "ubd1=a.cow,base.img", "ubd2r=b.img",
            "umid=vm1", "uml_dir=/tmp/corral-boot-vm1",
            "con=null", "con0=fd:0,fd:1", "ssl=null", "quiet",
            "corral_nonce=ff", "loglevel=7",
        ])
    }

    @Test func rootVariants() throws {
        var line = KernelCommandLine(root: .hostfs(path: "/srv/tree", writable: true), umid: "x", quiet: false)
        #expect(line.arguments.prefix(5) == ["mem=256M", "root=/dev/root", "rootfstype=hostfs", "rootflags=/srv/tree", "rw"])
        #expect(!line.arguments.contains("quiet"))
        line.root = .ubd(unit: 0, writable: false)
        line.initPath = "/bin/bash"
        #expect(throws: LauncherError.self) { try line.validate() }  // no disk 0
        line.disks = [try DiskSpec(parsing: "0=root.img")]
        try line.validate()
        #expect(line.arguments.contains("root=/dev/ubda"))
        #expect(line.arguments.contains("init=/bin/bash"))
    }

    @Test func refusals() throws {
        let base = KernelCommandLine(umid: "x")
        var bad = base
        bad.memory = "lots"
        #expect(throws: LauncherError.invalidMemory("lots")) { try bad.validate() }
        bad = base
        bad.umid = "a/b"
        #expect(throws: LauncherError.invalidUmid("a/b")) { try bad.validate() }
        bad = base
        bad.disks = [try DiskSpec(parsing: "1=a"), try DiskSpec(parsing: "1=b")]
        #expect(throws: LauncherError.duplicateUnit(1)) { try bad.validate() }
        bad = base
        bad.extraArguments = ["foo=\"bar"]
        #expect(throws: LauncherError.self) { try bad.validate() }
        bad = base
        bad.root = .hostfs(path: "relative", writable: false)
        #expect(throws: LauncherError.self) { try bad.validate() }
    }

    @Test func commandLineLengthLimit() throws {
        var line = KernelCommandLine(umid: "x")
        let fixed = line.arguments.joined(separator: " ").utf8.count
        line.extraArguments = ["k=" + String(repeating: "v", count: 4095 - fixed - 1 - 2)]
        try line.validate()
        line.extraArguments[0] += "v"
        #expect(throws: LauncherError.commandLineTooLong(4096)) { try line.validate() }
    }

    @Test func memoryForms() {
        for ok in ["256M", "1G", "65536K", "1048576", "2g"] { #expect(KernelCommandLine.isValidMemory(ok), "\(ok)") }
        for bad in ["", "M", "1.5G", "256MB", "-1M"] { #expect(!KernelCommandLine.isValidMemory(bad), "\(bad)") }
    }

    @Test func shellQuoting() {
        #expect(Shell.quote("ubd1=a.cow,b.img") == "ubd1=a.cow,b.img")
        #expect(Shell.quote("") == "''")
        #expect(Shell.quote("a b") == "'a b'")
        #expect(Shell.quote("it's") == "'it'\\''s'")
        #expect(Shell.quote("$HOME") == "'$HOME'")
    }

    @Test func base64MatchesTheStandardAlphabet() {
        #expect(InitCommandEncoding.base64(Array("".utf8)) == "")
        #expect(InitCommandEncoding.base64(Array("f".utf8)) == "Zg==")
        #expect(InitCommandEncoding.base64(Array("fo".utf8)) == "Zm8=")
        #expect(InitCommandEncoding.base64(Array("foo".utf8)) == "Zm9v")
        #expect(InitCommandEncoding.base64(Array("exit 42; echo \"x\" >&2".utf8)) == "ZXhpdCA0MjsgZWNobyAieCIgPiYy")
        #expect(InitCommandEncoding.base64([0xfb, 0xff]) == "+/8=")
    }

    /// Every byte but NUL (argv cannot hold one), in a text hostfs-init
    /// decodes with the same `/bin/sh` and `base64` the guest runs (its
    /// root is the host's), trailing newlines included.
    static let everyByte: String = {
        let bytes = (1...255).map { UInt8($0) } + Array("\\c %b %s \\0041\n\n".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }()

    @Test func escapedFormCarriesOnlyKernelSafeBytesAndDecodesWithPrintf() throws {
        for text in [Self.everyByte, "echo 'hi there'", "", "\\", "a\"b", "tab\tnl\n", "ünïcode ✓", "\\c after"] {
            let encoded = InitCommandEncoding.escape(Array(text.utf8))
            #expect(KernelCommandLine.unsafeReason(encoded) == nil, "\(encoded)")
            #expect(!encoded.unicodeScalars.contains { $0.value > 0x7e })
            // hostfs-init: command_text=$(printf '%b_' "$corral_cmd"); command_text=${command_text%_}
            let decoded = try runProcess("/bin/sh", ["-c", "x=$(printf '%b_' \"$1\"); printf '%s' \"${x%_}\"", "sh", encoded])
            #expect(decoded.stdout == text, "\(text.debugDescription)")
        }
        #expect(InitCommandEncoding.escape(Array("a b\"\\".utf8)) == "a\\0040b\\0042\\0134")
    }

    @Test func base64FormDecodesWithTheHostsBase64() throws {
        let encoded = InitCommandEncoding.base64(Array(Self.everyByte.utf8))
        #expect(KernelCommandLine.unsafeReason(encoded) == nil)
        let decoded = try runProcess("/bin/sh", ["-c", "x=$(printf '%s' \"$1\" | base64 -d && echo _); printf '%s' \"${x%_}\"", "sh", encoded])
        #expect(decoded.stdout == Self.everyByte)
    }

    @Test func skippedInitcallsBecomeOneBlacklist() throws {
        var line = KernelCommandLine(umid: "u1", skippedInitcalls: ["raid6_select_algo", "other_init"])
        #expect(line.arguments.contains("initcall_blacklist=raid6_select_algo,other_init"))
        try line.validate()
        line.skippedInitcalls = ["bad name"]
        #expect(throws: LauncherError.self) { try line.validate() }
        line.skippedInitcalls = []
        #expect(!line.arguments.contains { $0.hasPrefix("initcall_blacklist") })
    }

    /// `lpj=` comes from the host's BogoMIPS at the kernel's HZ 100, before
    /// the caller's own arguments (so `--kernel-arg lpj=0` still wins); no
    /// BogoMIPS line, or a nonsense one, gives no `lpj=` at all.
    @Test func theDelayLoopSpeedComesFromTheHostsBogoMIPS() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.148\nbogomips\t: 5192.29\n"
        #expect(DelayLoop.loopsPerJiffy(cpuinfo: cpuinfo) == 25_961_450)
        #expect(DelayLoop.loopsPerJiffy(cpuinfo: "BogoMIPS\t: 100.00\n") == 500_000)
        for bad in ["", "cpu MHz : 2596\n", "bogomips : fast\n", "bogomips : -1\n", "bogomips : nan\n", "bogomips : 1e300\n"] {
            #expect(DelayLoop.loopsPerJiffy(cpuinfo: bad) == nil, "\(bad)")
        }
        let line = KernelCommandLine(umid: "u1", loopsPerJiffy: 25_961_450, extraArguments: ["lpj=0"])
        let args = line.arguments
        #expect(args.contains("lpj=25961450"))
        #expect(args.firstIndex(of: "lpj=25961450")! < args.firstIndex(of: "lpj=0")!)
        #expect(!KernelCommandLine(umid: "u1").arguments.contains { $0.hasPrefix("lpj=") })
    }

    @Test func legacyPtysAreAskedForBeforeTheUsersArguments() {
        let args = KernelCommandLine(umid: "u1", legacyPseudoterminals: 0, extraArguments: ["pty.legacy_count=4"]).arguments
        #expect(args.filter { $0.hasPrefix("pty.legacy_count=") } == ["pty.legacy_count=0", "pty.legacy_count=4"])
        #expect(!KernelCommandLine(umid: "u1").arguments.contains { $0.hasPrefix("pty.") })
    }

    @Test func exitStatusesAreDistinct() {
        let corralSide: [BootExitStatus] = [
            .timedOut, .interrupted(signal: 2), .interrupted(signal: 15), .preflightFailed,
            .launchFailed, .initNotReached, .kernelPanic, .statusLost,
        ]
        let codes = corralSide.map(\.code)
        #expect(Set(codes).count == codes.count)
        #expect(codes == [124, 130, 143, 240, 241, 242, 243, 244])
        #expect(BootExitStatus.guest(42).code == 42)
        #expect(BootExitStatus.guest(42).explanation == nil)
    }
}
