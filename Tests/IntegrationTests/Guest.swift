import Foundation
import TestSupport

/// A disk attached to a UML guest as `ubd<unit>[r]=cow[,backing]`; the guest sees it
/// as /dev/ubd<letter> (unit 1 = /dev/ubdb).
struct GuestDisk: Sendable {
    var unit: Int
    var file: String
    var backing: String?
    var readOnly = false

    var argument: String {
        "ubd\(unit)\(readOnly ? "r" : "")=\(file)" + (backing.map { ",\($0)" } ?? "")
    }
    var device: String { "/dev/ubd" + String(UnicodeScalar(UInt8(97 + unit))) }
}

struct GuestRun: Sendable {
    /// Exit status of the guest script inside the guest.
    var status: Int32
    /// The kernel's console output.
    var console: String
}

private let bootCounter = BootCounter()
private actor BootCounter {
    var next = 0
    func take() -> Int { next += 1; return next }
}

/// Boots linux.uml once with `disks` attached, runs `script` (a /bin/sh snippet) as
/// part of init, and powers off. The script can use two helpers:
///   put CHAR|zero SECTOR COUNT [DEV]   O_DIRECT write of COUNT 512-byte sectors
///   dump FILE [DEV [SKIP COUNT]]       O_DIRECT 4 KiB reads of the device (4.7-A)
/// DEV defaults to /dev/ubdb. Paths must be absolute host paths (the guest's / is the
/// host's / through hostfs). `workDir` must be such a path too.
func bootGuest(script: String, disks: [GuestDisk], workDir: String) async throws -> GuestRun {
    guard Host.hasKernelTools else { throw TestFailure("\(TestEnvironment.kernel) is not installed") }
    let n = await bootCounter.take()
    let umid = "corral-it-\(getpid())-\(n)"
    let statusFile = "\(workDir)/guest-\(n).status"
    let scriptFile = "\(workDir)/guest-\(n).sh"
    let initFile = "\(workDir)/init-\(n).sh"
    let umlDir = "\(workDir)/.uml"
    try FileManager.default.createDirectory(atPath: umlDir, withIntermediateDirectories: true)
    try script.write(toFile: scriptFile, atomically: true, encoding: .utf8)
    let initText = """
        #!/bin/sh
        PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH
        mount -t proc proc /proc
        put() {
          if [ "$1" = zero ]; then dd if=/dev/zero bs=512 count="$3" 2>/dev/null
          else dd if=/dev/zero bs=512 count="$3" 2>/dev/null | tr '\\0' "$1"; fi |
            dd of="${4:-/dev/ubdb}" bs=512 seek="$2" count="$3" iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
        }
        dump() {
          if [ $# -ge 4 ]; then dd if="$2" of="$1" bs=4096 skip="$3" count="$4" iflag=direct 2>/dev/null
          else dd if="${2:-/dev/ubdb}" of="$1" bs=4096 iflag=direct 2>/dev/null; fi
        }
        ( set -e; . '\(scriptFile)' )
        echo $? > '\(statusFile)'
        sync; echo o > /proc/sysrq-trigger; sleep 10

        """
    try initText.write(toFile: initFile, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: initFile)
    let result = try await run(
        "/usr/bin/timeout",
        ["300", TestEnvironment.kernel, "mem=256M", "rootfstype=hostfs", "rootflags=/", "rw", "init=\(initFile)",
         "uml_dir=\(umlDir)", "umid=\(umid)"] + disks.map(\.argument) + ["con=null", "con0=null,fd:1"],
        cwd: workDir)
    let console = result.stdout + result.stderr
    guard let text = try? String(contentsOfFile: statusFile, encoding: .utf8),
          let status = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("the guest script did not finish (linux.uml exit \(result.status)); console:\n\(console.suffix(4000))")
    }
    return GuestRun(status: status, console: console)
}
