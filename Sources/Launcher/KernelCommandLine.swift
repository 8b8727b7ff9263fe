/// The arguments given to `linux.uml`, as typed values.
///
/// UML joins its argv into the kernel command line, which splits on spaces
/// and treats '"' specially, so no value may contain whitespace or quotes.
/// Unknown `key=value` arguments become init's environment: that is how
/// hostfs-init receives its nonce and command (`InitVariable`).
public struct KernelCommandLine: Sendable, Equatable, Codable {
    /// Where `/` of the guest comes from.
    public enum Root: Sendable, Equatable, Codable {
        /// A host directory through hostfs (`rootflags=`); read-only unless `writable`.
        case hostfs(path: String, writable: Bool)
        /// A ubd unit (`root=/dev/ubdX`).
        case ubd(unit: Int, writable: Bool)

        var arguments: [String] {
            switch self {
            case let .hostfs(path, writable):
                return ["root=/dev/root", "rootfstype=hostfs", "rootflags=\(path)", writable ? "rw" : "ro"]
            case let .ubd(unit, writable):
                return ["root=/dev/ubd" + String(UnicodeScalar(UInt8(97 + unit))), writable ? "rw" : "ro"]
            }
        }
    }

    /// `con=null`, `con0=fd:0,fd:1`, `ssl=null`: a UML line and the host channel behind it.
    public struct Console: Sendable, Equatable, Codable {
        public var line: String
        public var channel: String
        public init(line: String, channel: String) {
            self.line = line
            self.channel = channel
        }
        /// Console 0 on the helper's fds 0 and 1 (the pty slave); every other
        /// console and serial line off, so UML opens no xterms or host ptys.
        public static let standard: [Console] = [
            Console(line: "con", channel: "null"),
            Console(line: "con0", channel: "fd:0,fd:1"),
            Console(line: "ssl", channel: "null"),
        ]
    }

    /// A `key=value` the kernel hands to init as an environment variable.
    public struct InitVariable: Sendable, Equatable, Codable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The kernel's COMMAND_LINE_SIZE less its NUL.
    public static let maximumLength = 4095

    public var memory: String
    public var root: Root
    /// `init=`; nil leaves the kernel's own search.
    public var initPath: String?
    public var disks: [DiskSpec]
    public var umid: String
    /// `uml_dir=`: where UML puts `<umid>/` (pid file, mconsole socket).
    public var umlDir: String?
    public var consoles: [Console]
    /// `quiet`: only kernel warnings and errors reach the console.
    public var quiet: Bool
    /// `initcall_blacklist=`: kernel initialisers not to run (``RAID6Benchmark``).
    public var skippedInitcalls: [String]
    /// `lpj=`: the delay loop's speed, so the kernel does not measure it (``DelayLoop``).
    public var loopsPerJiffy: Int?
    /// `pty.legacy_count=`: how many BSD pseudo-terminals (`/dev/ptyXY`) the
    /// kernel makes; nil leaves the kernel's own number (256 in Debian's
    /// builds). BootPlan asks for none (``LegacyPseudoterminals``).
    public var legacyPseudoterminals: Int?
    /// How guest processes run (``UserspaceMode``): `seccomp=on`, or the
    /// kernel's ptrace default.
    public var userspace: UserspaceMode
    public var initVariables: [InitVariable]
    /// Passed through unchanged, after everything corral sets, so they win.
    public var extraArguments: [String]

    public init(
        memory: String = "256M",
        root: Root = .hostfs(path: "/", writable: false),
        initPath: String? = nil,
        disks: [DiskSpec] = [],
        umid: String,
        umlDir: String? = nil,
        consoles: [Console] = Console.standard,
        quiet: Bool = true,
        skippedInitcalls: [String] = [],
        loopsPerJiffy: Int? = nil,
        legacyPseudoterminals: Int? = nil,
        userspace: UserspaceMode = .ptrace,
        initVariables: [InitVariable] = [],
        extraArguments: [String] = []
    ) {
        self.memory = memory
        self.root = root
        self.initPath = initPath
        self.disks = disks
        self.umid = umid
        self.umlDir = umlDir
        self.consoles = consoles
        self.quiet = quiet
        self.skippedInitcalls = skippedInitcalls
        self.loopsPerJiffy = loopsPerJiffy
        self.legacyPseudoterminals = legacyPseudoterminals
        self.userspace = userspace
        self.initVariables = initVariables
        self.extraArguments = extraArguments
    }

