import Foundation
import Testing
import TestSupport

extension Trait where Self == ConditionTrait {
    static var kernelModules: Self {
        .enabled(if: GuestImage.modulesEnabled, "needs the test kernel's module tree under /usr/lib/uml/modules")
    }

    static var realGuest: Self {
        .enabled(if: GuestImage.enabled,
                 "needs root, linux.uml, debootstrap, e2fsprogs, rsync, dpkg-deb and kmod (CORRAL_REQUIRE_UML=1 makes this a failure)")
    }
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
