import Testing
@testable import Launcher

@Suite struct BootPlanTests {
    func options(_ edit: (inout BootOptions) -> Void) -> BootOptions {
        var o = BootOptions()
        o.kernel = "/opt/uml/linux"
        o.umid = "plan1"
        o.nonce = "ab12"
        o.interactive = false
        o.environment = ["TMPDIR": "/var/tmp", "CORRAL_DATA_DIR": Harness.packageRoot.path]
        edit(&o)
        return o
    }

    @Test func hostfsRootUsesHostfsInitWithNonceAndCommand() throws {
        let plan = try BootPlan.make(options { $0.command = "exit 3" })
        let hostfsInit = Harness.packageRoot.path + "/hostfs-init/hostfs-init"
        #expect(plan.hostfsInitPath == hostfsInit)
        #expect(plan.nonce == "ab12")
        #expect(plan.umlDir == "/var/tmp/corral-boot-plan1")
        #expect(plan.argv.contains("init=\(hostfsInit)"))
        #expect(plan.argv.suffix(3) == ["corral_nonce=ab12", "corral_tty=0", "corral_cmd=ZXhpdCAz"])
        #expect(plan.policy.mode == .enforce)
        #expect(plan.policy.writablePaths == ["/var/tmp/corral-boot-plan1"])
    }

    @Test func diskRootLeavesInitToTheGuest() throws {
        let plan = try BootPlan.make(options {
            $0.root = "ubd0"
            $0.disks = [try! DiskSpec(parsing: "0=/images/root.img")]
            $0.sandbox = .off
        })
        #expect(plan.nonce == nil)
        #expect(plan.hostfsInitPath == nil)
        #expect(plan.argv.contains("root=/dev/ubda"))
        #expect(!plan.argv.contains { $0.hasPrefix("init=") || $0.hasPrefix("corral_") })
        #expect(plan.policy.writablePaths == ["/images", "/var/tmp/corral-boot-plan1"])
        #expect(throws: LauncherError.commandNeedsHostfsInit) {
            try BootPlan.make(options {
                $0.root = "ubdb"
                $0.disks = [try! DiskSpec(parsing: "1=/images/root.img")]
                $0.command = "true"
            })
        }
    }

    @Test func hostfsInitMustBeInsideAHostfsRoot() {
        #expect(throws: LauncherError.self) { try BootPlan.make(options { $0.root = "/srv/elsewhere" }) }
        #expect(throws: LauncherError.self) { try BootPlan.make(options { $0.root = "relative/dir" }) }
        // With its own init, any host directory can be the root.
        #expect(throws: Never.self) {
            try BootPlan.make(options { $0.root = "/srv/elsewhere/"; $0.initPath = "/bin/sh" })
        }
    }

    @Test func hostfsInitIsFoundFromTheDataDirectoryOrNotAtAll() {
        #expect(throws: LauncherError.self) {
            try Resources.hostfsInit(environment: ["CORRAL_DATA_DIR": "/nonexistent"], executable: "/nonexistent/bin/corral")
        }
        let found = try? Resources.hostfsInit(environment: [:], executable: Harness.corral)
        #expect(found == Harness.packageRoot.path + "/hostfs-init/hostfs-init")
    }

    @Test func emptyCommandIsRefused() {
        #expect(throws: LauncherError.self) { try BootPlan.make(options { $0.command = "" }) }
    }
}
