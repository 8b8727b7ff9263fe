import ArgumentParser
import Foundation
import Launcher

/// Checks of `--kernel` and `--memory` that boot and maint share, made while
/// parsing, so a mistake in them is a usage error (exit 64) like any other
/// and nothing has been opened yet.
enum GuestOptionsCheck {
    /// `--disk` specs: each one parsed, each unit given once.
    static func disks(_ specs: [String]) throws {
        var units = Set<Int>()
        for spec in specs {
            let disk: DiskSpec
            do { disk = try DiskSpec(parsing: spec) } catch { throw ValidationError("\(error)") }
            if !units.insert(disk.unit).inserted { throw ValidationError("\(LauncherError.duplicateUnit(disk.unit))") }
        }
    }

    static func validate(kernel: String, memory: String) throws {
        if !KernelCommandLine.isValidMemory(memory) {
            throw ValidationError("--memory '\(memory)': give a number of bytes with an optional K, M or G suffix, e.g. 256M or 1G")
        }
        // More than the host's RAM: the guest would die of SIGBUS mid-work.
        if let issue = Preflight.memoryBeyondHost(memory) {
            throw ValidationError(issue.message + (issue.hint.map { "; \($0)" } ?? ""))
        }
        if kernel.contains("/") {
            if !FileManager.default.fileExists(atPath: kernel) {
                throw ValidationError("--kernel '\(kernel)' does not exist; install user-mode-linux (Debian) or give the path of a linux.uml binary")
            }
        } else if (try? Resources.kernelPath(kernel, environment: ProcessInfo.processInfo.environment)) == nil {
            throw ValidationError("kernel '\(kernel)' not found on PATH; install user-mode-linux (Debian) or give --kernel PATH")
        }
    }
}