    /// The kernel's arguments, without argv[0].
    public var arguments: [String] {
        var args = ["mem=\(memory)"]
        args += root.arguments
        args += disks.sorted { $0.unit < $1.unit }.map(\.kernelArgument)
        args.append("umid=\(umid)")
        if let umlDir { args.append("uml_dir=\(umlDir)") }
        args += consoles.map { "\($0.line)=\($0.channel)" }
        if quiet { args.append("quiet") }
        if !skippedInitcalls.isEmpty { args.append("initcall_blacklist=" + skippedInitcalls.joined(separator: ",")) }
        if let loopsPerJiffy { args.append("lpj=\(loopsPerJiffy)") }
        if let legacyPseudoterminals { args.append("pty.legacy_count=\(legacyPseudoterminals)") }
        if let mode = userspace.kernelArgument { args.append(mode) }
        if let initPath { args.append("init=\(initPath)") }
        args += initVariables.map { "\($0.name)=\($0.value)" }
        args += extraArguments
        return args
    }

    /// Bytes of the command line UML builds: the arguments joined by spaces.
    public var length: Int {
        let args = arguments
        return args.reduce(0) { $0 + $1.utf8.count } + max(args.count - 1, 0)
    }

    /// The full argv: kernel path first.
    public func argv(kernel: String) -> [String] {
        [kernel] + arguments
    }

    /// Refuses what the kernel would misparse or reject.
    public func validate() throws(LauncherError) {
        if !KernelCommandLine.isValidMemory(memory) { throw LauncherError.invalidMemory(memory) }
        if !KernelCommandLine.isValidUmid(umid) { throw LauncherError.invalidUmid(umid) }
        switch root {
        case let .hostfs(path, _):
            if !path.hasPrefix("/") {
                throw LauncherError.invalidRoot(path, reason: "a hostfs root must be an absolute host directory")
            }
            if path.contains(",") {
                throw LauncherError.invalidRoot(path, reason: "hostfs root paths cannot contain ','")
            }
            if let reason = KernelCommandLine.unsafeReason(path) {
                throw LauncherError.invalidRoot(path, reason: reason)
            }
        case let .ubd(unit, _):
            if !(0..<DiskSpec.unitLimit).contains(unit) {
                throw LauncherError.invalidRoot("ubd\(unit)", reason: "unit must be below \(DiskSpec.unitLimit)")
            }
            if !disks.contains(where: { $0.unit == unit }) {
                throw LauncherError.invalidRoot(
                    "ubd\(unit)", reason: "no --disk \(unit)=FILE gives that unit; add one")
            }
        }
        var seen = Set<Int>()
        for disk in disks where !seen.insert(disk.unit).inserted {
            throw LauncherError.duplicateUnit(disk.unit)
        }
        for path in [initPath, umlDir].compactMap({ $0 }) {
            if let reason = KernelCommandLine.unsafeReason(path) {
                throw LauncherError.invalidPath(path, reason: reason)
            }
        }
        for name in skippedInitcalls where !KernelCommandLine.isValidSymbol(name) {
            throw LauncherError.invalidArgument("initcall_blacklist=\(name)", reason: "not a kernel function name")
        }
        for variable in initVariables {
            if let reason = KernelCommandLine.unsafeReason(variable.value) {
                throw LauncherError.invalidArgument("\(variable.name)=…", reason: reason)
            }
        }
        for arg in extraArguments {
            if arg.isEmpty { throw LauncherError.invalidArgument(arg, reason: "empty argument") }
            if let reason = KernelCommandLine.unsafeReason(arg) {
                throw LauncherError.invalidArgument(arg, reason: reason)
            }
        }
        if length > KernelCommandLine.maximumLength {
            throw LauncherError.commandLineTooLong(length)
        }
    }

    /// Why `value` cannot travel on the kernel command line, or nil if it can.
    ///
    /// Checked byte by byte, as the kernel reads it: its `isspace` splits
    /// arguments on 0x09-0x0D, 0x20 and also 0xA0 (Latin-1 no-break space,
    /// the second byte of UTF-8 U+00A0 and of many other characters), so a
    /// name holding such a byte would become two arguments, the second one
    /// chosen by whoever named the file. Every byte from 0x80 up is refused,
    /// with '"' (quoting) and the control characters.
    static func unsafeReason(_ value: String) -> String? {
        for byte in value.utf8 {
            if byte == 0x20 || (0x09...0x0D).contains(byte) {
                return "contains whitespace, which splits the kernel command line"
            }
            if byte == UInt8(ascii: "\"") { return "contains '\"', which the kernel command line treats as quoting" }
            if byte < 0x20 || byte == 0x7f { return "contains a control character" }
            if byte >= 0x80 {
                return "contains a byte above 0x7F (a non-ASCII character), which the kernel may split the command line on; rename the file or link it under an ASCII name"
            }
        }
        return nil
    }

    public static func isValidMemory(_ value: String) -> Bool {
        var digits = Substring(value)
        if let last = digits.last, "KkMmGg".contains(last) { digits = digits.dropLast() }
        return !digits.isEmpty && digits.count <= 12 && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func isValidSymbol(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return value.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }

    static func isValidUmid(_ value: String) -> Bool {
        (1...63).contains(value.utf8.count)
            && value.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || $0 == "." || $0 == "_" || $0 == "-"
            }
            && value != "." && value != ".."
    }
}
