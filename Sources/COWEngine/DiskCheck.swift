#if canImport(Glibc)
import Glibc
#endif
import COWFormat
import CorralSystem

/// One reason the kernel would refuse or misread a disk, found before boot.
public struct Finding: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable { case problem, warning, note }
    /// Stable machine-readable code, e.g. `mtime-mismatch`, `mixed-pages`.
    public var code: FindingCode
    public var severity: Severity
    /// What is wrong and why it matters, one line.
    public var message: String
    /// The command that fixes it, if one does (the JSON key stays `fix`).
    public var hint: String?

    public init(code: FindingCode, severity: Severity, message: String, hint: String? = nil) {
        self.code = code
        self.severity = severity
        self.message = message
        self.hint = hint
    }

    enum CodingKeys: String, CodingKey {
        case code, severity, message
        case hint = "fix"
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

/// Finds, before boot, every reason the kernel would refuse or misread a disk.
public enum DiskCheck {
    /// Checks a disk file (COW or raw) the way the kernel will see it at open.
    /// - Parameters:
    ///   - path: the disk file.
    ///   - backing: a backing path overriding the header's (like `ubdN=cow,backing`).
    ///   - requireWritable: the disk will be opened read-write (a lock held by
    ///     another UML is then a problem, not just a note).
    ///   - expectCOW: the file must be a COW (`corral cow check`); otherwise a
    ///     file without COW magic is a raw disk, as the kernel treats it.
    /// - Throws: only when the check itself could not run.
    ///   - deep: also recompute the backing's fingerprint (one read of its
    ///     data) to catch content changed under an unchanged size and mtime.
    ///   - kernelRelease: the kernel that will read the disk, for the
    ///     mixed-page warnings (``MixedPageBug``); nil when not known.
    public static func check(
        path: String, backing: String? = nil, requireWritable: Bool = true, expectCOW: Bool = false,
        deep: Bool = false, kernelRelease: String? = nil
    ) throws(EngineError) -> CheckReport {
        // Before the file can be opened, one problem is the whole report.
        func refused(_ code: FindingCode, _ message: String) -> CheckReport {
            CheckReport(path: path, isCOW: false, backingFile: backing,
                        findings: [Finding(code: code, severity: .problem, message: message)])
        }
        guard try FileStatus.of(path) != nil else { return refused(.missing, "\(path) does not exist") }
        if access(path, R_OK) != 0 {
            return refused(.notReadable, "\(path) is not readable: \(SystemError.describe(errno))")
        }
        return try check(OpenedDisk(path: path), backing: backing, requireWritable: requireWritable,
                         expectCOW: expectCOW, deep: deep, kernelRelease: kernelRelease)
    }

    /// Checks a disk a caller already holds open and surveyed (a maintenance
    /// job's staged disk, ``OpenedDisk``): the findings of
    /// ``check(path:backing:requireWritable:expectCOW:deep:kernelRelease:)``
    /// past its existence and readability, without opening the file or
    /// scanning its bitmap again.
    public static func check(
        _ disk: OpenedDisk, backing: String? = nil, requireWritable: Bool = true, expectCOW: Bool = false,
        deep: Bool = false, kernelRelease: String? = nil
    ) throws(EngineError) -> CheckReport {
        let path = disk.path
        var findings: [Finding] = []
        func add(_ code: FindingCode, _ severity: Finding.Severity, _ message: String, hint: String? = nil) {
            findings.append(Finding(code: code, severity: severity, message: message, hint: hint))
        }
        let q = Shell.quote(path)
        if requireWritable && access(path, W_OK) != 0 {
            add(.notWritable, .problem, "\(path) is not writable; attach it read-only (flag r) or fix its permissions")
        }

        guard let cow = disk.cow, let survey = disk.survey else {
            let error = disk.formatError ?? .shortHeader(length: 0)
            let notCOW = disk.isRaw
            if notCOW && !expectCOW && backing == nil {
                checkLock(disk.file, writable: requireWritable, into: &findings)
                return CheckReport(path: path, isCOW: false, backingFile: nil, findings: findings)
            }
            let why = notCOW
                ? (backing != nil ? "the kernel cannot open it with a backing file (\"Failed to read COW header\")" : "not a COW file")
                : "the kernel refuses or misreads this disk"
            add(code(for: error), .problem, "\(path): \(error): \(why)")
            return CheckReport(path: path, isCOW: !notCOW, backingFile: backing, findings: findings)
        }

        let h = cow.header
        let g = cow.geometry
        if h.sectorSize != 512 {
            add(.sectorSize, .problem,
                "sector size is \(h.sectorSize): the kernel always uses 512-byte sectors, so data would be misplaced")
        }
        if h.layout == .v1 || h.layout == .v2, g.sectorCount % 8 != 0 {
            add(.bitmapRounding, .warning,
                "\(h.layout.rawValue) bitmap is one byte short: kernel writes to the last \(g.sectorCount % 8) sector(s) are lost and corrupt sector 0",
                hint: "corral cow flatten \(q) IMAGE, then corral cow from-image --backing BACKING IMAGE NEW.cow")
        }

        // Backing: the kernel checks size first, then mtime (§4.2e).
        let match = try cow.backingMatch(override: backing)
        let b = Shell.quote(match.path)
        if !match.exists {
            add(.backingMissing, .problem, "backing file \(match.path) does not exist: the kernel will not register this disk",
                hint: "corral cow check --backing NEW_PATH \(q)  (then boot with ubdN=\(path),NEW_PATH)")
        } else if backing == nil, let reason = BackingPolicy.objection(backing: match.path, cow: cow) {
            let device = (try? FileStatus.of(match.path))??.isBlockDevice == true ? " \(BackingPolicy.blockDeviceFlag)" : ""
            add(.backingRefused, .problem,
                "the header names \(match.path) as backing, which \(reason): corral uses such a backing only when you name it yourself",
                hint: "if you trust this COW: --backing \(b)\(device) (boot: --disk N=\(path),\(match.path)\(device))")
        } else if let kind = (try? FileStatus.of(match.path))?.flatMap({ FileStatus.nonDiskKind(mode: $0.mode) }) {
            add(.backingNotAFile, .problem, "backing \(match.path): is \(kind), not a disk image or COW file: the kernel cannot use it",
                hint: "pass the backing image with --backing PATH")
        } else if access(match.path, R_OK) != 0 {
            add(.backingUnreadable, .problem, "backing file \(match.path) is not readable: \(SystemError.describe(errno))")
        } else {
            if !match.sizeMatches, let actual = match.actualSize {
                add(.sizeMismatch, .problem,
                    "backing \(match.path) is \(actual) bytes but the header says \(h.size): the kernel refuses the disk (wrong or changed backing file)",
                    hint: "pass the right backing with --backing PATH")
            }
            if !match.mtimeMatches, match.sizeMatches, let backingFile = try? OpenFile(match.path, flags: O_RDONLY),
               (try? CommittedCOW.isCommitted(cow, into: backingFile)) == true {
                add(.committed, .problem,
                    "every sector this COW holds is already in \(match.path) (it was committed with corral cow commit, which changed the backing's mtime): the kernel refuses this COW, and it is no longer needed",
                    hint: "use \(match.path) itself, or make a fresh COW over it: corral cow create NEW.cow \(b) (then delete \(q))")
            } else if !match.mtimeMatches, let actual = match.actualMtime {
                let representable = actual >= 0 && actual <= Int64(UInt32.max)
                add(.mtimeMismatch, .problem,
                    "backing \(match.path) has mtime \(actual) but the header says \(h.mtime): the kernel refuses the disk (\"mtime mismatch\")"
                        + (representable ? "" : "; this mtime cannot be stored in a COW header at all"),
                    hint: "if the backing's content did not change, re-stamp the header: corral cow rebase --unsafe --backing \(b) \(q)")
            }
        }

        if deep && match.exists && match.sizeMatches {
            findings += try deepCheck(cow, backing: match, mtimeMatches: match.mtimeMatches)
        }

        let bitmapEnd = g.bitmapOffset + g.bitmapLength
        if cow.status.size < bitmapEnd {
            add(.bitmapTruncated, .problem,
                "file is \(cow.status.size) bytes, shorter than its bitmap (ends at \(bitmapEnd)): the kernel reads uninitialised bits")
        }
        if survey.sectorsPastEOF > 0 {
            add(.dataTruncated, .problem,
                "\(survey.sectorsPastEOF) COW sector(s) lie past the end of the file (\(cow.status.size) bytes): their data is lost and reads as zeros")
        } else if cow.status.size < g.createdFileLength && cow.status.size >= bitmapEnd {
            add(.shortFile, .note, "file is shorter than its geometry (\(cow.status.size) < \(g.createdFileLength)); unwritten sectors are unaffected")
        }
        if survey.paddingBitsSet {
            add(.bitsPastEnd, .warning, "bits are set past the last sector in the bitmap; readers ignore them")
        }
        let blockSize = survey.dirtySectors > 0 ? disk.guestSectors(backing: backing).flatMap(FilesystemProbe.extBlockSize) : nil
        if let blockSize, blockSize < 4096 {
            // Page-cache segments of a small-block filesystem start at any
            // block, so even whole-page COW data is misread (found by the
            // maintenance tests); only a flat image is safe.
            add(.smallBlockFs, .warning,
                "the disk holds ext with \(blockSize)-byte blocks: \(MixedPageBug.kernel(kernelRelease)) can return wrong bytes where COW and backing data meet inside a read, and normalize does not prevent it",
                hint: "boot a flat image (corral cow flatten \(q) IMAGE), or use corral maint, which does so itself")
        }
        if survey.mixedPages > 0 {
            let first = (survey.firstMixedPage ?? 0) * 4096
            add(.mixedPages, .warning,
                "\(survey.mixedPages) 4 KiB page(s) mix COW and backing sectors (first at byte \(first)): \(MixedPageBug.kernel(kernelRelease)) returns wrong bytes for them in multi-page reads",
                hint: "corral cow normalize \(q)")
        }
        checkLock(cow.file, writable: requireWritable, into: &findings)
        return CheckReport(path: path, isCOW: true, backingFile: match.path, findings: findings)
    }

    /// Recomputes the backing's fingerprint (§4.7-I: the kernel only checks
    /// size and mtime). A header without a valid record, including one the
    /// kernel rewrote on a backing switch (§4.3), is a note, never an alarm.
    static func deepCheck(_ cow: COWFile, backing match: BackingMatch, mtimeMatches: Bool) throws(EngineError) -> [Finding] {
        switch BackingFingerprint.state(of: cow.header) {
        case .absent:
            return [Finding(code: .noFingerprint, severity: .note,
                            message: "no backing fingerprint in the header (not made by corral, or rewritten by the kernel): the backing's content cannot be verified")]
        case .otherPath:
            return [Finding(code: .noFingerprint, severity: .note,
                            message: "the header's fingerprint was recorded for another backing path (the kernel switched the backing): the backing's content cannot be verified")]
        case .present(let fp):
            guard let file = try? OpenFile(match.path, flags: O_RDONLY) else { return [] }
            if try fp.matches(file) {
                return [Finding(code: .backingVerified, severity: .note,
                                message: "backing \(match.path) has the content recorded when the COW was made")]
            }
            let q = Shell.quote(cow.path)
            return [Finding(code: .backingChanged, severity: .problem,
                            message: "backing \(match.path) has changed content since the COW was made"
                                + (mtimeMatches ? " although its size and mtime did not change: the kernel accepts it and the guest would read corrupt data" : ""),
                            hint: "restore the original backing, or boot with ubdN=\(cow.path),ORIGINAL (check: corral cow check --deep --backing ORIGINAL \(q))")]
        }
    }

    /// A lock another process holds on the disk, through the descriptor the
    /// check already has (an OFD lock test: our own descriptor's locks never count).
    static func checkLock(_ file: OpenFile, writable: Bool, into findings: inout [Finding]) {
        let path = file.path
        if let pid = file.lockHolder(conflictingWith: writable ? .write : .read) {
            let who = ProcessName.describe(pid)
            findings.append(Finding(
                code: .inUse, severity: writable ? .problem : .warning,
                message: "\(path) is in use by process \(pid)\(who): a running guest holds a lock on its disks",
                hint: "stop that guest first"))
        }
    }

    static func code(for error: COWFormatError) -> FindingCode {
        switch error {
        case .shortHeader, .badMagic: .notACow
        case .unknownVersion: .unknownVersion
        case .truncatedHeader: .truncatedHeader
        case .unterminatedPath: .unterminatedPath
        case .zeroAlignment: .alignmentZero
        case .zeroSectorSize: .sectorSize
        case .geometryTooLarge: .tooLarge
        case .pathTooLong, .emptyPath: .badPath
        }
    }
}
