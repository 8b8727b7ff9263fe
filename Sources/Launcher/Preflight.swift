#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine
import CorralSystem
import Sandbox

/// One thing preflight found: a failure stops the boot before anything is
/// spawned; a warning is printed and the boot goes on.
public struct PreflightIssue: Sendable, Equatable {
    public enum Severity: Sendable, Equatable { case failure, warning }
    public var severity: Severity
    /// What is wrong, naming the file.
    public var message: String
    /// What to do about it.
    public var hint: String?
    /// The disk it is about (its unit), when it is about one.
    public var unit: Int?

    public init(_ severity: Severity, _ message: String, hint: String? = nil) {
        self.severity = severity
        self.message = message
        self.hint = hint
    }

    /// One line for stderr.
    public var line: String {
        let head = severity == .failure ? "preflight" : "warning"
        return "\(head): \(message)" + (hint.map { "; \($0)" } ?? "")
    }
}

/// Checks made before the kernel is spawned, so that a boot fails with one
/// clear line per problem instead of a guest that sees a broken disk
/// (the kernel only logs COW errors and hands the guest EINVAL, §4.2).
public enum Preflight {
    public static func run(_ plan: BootPlan) -> [PreflightIssue] {
        var issues: [PreflightIssue] = []
        checkKernel(plan.kernelPath, profile: plan.kernelProfile, &issues)
        checkMemory(plan.commandLine.memory, hostBytes: hostMemory(), &issues)
        if let initHost = plan.hostfsInitPath, access(initHost, X_OK) != 0 {
            issues.append(.init(.failure, "hostfs-init '\(initHost)' is not executable", hint: "chmod +x it"))
        }
        checkDisks(plan.commandLine.disks, kernelRelease: plan.kernelProfile.release,
                   opened: plan.options.openedDisks, &issues)
        if let log = plan.options.logPath {
            let dir = PathResolution.split(log).directory
            if access(dir, W_OK) != 0 {
                issues.append(.init(.failure, "cannot write the log '\(log)': directory '\(dir)' is not writable or does not exist", hint: "choose another --log path"))
            }
        }
        return issues
    }

