import CorralSystem

/// Everything `corral boot` can refuse or fail at before and around the kernel.
///
/// Each message is one line: what is wrong, then what to do about it.
public enum LauncherError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidDisk(spec: String, reason: String)
    case duplicateUnit(Int)
    case invalidMemory(String)
    case invalidRoot(String, reason: String)
    case invalidUmid(String)
    case invalidPath(String, reason: String)
    case invalidArgument(String, reason: String)
    case commandLineTooLong(Int)
    case commandNeedsHostfsInit
    case kernelNotFound(String)
    case notAUMLKernel(String)
    case hostfsInitNotFound(searched: [String])
    case system(call: String, object: String, errno: Int32)
    case helper(String)
    /// The boot could not be set up or the kernel helper not started (pty,
    /// pipe, signalfd, spawn, the boot directory): the message says which.
    case launch(String)

    /// Whether the command line alone is at fault (a value no boot could
    /// take), not the host: such a refusal is a usage error (exit 64), the
    /// rest a preflight failure (240).
    public var isUsageMistake: Bool {
        switch self {
        case .invalidDisk, .duplicateUnit, .invalidMemory, .invalidRoot, .invalidUmid, .invalidPath,
             .invalidArgument, .commandLineTooLong, .commandNeedsHostfsInit:
            return true
        case .kernelNotFound, .notAUMLKernel, .hostfsInitNotFound, .system, .helper, .launch:
            return false
        }
    }

    public var description: String {
        switch self {
        case let .invalidDisk(spec, reason):
            return "invalid --disk '\(spec)': \(reason)"
        case let .duplicateUnit(unit):
            return "ubd unit \(unit) is given twice; give each --disk its own unit number"
        case let .invalidMemory(value):
            return "invalid --memory '\(value)'; give a size like 256M or 1G"
        case let .invalidRoot(value, reason):
            return "invalid --root '\(value)': \(reason)"
        case let .invalidUmid(value):
            return "invalid --umid '\(value)'; use 1-63 characters from [A-Za-z0-9._-]"
        case let .invalidPath(path, reason):
            return "path '\(path)' \(reason)"
        case let .invalidArgument(value, reason):
            return "invalid kernel argument '\(value)': \(reason)"
        case let .commandLineTooLong(length):
            return "the kernel command line would be \(length) characters, over the kernel's 4095; use shorter paths or a shorter --command"
        case .commandNeedsHostfsInit:
            return "--command needs corral's hostfs-init as init; drop --init, or run the command from your own init"
        case let .kernelNotFound(name):
            return "kernel '\(name)' not found; install user-mode-linux or pass --kernel PATH"
        case let .notAUMLKernel(path):
            return "'\(path)' is not a User-Mode Linux kernel; pass --kernel with a linux.uml binary"
        case let .hostfsInitNotFound(searched):
            return "hostfs-init not found (looked in \(searched.joined(separator: ", "))); set CORRAL_DATA_DIR to the directory holding hostfs-init/"
        case let .system(call, object, errno):
            return "\(call)(\(object)) failed: \(SystemError.describe(errno))"
        case let .helper(message), let .launch(message):
            return message
        }
    }
}

extension LauncherError: SystemErrorWrapping {
    /// A failed call from CorralSystem, in the launcher's words:
    /// `call(object) failed: reason`.
    public init(_ error: SystemError) {
        self = .system(call: error.call, object: error.object, errno: error.errno.rawValue)
    }
}
