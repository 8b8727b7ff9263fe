/// The seccomp profile of one kernel build: which `Allowlist` a kernel runs
/// under, keyed by its GNU build id (``KernelBuildID``).
///
/// Each profile was learned by tracing that build through a boot, disk I/O
/// and every hostfs operation (`scripts/seccomp-profile`, which boots with
/// `CORRAL_SECCOMP_LEARN`), then reviewed by hand: every entry carries the
/// reason it is there. A kernel with no profile runs under the union of all
/// of them, with a warning that names it.
public struct KernelProfile: Sendable {
    /// Debian package and upstream version, for messages.
    public var kernel: String
    /// The kernel's release ("6.12.113"), nil for the union.
    public var release: String?
    /// GNU build ids of the builds this profile was traced on.
    public var buildIDs: [String]
    public var allowlist: Allowlist
    /// The build can run guest processes under UML's seccomp userspace
    /// (`seccomp=on`), and `allowlist` holds what its stubs call in that
    /// mode. The 6.1 and 6.12 builds know only ptrace (no `seccomp=`).
    public var seccompUserspace: Bool

    public init(kernel: String, release: String?, buildIDs: [String], allowlist: Allowlist, seccompUserspace: Bool = false) {
        self.kernel = kernel
        self.release = release
        self.buildIDs = buildIDs
        self.allowlist = allowlist
        self.seccompUserspace = seccompUserspace
    }

    /// Every profile corral ships, oldest kernel first.
    public static let known: [KernelProfile] = [
        KernelProfile(kernel: "user-mode-linux 6.1um4+b13 (Debian bookworm, 6.1.176)", release: "6.1.176",
                      buildIDs: ["b52ff9c705804d2d214a2963019951333adfdeeb"], allowlist: .uml61),
        KernelProfile(kernel: "user-mode-linux 6.12um1+b22 (Debian trixie, 6.12.113)", release: "6.12.113",
                      buildIDs: ["17e7246d9fe70b6439c39a5a4a3bae9eb4615166"], allowlist: .uml612),
        KernelProfile(kernel: "user-mode-linux 7.2um1 (Debian sid, 7.2.7)", release: "7.2.7",
                      buildIDs: ["3f094ddd58fcd948624a205a4c7f547873804804"], allowlist: .uml72,
                      seccompUserspace: true),
    ]

    /// The union of every known profile: what an unknown kernel runs under.
    public static let union = KernelProfile(
        kernel: "any kernel (union of the known profiles)",
        release: nil,
        buildIDs: [],
        allowlist: known.dropFirst().reduce(known[0].allowlist) { $0.merged(with: $1.allowlist) }
            .renamed("union of the linux.uml 6.1, 6.12 and 7.2 profiles (x86_64)"))

    /// The profile for the kernel binary at `path`.
    public static func select(kernelPath path: String) -> Selection {
        let id = KernelBuildID.read(path: path)
        if let id, let profile = known.first(where: { $0.buildIDs.contains(id) }) {
            return Selection(profile: profile, buildID: id, kernelPath: path, known: true)
        }
        return Selection(profile: union, buildID: id, kernelPath: path, known: false)
    }

    /// The profile chosen for one kernel binary.
    public struct Selection: Sendable {
        public var profile: KernelProfile
        public var buildID: String?
        public var kernelPath: String
        /// False: no shipped profile matches; `profile` is the union.
        public var known: Bool

        /// Names the kernel: its path and build id.
        public var kernelName: String {
            "\(kernelPath) (build id \(buildID ?? "none"))"
        }

        /// The kernel's release when its profile is known.
        public var release: String? { known ? profile.release : nil }

        /// For an unknown kernel: one line saying so and what to do.
        public var warning: String? {
            known ? nil : "no seccomp profile for the kernel \(kernelName); it runs under the union of the known profiles (6.1, 6.12, 7.2). If the sandbox stops it, trace its profile with scripts/seccomp-profile \(kernelPath)"
        }
    }
}

extension Allowlist {
    /// This list plus `other`: a syscall either list allows is allowed with
    /// the variants of both; where the same argument condition gets an errno
    /// in one and is allowed in the other, allowing wins (the errno entries
    /// guard guest-triggerable calls a kernel does not make itself).
    public func merged(with other: Allowlist) -> Allowlist {
        var rules = self.rules
        for rule in other.rules {
            guard let index = rules.firstIndex(where: { $0.syscall == rule.syscall }) else {
                rules.append(rule)
                continue
            }
            var merged = rules[index]
            for variant in rule.variants {
                if let same = merged.variants.firstIndex(where: { $0.conditions == variant.conditions }) {
                    if variant.action == .allow { merged.variants[same].action = .allow }
                } else {
                    merged.variants.append(variant)
                }
            }
            // An unconditional allow makes the argument filters moot.
            if merged.variants.contains(where: { $0.action == .allow && $0.conditions.isEmpty }) {
                merged.variants = [.init(action: .allow, conditions: [])]
            }
            if !merged.reason.contains(rule.reason) { merged.reason += "; " + rule.reason }
            rules[index] = merged
        }
        return Allowlist(name: "\(name) + \(other.name)", rules: rules)
    }

    /// The same rules under another name.
    public func renamed(_ name: String) -> Allowlist { Allowlist(name: name, rules: rules) }

    /// This list with `additions` merged in, under `name`: how a newer
    /// kernel's profile is written down, as what it needs beyond an older one.
    func extended(_ name: String, _ additions: [SyscallRule]) -> Allowlist {
        merged(with: Allowlist(name: name, rules: additions)).renamed(name)
    }
}