    /// `mem=` in bytes ("256M" → 268435456); nil when not of that form.
    static func memoryBytes(_ value: String) -> UInt64? {
        var digits = Substring(value)
        var unit: UInt64 = 1
        if let last = digits.last, let shift = ["k": 10, "K": 10, "m": 20, "M": 20, "g": 30, "G": 30][last] {
            unit = 1 << UInt64(shift)
            digits = digits.dropLast()
        }
        guard let number = UInt64(digits) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: unit)
        return overflow ? nil : product
    }

    /// The host's RAM (MemTotal), which backs the guest's memory file.
    static func hostMemory() -> UInt64? { memTotal }

    /// Read once per process: the CLI's option check and preflight both ask
    /// in one boot, and the host's RAM does not change while corral runs.
    private static let memTotal: UInt64? = {
        guard let text = try? SmallTextFile.text("/proc/meminfo"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kib = UInt64(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kib * 1024
    }()

    /// A guest whose memory the host cannot back fails late and badly (its
    /// memory file fills the tmpfs, and the guest dies of SIGBUS mid-work),
    /// so more than the host's RAM is refused before anything starts.
    static func checkMemory(_ value: String, hostBytes: UInt64?, _ issues: inout [PreflightIssue]) {
        if let issue = memoryIssue(value, hostBytes: hostBytes) { issues.append(issue) }
    }

    /// The same check for the CLI, which makes it a usage error (exit 64)
    /// while parsing, before anything is opened: nil when `value` fits.
    public static func memoryBeyondHost(_ value: String) -> PreflightIssue? {
        memoryIssue(value, hostBytes: hostMemory())
    }

    static func memoryIssue(_ value: String, hostBytes: UInt64?) -> PreflightIssue? {
        guard let wanted = memoryBytes(value), let host = hostBytes, wanted > host else { return nil }
        let gib = { (bytes: UInt64) in String(Double(bytes * 10 / (1 << 30)) / 10) + " GiB" }
        return .init(.failure, "--memory \(value) is more than this host's \(gib(host)) of RAM can back",
                     hint: "give at most --memory \(host / (1 << 20))M")
    }

    static func checkKernel(_ path: String, profile: KernelProfile.Selection, _ issues: inout [PreflightIssue]) {
        var st = corral_stat()
        guard corral_stat(path, &st) == 0 else {
            issues.append(.init(.failure, "kernel '\(path)' does not exist", hint: "install user-mode-linux or pass --kernel PATH"))
            return
        }
        if access(path, X_OK) != 0 {
            issues.append(.init(.failure, "kernel '\(path)' is not executable", hint: "chmod +x it or pass --kernel PATH"))
        } else if !Resources.isUMLKernel(path, profile: profile) {
            issues.append(.init(.failure, "'\(path)' is not a User-Mode Linux kernel", hint: "pass --kernel with a linux.uml binary"))
        }
    }

    /// A host file one disk opens, and how.
    struct Use {
        var path: String
        var role: String
        var writable: Bool
        var locks: Bool
    }

    /// `opened`: disks the caller holds open and surveyed (``BootOptions/openedDisks``), checked through those.
    public static func checkDisks(_ disks: [DiskSpec], kernelRelease: String? = nil, opened: [Int: OpenedDisk] = [:],
                                  _ issues: inout [PreflightIssue]) {
        var uses: [(key: [UInt64], use: Use)] = []
        let cwd = PathResolution.currentDirectory()
        for disk in disks {
            let first = issues.count
            checkDisk(disk, kernelRelease: kernelRelease, opened: opened[disk.unit], cwd: cwd, &uses, &issues)
            for index in first..<issues.count { issues[index].unit = disk.unit }
        }
        checkSharing(uses, &issues)
    }

    /// One disk: its paths, its file (or what the kernel needs to create
    /// it), its COW header and locks; the host files it opens go to `uses`.
    static func checkDisk(_ disk: DiskSpec, kernelRelease: String?, opened: OpenedDisk?, cwd: String,
                          _ uses: inout [(key: [UInt64], use: Use)], _ issues: inout [PreflightIssue]) {
        let name = "disk \(disk.unit) (\(disk.deviceName))"
        let locks = !disk.flags.contains(.shared)
        for path in [disk.file] + (disk.backing.map { [$0] } ?? []) where !path.hasPrefix("/") {
            let length = cwd.utf8.count + 1 + path.utf8.count
            if length > DiskSpec.maximumPathLength {
                issues.append(.init(.failure, "\(name): '\(path)' is \(length) characters from the working directory, over the kernel's \(DiskSpec.maximumPathLength)", hint: "give a shorter or absolute path"))
            }
        }

        var st = corral_stat()
        guard corral_stat(disk.file, &st) == 0 else {
            checkMissing(disk, name: name, cwd: cwd, locks: locks, &uses, &issues)
            return
        }
        if let kind = FileStatus.nonDiskKind(mode: st.mode) {
            issues.append(.init(.failure, "\(name): '\(disk.file)' is \(kind), not a disk image or COW file", hint: "give an image or COW file"))
            return
        }
        if access(disk.file, R_OK) != 0 {
            issues.append(.init(.failure, "\(name): '\(disk.file)' is not readable", hint: "fix its permissions"))
            return
        }
        if !disk.isReadOnly && access(disk.file, W_OK) != 0 {
            issues.append(.init(.failure, "\(name): '\(disk.file)' is not writable", hint: "fix its permissions, or add the r flag (--disk \(disk.unit)=\(disk.file):r)"))
        }
        uses.append(([st.dev, st.ino], Use(path: disk.file, role: name, writable: !disk.isReadOnly, locks: locks)))

        if disk.flags.contains(.raw) {
            checkLock(disk.file, writable: !disk.isReadOnly, name: name, locks: locks, &issues)
            return
        }
        var given = corral_stat()
        if let backing = disk.backing, corral_stat(backing, &given) == 0, let kind = FileStatus.nonDiskKind(mode: given.mode) {
            issues.append(.init(.failure, "\(name): backing '\(backing)' is \(kind), not a disk image", hint: "give an image file as the backing"))
            return
        }
        let (backingInUse, engineCheckedLocks) = checkCOW(disk, name: name, kernelRelease: kernelRelease,
                                                            opened: opened, &issues)
        if !engineCheckedLocks {
            checkLock(disk.file, writable: !disk.isReadOnly, name: name, locks: locks, &issues)
        }
        if let backingInUse {
            var bst = corral_stat()
            if corral_stat(backingInUse, &bst) == 0 {
                uses.append(([bst.dev, bst.ino], Use(path: backingInUse, role: "backing of \(name)", writable: false, locks: locks)))
                checkLock(backingInUse, writable: false, name: name, locks: locks, &issues)
            }
        }
    }

    /// A disk file that does not exist: with a backing, the kernel creates
    /// the COW (§4.5), so make sure it can; without one it is an error.
    static func checkMissing(_ disk: DiskSpec, name: String, cwd: String, locks: Bool,
                             _ uses: inout [(key: [UInt64], use: Use)], _ issues: inout [PreflightIssue]) {
        guard let backing = disk.backing else {
            issues.append(.init(.failure, "\(name): '\(disk.file)' does not exist", hint: "create it (e.g. truncate -s 1G '\(disk.file)') or give a backing file to create a COW"))
            return
        }
        checkCreation(disk, backing: backing, name: name, cwd: cwd, &issues)
        var bst = corral_stat()
        if corral_stat(backing, &bst) == 0, let kind = FileStatus.nonDiskKind(mode: bst.mode) {
            issues.append(.init(.failure, "\(name): backing '\(backing)' is \(kind), not a disk image", hint: "give an image file as the backing"))
        } else if corral_stat(backing, &bst) == 0 {
            uses.append(([bst.dev, bst.ino], Use(path: backing, role: "backing of \(name)", writable: false, locks: locks)))
            checkLock(backing, writable: false, name: name, locks: locks, &issues)
        }
    }

    /// The same file twice: fine only when every use is read-only.
    static func checkSharing(_ uses: [(key: [UInt64], use: Use)], _ issues: inout [PreflightIssue]) {
        var reported = Set<[UInt64]>()
        for (i, a) in uses.enumerated() where !reported.contains(a.key) {
            for b in uses[(i + 1)...] where b.key == a.key && (a.use.writable || b.use.writable) {
                reported.insert(a.key)
                issues.append(.init(.failure, "'\(b.use.path)' is used twice, as \(a.use.role) and as \(b.use.role), and one of them writes it", hint: "give each disk its own file, or add the r flag to both"))
                break
            }
        }
    }

    /// The backing file the kernel will use, after checking the COW header,
    /// and whether DiskCheck already reported on locks.
    static func checkCOW(_ disk: DiskSpec, name: String, kernelRelease: String? = nil, opened: OpenedDisk? = nil,
                         _ issues: inout [PreflightIssue]) -> (String?, Bool) {
        var backingInUse = disk.backing
        // DiskCheck tests the same locks on a disk the caller holds open,
        // through that descriptor: no second look by name.
        var engineCheckedLocks = opened != nil
        do {
            let report = if let opened {
                try DiskCheck.check(opened, backing: disk.backing, requireWritable: !disk.isReadOnly, kernelRelease: kernelRelease)
            } else {
                try DiskCheck.check(path: disk.file, backing: disk.backing, requireWritable: !disk.isReadOnly,
                                    kernelRelease: kernelRelease)
            }
            if report.isCOW { backingInUse = report.backingFile ?? backingInUse }
            for finding in report.findings {
                if finding.code == .inUse {
                    engineCheckedLocks = true
                    // With the c flag the kernel takes no lock: sharing was asked for.
                    if disk.flags.contains(.shared) { continue }
                }
                switch finding.severity {
                case .problem: issues.append(.init(.failure, "\(name): \(finding.message)", hint: finding.hint))
                case .warning: issues.append(.init(.warning, "\(name): \(finding.message)", hint: finding.hint))
                case .note: break
                }
            }
        } catch {
            issues.append(.init(.failure, "\(name): could not check '\(disk.file)': \(error)", hint: "make sure the file is readable"))
            return (nil, false)
        }
        // DiskCheck decodes every COW layout and reports every header problem;
        // a file it does not take for a COW is a raw disk (§4.2 c).
        return (backingInUse, engineCheckedLocks)
    }

    static func checkCreation(_ disk: DiskSpec, backing: String, name: String, cwd: String, _ issues: inout [PreflightIssue]) {
        var bst = corral_stat()
        if corral_stat(backing, &bst) != 0 {
            issues.append(.init(.failure, "\(name): neither '\(disk.file)' nor its backing '\(backing)' exists", hint: "check both paths"))
            return
        }
        if disk.isReadOnly {
            issues.append(.init(.failure, "\(name): '\(disk.file)' does not exist and the r flag forbids creating it (the kernel would leave an empty file)", hint: "drop the r flag, or create the COW first with corral cow create"))
        }
        let dir = PathResolution.split(disk.file).directory
        if access(dir, W_OK) != 0 {
            issues.append(.init(.failure, "\(name): cannot create COW '\(disk.file)': directory '\(dir)' is not writable", hint: "choose a writable directory"))
        }
        if cwd.utf8.count >= 256 {
            issues.append(.init(.failure, "\(name): the working directory is \(cwd.utf8.count) characters; the kernel cannot create a COW from a working directory of 256 or more", hint: "cd to a shorter directory"))
        }
        if PathResolution.split(backing).directory == "/" {
            issues.append(.init(.failure, "\(name): backing file '\(backing)' is directly in '/', where the kernel cannot record it", hint: "move it into a directory"))
        }
    }

    /// The kernel locks the COW/raw image for writing and the backing for
    /// reading (§4.2 b, h); a lock someone else holds means a running UML.
    static func checkLock(_ path: String, writable: Bool, name: String, locks: Bool, _ issues: inout [PreflightIssue]) {
        guard locks else { return }
        // O_NONBLOCK: a FIFO here must not wait for a writer. The user's path, links and all.
        guard let file = try? Descriptor(open: path, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY, noFollow: false) else { return }
        let holder = corral_lock_holder(file.fd, writable ? 1 : 0)
        if holder > 0 {
            issues.append(.init(.failure, "\(name): '\(path)' is locked by process \(holder), probably a running UML kernel", hint: "stop that kernel first (or add the c flag to share the file deliberately)"))
        }
    }
}
