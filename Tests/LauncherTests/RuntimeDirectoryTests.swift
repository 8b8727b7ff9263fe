import CorralSystem
import Launcher
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `RuntimeDirectory.open` throws `LauncherError`, so a boot (and a test)
/// tells a missing base from an unsafe one by case, with the same words.
@Suite struct RuntimeDirectoryTests {
    @Test func aMissingBaseIsAFailedOpenNamingIt() {
        let base = "/nonexistent-corral-runtime-\(getpid())"
        #expect(throws: LauncherError.system(call: "open", object: base, errno: ENOENT)) {
            _ = try RuntimeDirectory.open(base)
        }
        #expect(LauncherError.system(call: "open", object: base, errno: ENOENT).description
                == "open(\(base)) failed: No such file or directory")
    }

    /// A symbolic link as the base is refused on open, never followed.
    @Test func aLinkedBaseIsRefused() throws {
        let link = "/tmp/corral-runtime-link-\(getpid())"
        try #require(symlink("/tmp", link) == 0)
        defer { unlink(link) }
        #expect(throws: LauncherError.system(call: "open", object: link, errno: ENOTDIR)) {
            _ = try RuntimeDirectory.open(link)
        }
    }
}
