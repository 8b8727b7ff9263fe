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

    /// Whether `path` is a User-Mode Linux kernel. One whose build id a
    /// shipped seccomp profile names is (those builds were traced and
    /// reviewed), and is known from its ELF notes alone; any other must be an
    /// ELF file carrying UML's banner string. Reads the file; does not run it.
    ///
    /// The banner sits 8 to 9 MiB into the Debian kernels, so the scan is
    /// the slow way: it cost every boot 15-20 ms of its preflight when it
    /// was done for the shipped kernels too, with two copies of every MiB.
    public static func isUMLKernel(_ path: String) -> Bool {
        isUMLKernel(path, profile: KernelProfile.select(kernelPath: path))
    }

    /// ``isUMLKernel(_:)`` with the profile already chosen for `path`.
    static func isUMLKernel(_ path: String, profile: KernelProfile.Selection) -> Bool {
        profile.known || carriesBanner(path)
    }

    /// Whether `path` is an ELF file with "User Mode Linux v" in it: one
    /// buffer, read in windows that overlap by the banner's length less one,
    /// so a banner across a window's end is found in the next.
    static func carriesBanner(_ path: String, window: Int = 1 << 20) -> Bool {
        guard let file = try? OpenFile(path, flags: O_RDONLY) else { return false }
        let needle = Array("User Mode Linux v".utf8)
        var buffer = [UInt8](repeating: 0, count: max(window, needle.count))
        var offset: UInt64 = 0
        while true {
            guard let count = try? file.read(into: &buffer, at: offset), count >= needle.count else { return false }
            if offset == 0 && !buffer.starts(with: [0x7f, 0x45, 0x4c, 0x46]) { return false }
            let found = buffer.withUnsafeBytes { haystack in
                needle.withUnsafeBytes { corral_launch_find_bytes(haystack.baseAddress, count, $0.baseAddress, $0.count) >= 0 }
            }
            if found { return true }
            if count < buffer.count { return false }
            offset += UInt64(count - (needle.count - 1))
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
