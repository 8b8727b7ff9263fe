/// The UML block driver's mixed-page read bug (spec §4.7): a read that
/// crosses pages where COW and backing data meet returns wrong bytes.
///
/// Not a 6.1 quirk: make check reproduces it on every kernel it runs
/// (IntegrationTests' quirk test and the maintenance tests, once per kernel),
/// so messages name the kernel in use and the kernels measured.
public enum MixedPageBug {
    /// Kernel series the bug is reproduced on, by a test on each.
    public static let measuredOn = ["6.1", "6.12", "7.2"]

    /// How a message names the kernel: "the kernel 6.12.113 (the bug is
    /// measured on UML 6.1, 6.12 and 7.2)", or, when the release is not known,
    /// "this kernel (… every UML kernel measured: 6.1, 6.12 and 7.2)".
    public static func kernel(_ release: String?) -> String {
        let list = measuredOn.dropLast().joined(separator: ", ") + " and " + (measuredOn.last ?? "")
        if let release { return "the kernel \(release) (the bug is measured on UML \(list))" }
        return "the UML kernel (every one measured has the bug: \(list))"
    }
}
