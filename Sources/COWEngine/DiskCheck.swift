/// One reason the kernel would refuse or misread a disk, found before boot.
public struct Finding: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable { case problem, warning, note }
    /// Stable machine-readable code, e.g. `mtime-mismatch`, `mixed-pages`.
    public var code: String
    public var severity: Severity
    /// What is wrong and why it matters, one line.
    public var message: String
    /// The command that fixes it, if one does.
    public var fix: String?

    public init(code: String, severity: Severity, message: String, fix: String? = nil) {
        self.code = code
        self.severity = severity
        self.message = message
        self.fix = fix
    }
}

/// The result of checking one disk file.
public struct CheckReport: Sendable, Codable {
    public var path: String
    /// True when the file is a UML COW file (any version); false for a raw image.
    public var isCOW: Bool
    /// The backing file actually checked (override or header path), if a COW.
    public var backingFile: String?
    public var findings: [Finding]
    public var hasProblems: Bool { findings.contains { $0.severity == .problem } }

    public init(path: String, isCOW: Bool, backingFile: String?, findings: [Finding]) {
        self.path = path
        self.isCOW = isCOW
        self.backingFile = backingFile
        self.findings = findings
    }
}

public enum DiskCheck {
    /// Checks a disk file (COW or raw) the way the kernel will see it at open.
    /// - Parameters:
    ///   - path: the disk file.
    ///   - backing: a backing path overriding the header's (like `ubdN=cow,backing`).
    ///   - requireWritable: the disk will be opened read-write.
    /// - Throws: only when the check itself could not run (I/O error on the file).
    public static func check(path: String, backing: String? = nil, requireWritable: Bool = true) throws -> CheckReport {
        // Implemented by the engine issue; stub keeps dependants compiling.
        CheckReport(path: path, isCOW: false, backingFile: backing, findings: [])
    }
}
