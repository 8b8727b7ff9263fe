import Foundation
import Sandbox
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `corral-sandbox-probe`: `SandboxRunner.execKernel` as a program of its
/// own, which the sandbox tests run the real kernel (or a stand-in) through.
/// Whether those tests run, and on which kernel: ``KernelUnderTest``.
enum SandboxProbe {
    /// The probe executable built next to the test bundle.
    static var path: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift test may run from inside a .xctest bundle directory.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("corral-sandbox-probe").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("corral-sandbox-probe").path
    }
}

extension Scratch {
    func write(_ name: String, _ text: String, executable: Bool = false) throws {
        try text.write(toFile: file(name), atomically: false, encoding: .utf8)
        if executable { chmod(file(name), 0o755) }
    }
}

/// One kernel boot through `corral-sandbox-probe`, i.e. through
/// `SandboxRunner.execKernel`: a ``KernelGuest`` whose launcher is the probe
/// with a policy, the console on a file.
final class KernelBoot {
    let dir: Scratch
    let guest: KernelGuest
    var process: Process { guest.process }

    /// `script` is the guest's init body; `$DIR` in it is the test directory.
    /// /proc stays the host's (through hostfs) until the script mounts it.
    /// `owner`: run the kernel as this user (the directory is chowned to it).
    init(dir: Scratch, script: String, extraArgs: [String] = [],
         policy: SandboxPolicy? = nil, owner: String? = nil) throws {
        self.dir = dir
        let policy = policy ?? SandboxPolicy(mode: .enforce, writablePaths: [dir.path], user: owner)
        let json = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
        // No TMPDIR: it would make its directory writable (memory file).
        var environment = ProcessInfo.processInfo.environment
        for name in ["TMPDIR", "TMP", "TEMP"] { environment[name] = nil }
        guest = try KernelGuest(
            GuestInit(script, variables: [("DIR", dir.path)], mountsProc: false), in: dir.path, disks: extraArgs,
            launcher: [SandboxProbe.path, json, KernelUnderTest.path, "linux.uml"], environment: environment, owner: owner)
    }

    var pid: pid_t { guest.pid }
    /// The console transcript, with UML's CR-LF line ends made LF.
    var console: String { guest.console.replacingOccurrences(of: "\r\n", with: "\n") }

    /// Waits until the guest creates `$DIR/name` (through hostfs).
    func waitForGuestFile(_ name: String, seconds: Double = 30) -> Bool {
        guest.waitForFile(dir.file(name), seconds: seconds)
    }

    /// Waits for the probe (and so the kernel) to end; kills it after `seconds`.
    func finish(seconds: Double = 60) -> (reason: Process.TerminationReason, status: Int32) {
        guest.finish(seconds: seconds)
    }
}
