import Foundation
import Testing
import TestSupport

/// The real Debian guest these tests run: bookworm minbase (plus kmod),
/// made by `Tests/Fixtures/make-guest.sh` with debootstrap from the
/// machine's configured Debian mirror, cached under `.build/guest/` (about
/// 35 s the first time, nothing after). Tests never write it: each works on
/// a COW over it.
enum GuestImage {
    static let path = TestPaths.packageRoot + "/.build/guest/bookworm.img"
    /// The module tree of the kernel under test (its full release, from its
    /// banner), as the user-mode-linux package installs it; nil when that
    /// kernel has none there (a test kernel from scripts/kernels).
    static let modules: String? = {
        guard let r = try? runProcess(TestEnvironment.kernel, ["--version"]), r.status == 0 else { return nil }
        let tree = "/usr/lib/uml/modules/" + r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: tree + "/modules.order") ? tree : nil
    }()

    /// Real-guest tests need root (debootstrap, mkfs -d with owners), the
    /// kernel and debootstrap; with CORRAL_REQUIRE_UML=1 (CI) their absence
    /// is a failure, not a skip.
    static let enabled: Bool = TestEnvironment.requireUML
        || (getuid() == 0
            && FileManager.default.isExecutableFile(atPath: TestEnvironment.kernel)
            && ["debootstrap", "mkfs.ext4", "dumpe2fs", "rsync", "dpkg-deb", "depmod"].allSatisfy(TestEnvironment.has))

    /// The module tests also need the kernel's own module tree: bookworm's
    /// kernel always has one (user-mode-linux), so with the default kernel
    /// its absence fails them under CORRAL_REQUIRE_UML; another test kernel
    /// without one skips them.
    static let modulesEnabled: Bool = modules != nil
        || (TestEnvironment.requireUML && TestEnvironment.kernel == "/usr/bin/linux.uml")

    /// Builds the image once per test process (the script itself skips the
    /// work when the image is there).
    static func ready() throws -> String {
        try built.get()
    }

    private static let built: Result<String, TestFailure> = {
        let script = TestPaths.fixtures.appendingPathComponent("make-guest.sh").path
        do {
            let r = try runProcess(script, [path], environment: TestEnvironment.childEnvironment)
            guard r.status == 0 else { return .failure(TestFailure("make-guest.sh failed: \(r.summary)")) }
            return .success(path)
        } catch {
            return .failure(TestFailure("make-guest.sh: \(error)"))
        }
    }()
}

extension Trait where Self == ConditionTrait {
    static var kernelModules: Self {
        .enabled(if: GuestImage.modulesEnabled, "needs the test kernel's module tree under /usr/lib/uml/modules")
    }

    static var realGuest: Self {
        .enabled(if: GuestImage.enabled,
                 "needs root, linux.uml, debootstrap, e2fsprogs, rsync, dpkg-deb and kmod (CORRAL_REQUIRE_UML=1 makes this a failure)")
    }
}

/// Runs a shell script that must succeed, sbin directories on PATH; its
/// stdout without the trailing newline.
@discardableResult
func shell(_ script: String, _ args: String...) throws -> String {
    let r = try runProcess("/bin/sh", ["-c", script, "sh"] + args, environment: TestEnvironment.childEnvironment)
    guard r.status == 0 else { throw TestFailure("`\(script)` failed: \(r.summary)") }
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A COW over the guest image, in `scratch`.
func guestCOW(_ scratch: Scratch, _ name: String = "g.cow") throws -> String {
    let cow = scratch(name)
    let r = try runCorral(["cow", "create", cow, try GuestImage.ready()])
    guard r.status == 0 else { throw TestFailure("cow create: \(r.summary)") }
    return cow
}

/// `corral boot` with a disk root on unit 0, stdin /dev/null.
func bootDisk(_ disk: String, writable: Bool = false, command: String?, timeout: Int = 180,
              extra: [String] = []) throws -> ProcessResult {
    var args = ["boot", "--root", "ubd0", "--disk", "0=\(disk)", "--timeout", String(timeout)]
    if writable { args.append("--root-rw") }
    if let command { args += ["--command", command] }
    return try runCorral(args + extra)
}

/// The COW's data: its dirty sectors' bytes (`cow info --json` dirtyBytes).
/// A file rewritten into new blocks dirties new sectors; one left alone does not.
func dirtyBytes(_ cow: String) throws -> Int64 {
    let r = try runCorral(["cow", "info", "--json", cow])
    guard r.status == 0,
          let info = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
          let bytes = (info["dirtyBytes"] as? NSNumber)?.int64Value
    else { throw TestFailure("cow info \(cow): \(r.summary)") }
    return bytes
}

func sha256(_ path: String) throws -> String {
    String(try shell(#"sha256sum "$1""#, path).prefix(64))
}

/// What dumpe2fs says of a filesystem's identity: UUID, label, block size,
/// inode size and features.
func identity(_ image: String) throws -> [String: String] {
    let text = try shell(#"dumpe2fs -h "$1" 2>/dev/null"#, image)
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = line[..<colon].trimmingCharacters(in: .whitespaces)
        if ["Filesystem UUID", "Filesystem volume name", "Block size", "Inode size", "Filesystem features"].contains(key) {
            fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return fields
}
