/// One `ubdN` disk as the UML 6.1 kernel parses it (spec §4.1):
/// `ubd<unit><flags>=<file>[,<backing>]`.
///
/// The kernel splits the file fields on the first ',' or ':' and has no
/// escaping, so a path holding either character cannot be expressed; such
/// paths are refused here rather than silently truncated by the kernel.
public struct DiskSpec: Sendable, Equatable, Codable {
    /// The kernel's flag letters, kept in the order given (repeats allowed).
    public enum Flag: String, Sendable, Codable, CaseIterable {
        /// Read-only: the kernel opens the COW or image O_RDONLY and takes a read lock.
        case readOnly = "r"
        /// O_SYNC writes.
        case sync = "s"
        /// Raw: do not look for a COW header; a backing file is then invalid.
        case raw = "d"
        /// Shared: the kernel takes no fcntl lock on the host files.
        case shared = "c"
        /// No discard/write-zeroes.
        case noTrim = "t"
    }

    /// The kernel's MAX_DEV.
    public static let unitLimit = 16
    /// More flag letters give "Too many flags specified".
    public static let maximumFlags = 6
    /// The kernel's bound for a command-line path (§4.4).
    public static let maximumPathLength = 4095

    public var unit: Int
    public var file: String
    public var backing: String?
    public var flags: [Flag]

    public init(unit: Int, file: String, backing: String? = nil, flags: [Flag] = []) throws(LauncherError) {
        self.unit = unit
        self.file = file
        self.backing = backing
        self.flags = flags
        try validate(as: renderedForErrors)
    }

    /// Parses corral's `--disk N=FILE[,BACKING][:FLAGS]`, N being 0–15 or a–p.
    public init(parsing text: String) throws(LauncherError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw LauncherError.invalidDisk(spec: text, reason: "missing '='; write N=FILE[,BACKING][:FLAGS]")
        }
        let unitText = String(text[..<equals])
        var rest = String(text[text.index(after: equals)...])

        guard let unit = DiskSpec.parseUnit(unitText) else {
            throw LauncherError.invalidDisk(
                spec: text, reason: "unit '\(unitText)' is not 0-\(DiskSpec.unitLimit - 1) or a-p")
        }

        var flags: [Flag] = []
        let colons = rest.filter { $0 == ":" }.count
        if colons > 1 {
            throw LauncherError.invalidDisk(
                spec: text, reason: "a path contains ':', which the kernel cannot express; rename or symlink it")
        }
        if let colon = rest.lastIndex(of: ":") {
            let flagText = rest[rest.index(after: colon)...]
            for letter in flagText {
                guard let flag = Flag(rawValue: String(letter)) else {
                    throw LauncherError.invalidDisk(
                        spec: text,
                        reason: "unknown flag '\(letter)' (a path with ':' cannot be expressed); flags are r, s, d, c, t")
                }
                flags.append(flag)
            }
            rest = String(rest[..<colon])
        }

        let fields = rest.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if fields.count > 2 {
            throw LauncherError.invalidDisk(
                spec: text, reason: "a path contains ',', which the kernel cannot express; rename or symlink it")
        }
        let file = fields[0]
        let backing = fields.count == 2 ? fields[1] : nil
        self.unit = unit
        self.file = file
        self.backing = backing
        self.flags = flags
        try validate(as: text)
    }

    static func parseUnit(_ text: String) -> Int? {
        if text.count == 1, let letter = text.unicodeScalars.first, ("a"..."p").contains(letter) {
            return Int(letter.value - UnicodeScalar("a").value)
        }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), text.count <= 3,
              let n = Int(text), n < unitLimit else { return nil }
        return n
    }

    private var renderedForErrors: String {
        "\(unit)=\(file)\(backing.map { ",\($0)" } ?? "")\(flags.isEmpty ? "" : ":" + flags.map(\.rawValue).joined())"
    }

    private func validate(as text: String) throws(LauncherError) {
        guard (0..<DiskSpec.unitLimit).contains(unit) else {
            throw LauncherError.invalidDisk(spec: text, reason: "unit \(unit) is not below \(DiskSpec.unitLimit)")
        }
        if flags.count > DiskSpec.maximumFlags {
            throw LauncherError.invalidDisk(
                spec: text, reason: "\(flags.count) flags given; the kernel accepts at most \(DiskSpec.maximumFlags)")
        }
        if file.isEmpty {
            throw LauncherError.invalidDisk(spec: text, reason: "no file given")
        }
        if backing?.isEmpty == true {
            throw LauncherError.invalidDisk(spec: text, reason: "empty backing file after ','")
        }
        if flags.contains(.raw) && backing != nil {
            throw LauncherError.invalidDisk(
                spec: text, reason: "flag 'd' (raw) cannot be combined with a backing file; drop one of them")
        }
        for path in [file] + (backing.map { [$0] } ?? []) {
            if path.contains(",") || path.contains(":") {
                throw LauncherError.invalidDisk(
                    spec: text, reason: "path '\(path)' contains ',' or ':', which the kernel cannot express; rename or symlink it")
            }
            if let reason = KernelCommandLine.unsafeReason(path) {
                throw LauncherError.invalidDisk(spec: text, reason: "path '\(path)' \(reason)")
            }
            if path.utf8.count > DiskSpec.maximumPathLength {
                throw LauncherError.invalidDisk(
                    spec: text, reason: "a path is \(path.utf8.count) characters, over the kernel's \(DiskSpec.maximumPathLength)")
            }
        }
    }

    /// True when the kernel opens the disk without write access.
    public var isReadOnly: Bool { flags.contains(.readOnly) }

    /// The guest's device name: unit 0 is `ubda`, 1 is `ubdb`, …
    public var deviceName: String { Self.deviceName(unit: unit) }

    /// The kernel's name for a unit's device, for every place that names
    /// one (templates, the rescue shell, a dry run's plan).
    public static func deviceName(unit: Int) -> String {
        "ubd" + String(UnicodeScalar(UInt8(97 + unit)))
    }

    /// `ubd1r=file,backing`, exactly as the kernel reads it.
    public var kernelArgument: String {
        var arg = "ubd\(unit)\(flags.map(\.rawValue).joined())=\(file)"
        if let backing { arg += ",\(backing)" }
        return arg
    }
}
