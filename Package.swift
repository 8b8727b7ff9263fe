// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "corral",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "corral", targets: ["corral"]),
        .executable(name: "corral-kernel-exec", targets: ["corral-kernel-exec"]),
        .library(name: "COWFormat", targets: ["COWFormat"]),
        .library(name: "COWEngine", targets: ["COWEngine"]),
        .library(name: "Launcher", targets: ["Launcher"]),
        .library(name: "Maintenance", targets: ["Maintenance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // C shims: the few Linux calls Swift cannot reach cleanly.
        .target(name: "CCorralShim", cSettings: [.define("_GNU_SOURCE")]),
        // libseccomp through pkg-config (Debian: libseccomp-dev).
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // OpenSSL's libcrypto through pkg-config (Debian: libssl-dev): SHA-256
        // for backing fingerprints, hardware-accelerated, no extra build time.
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The sandbox's C side: libseccomp action macros, mount API, Landlock,
        // and the fork/exec of the reaper and kernel (no fork from Swift).
        .target(
            name: "CSandboxShim",
            dependencies: ["CSeccomp"],
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("seccomp")]
        ),
        // The one system layer every module reaches the host through: typed
        // syscall errors, owned descriptors, descriptor-relative walks,
        // creation that never reopens by name, randomness, shell quoting.
        .target(
            name: "CorralSystem",
            dependencies: ["CCorralShim", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        // Pure value types: header codec, geometry, bitmap. No I/O.
        .target(name: "COWFormat", swiftSettings: strict),
        // Operations on files: create, info, check, flatten, commit, ...
        .target(
            name: "COWEngine",
            dependencies: [
                "COWFormat", "CorralSystem", "CCorralShim", "CLibcrypto",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // seccomp allowlist, namespaces, the sandbox loader.
        .target(
            name: "Sandbox",
            dependencies: ["CorralSystem", "CSeccomp", "CCorralShim", "CSandboxShim"],
            swiftSettings: strict
        ),
        // The kernel helper's side of a boot: its two messages from the
        // launcher, then session, terminal, sandbox and the kernel's exec.
        // No Foundation (FoundationEssentials only), so that its executable
        // loads fast.
        .target(
            name: "CorralHelper",
            dependencies: ["CorralSystem", "Sandbox", "CCorralShim"],
            swiftSettings: strict
        ),
        // Kernel command line, preflight, pty console, spawn, supervision.
        .target(
            name: "Launcher",
            dependencies: ["CorralSystem", "COWEngine", "Sandbox", "CorralHelper", "CCorralShim"],
            swiftSettings: strict
        ),
        // Session protocol, templates, built-in maintenance jobs.
        .target(
            name: "Maintenance",
            dependencies: ["CorralSystem", "Launcher", "COWEngine", "CCorralShim"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "corral",
            dependencies: [
                "CorralSystem", "COWFormat", "COWEngine", "Launcher", "Sandbox", "Maintenance", "CorralHelper",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The kernel helper `corral boot` spawns (installed beside corral, or
        // in libexec/corral/); corral runs itself as `_kernel-exec` without it.
        // Linked with the Swift runtime and FoundationEssentials inside, in
        // every build as in the package: it is on each boot's way to the
        // kernel, and resolving and relocating the shared Swift libraries cost
        // it about 4 ms of the dynamic loader and as many of page faults.
        .executableTarget(
            name: "corral-kernel-exec",
            dependencies: ["CorralHelper", "CorralSystem"],
            swiftSettings: strict,
            linkerSettings: [.unsafeFlags(["-static-stdlib"]), .linkedLibrary("_FoundationCollections"), .linkedLibrary("_FoundationCShims")]
        ),
        // Test support: runs SandboxRunner.execKernel from a JSON policy, so
        // sandbox tests can boot the kernel without the launcher.
        .executableTarget(
            name: "corral-sandbox-probe",
            dependencies: ["Sandbox", "CSandboxShim"],
            swiftSettings: strict
        ),
        // Helpers every test target shares: scratch directories, running a
        // program or the built corral and capturing its output, package paths.
        .target(name: "TestSupport", dependencies: ["CTestPTY"], path: "Tests/TestSupport", swiftSettings: strict),
        // posix_openpt and friends for TestSupport's TerminalSession (glibc
        // declares them only under _GNU_SOURCE).
        .target(name: "CTestPTY", path: "Tests/CTestPTY"),
        .testTarget(name: "CorralSystemTests", dependencies: ["CorralSystem", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "COWFormatTests", dependencies: ["COWFormat"], swiftSettings: strict),
        .testTarget(name: "COWEngineTests", dependencies: ["COWEngine", "COWFormat", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "LauncherTests", dependencies: ["Launcher", "Sandbox", "COWEngine", "CorralSystem", "CCorralShim", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SandboxTests",
            dependencies: ["Sandbox", "CSandboxShim", "CSeccomp", "corral-sandbox-probe", "TestSupport", "CTestPTY"],
            swiftSettings: strict
        ),
        .testTarget(name: "MaintenanceTests", dependencies: ["Maintenance", "TestSupport"], swiftSettings: strict),
        // Kernel faults and stress through the built corral binary (root, linux.uml).
        .testTarget(name: "ReliabilityTests", dependencies: ["TestSupport"], swiftSettings: strict),
        // The man pages against the built corral's --help, groff, the
        // user-facing error and version output, and a staged install.
        .testTarget(name: "DocumentationTests", dependencies: ["TestSupport"], swiftSettings: strict),
        // A real Debian guest (debootstrap, cached under .build/guest):
        // disk-root commands, install-modules, flatten-rsync, a .deb offline.
        .testTarget(name: "GuestTests", dependencies: ["TestSupport"], swiftSettings: strict),
        // Boots the real linux.uml and runs the built corral binary.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["COWFormat", "COWEngine", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
