#if canImport(Glibc)
import Glibc
#endif
import CCorralShim
import COWEngine
import CorralSystem
import Sandbox

/// Finds the files `corral boot` needs at run time: the kernel and hostfs-init.
public enum Resources {
    /// The default kernel name, looked up on PATH.
    public static let defaultKernel = "linux.uml"

    /// An absolute path for `name`: as given when it holds a '/', else the
    /// first executable match on PATH.
    public static func kernelPath(_ name: String, environment: [String: String]) throws(LauncherError) -> String {
        if name.contains("/") {
            return PathResolution.absolute(name)
        }
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in searchPath.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return PathResolution.absolute(candidate) }
        }
        throw LauncherError.kernelNotFound(name)
    }

    /// The release of the kernel at `path` ("6.12.113") when corral ships its
    /// seccomp profile (matched by build id), else nil.
    public static func kernelRelease(path: String) -> String? {
        KernelProfile.select(kernelPath: path).release
    }

    /// The release of the kernel `name` (a path, or looked up on this
    /// process's PATH), when corral knows it.
    public static func kernelRelease(named name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) }
        guard let resolved = try? kernelPath(name, environment: path.map { ["PATH": $0] } ?? [:]) else { return nil }
        return kernelRelease(path: resolved)
    }

    /// Whether `path` is a User-Mode Linux kernel: an ELF file carrying UML's
    /// banner string. Reads the file; does not run it.
    public static func isUMLKernel(_ path: String) -> Bool {
        guard let file = try? Descriptor(open: path, flags: O_RDONLY, noFollow: false) else { return false }
        let needle = Array("User Mode Linux v".utf8)
        var carry: [UInt8] = []
        var first = true
        while true {
            guard let chunk = try? file.read(upTo: 1 << 20), !chunk.isEmpty else { return false }
            if first {
                guard chunk.count >= 4, chunk[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) else { return false }
                first = false
            }
            let window = carry + chunk
            if contains(window, needle) { return true }
            carry = Array(window.suffix(needle.count - 1))
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in corral_launch_find_bytes(h.baseAddress, h.count, n.baseAddress, n.count) >= 0 }
        }
    }

    /// Where hostfs-init lives: `$CORRAL_DATA_DIR/hostfs-init/`, then
    /// `<exe dir>/../share/corral/hostfs-init/` (an installed corral), then the
    /// nearest ancestor of the executable holding `hostfs-init/hostfs-init`
    /// (a development build in `.build/debug/`).
    public static func hostfsInit(environment: [String: String], executable: String?) throws(LauncherError) -> String {
        var searched: [String] = []
        if let data = environment["CORRAL_DATA_DIR"], !data.isEmpty {
            let candidate = "\(data)/hostfs-init/hostfs-init"
            if access(candidate, R_OK) == 0 { return PathResolution.absolute(candidate) }
            searched.append(candidate)
        }
        if let executable {
            var dir = PathResolution.split(executable).directory
            let installed = "\(PathResolution.split(dir).directory)/share/corral/hostfs-init/hostfs-init"
            if access(installed, R_OK) == 0 { return installed }
            searched.append(installed)
            while dir != "/" && !dir.isEmpty {
                let candidate = "\(dir)/hostfs-init/hostfs-init"
                if access(candidate, R_OK) == 0 { return candidate }
                dir = PathResolution.split(dir).directory
            }
            searched.append("ancestors of \(PathResolution.split(executable).directory)")
        }
        throw LauncherError.hostfsInitNotFound(searched: searched)
    }

    /// ``kernelHelper(executable:)`` for this process, looked up once (every
    /// ``BootOptions`` starts from it; a job boots many times).
    public static let installedKernelHelper = kernelHelper(executable: currentExecutable())

    /// The kernel helper `corral boot` spawns: the small `corral-kernel-exec`
    /// beside `executable` (a build tree) or in `../libexec/corral/` (an
    /// installed corral), when it is a regular executable file owned by
    /// root or by the owner of `executable`, and writable by no one else (a
    /// root corral must not run a binary another user could have replaced);
    /// else corral itself (`/proc/self/exe`, run as `_kernel-exec`), which
    /// does the same, only loading for longer.
    public static func kernelHelper(executable: String?) -> String {
        let fallback = "/proc/self/exe"
        func status(_ path: String) -> FileInfo? {
            try? Descriptor(open: path, flags: corral_o_path).status()
        }
        guard let executable, let own = status(executable) else { return fallback }
        let dir = PathResolution.split(executable).directory
        let candidates = ["\(dir)/corral-kernel-exec", "\(PathResolution.split(dir).directory)/libexec/corral/corral-kernel-exec"]
        for candidate in candidates {
            guard let info = status(candidate), info.isRegular, info.permissions & 0o111 != 0,
                  info.owner == 0 || info.owner == own.owner, info.permissions & 0o022 == 0 else { continue }
            return candidate
        }
        return fallback
    }

    /// The running executable, resolved (`/proc/self/exe`).
    public static func currentExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
