#if canImport(Glibc)
import Glibc
#endif

/// Where a corral binary's own files are, judged from the binary's location,
/// so an installed corral works from any working directory and a staged
/// install (`make install DESTDIR=…`) finds its files under the stage.
///
/// The same two places `Resources.hostfsInit` searches (after
/// `CORRAL_DATA_DIR`, which names data only and says nothing about which
/// build is running, so the version never comes from there):
/// - installed: `<prefix>/bin/corral` with `<prefix>/share/corral/`;
/// - development: `<checkout>/.build/<triple>/<configuration>/corral`, the
///   checkout being the directory that holds `.build` and `Package.swift`.
enum DataDirectory {
    /// `<exe dir>/../share/corral`, whether or not it exists.
    static func installed(executable: String) -> String {
        "\(parent(of: parent(of: executable)))/share/corral"
    }

    /// The package checkout a development build lives in, or nil when the
    /// executable is not under a `.build` directory next to `Package.swift`.
    static func developmentCheckout(executable: String) -> String? {
        let parts = executable.split(separator: "/", omittingEmptySubsequences: false)
        guard let build = parts.dropLast().lastIndex(of: ".build") else { return nil }
        let checkout = parts[..<build].joined(separator: "/")
        guard !checkout.isEmpty, access("\(checkout)/Package.swift", R_OK) == 0 else { return nil }
        return checkout
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
