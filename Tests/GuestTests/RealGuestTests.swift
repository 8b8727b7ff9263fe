import Foundation
import Testing
import TestSupport

/// corral end to end on a real Debian bookworm guest (GuestImage): a
/// disk-root guest given one command, a .deb installed offline, kernel
/// modules installed and loaded, an idempotent re-run, and a
/// filesystem-level flatten that keeps the filesystem's identity and boots
/// by UUID. Every test boots the real kernel and runs the built corral.
@Suite(.serialized, .realGuest) struct RealGuestTests {
    /// `--root ubd0 --command` runs the command in the disk's own root (its
    /// dpkg database, its hostname), passes its status back, keeps the disk
    /// read-only without --root-rw, and writes it with. 3 boots.
    @Test func diskRootCommandRunsInTheGuestsOwnRoot() throws {
        let s = try Scratch("corral-guest")
        let cow = try GuestImage.cow(in: s)
        let backing = try GuestImage.ready()
        let stamp = try shell(#"stat -c '%s %Y' "$1""#, backing)

        // dpkg -l as typed: its pager must not wait on the console.
        let listed = try bootDisk(cow, command: "dpkg -l dpkg kmod; cat /etc/hostname; cat /proc/1/comm >/dev/null && exit 7")
        #expect(listed.status == 7, "\(listed.summary)")
        #expect(listed.stdout.contains("ii  dpkg"), "\(listed.summary)")
        #expect(listed.stdout.contains("ii  kmod"), "\(listed.summary)")
        #expect(listed.stdout.contains("corral-guest"), "\(listed.summary)")

        let readOnly = try bootDisk(cow, command: "echo x > /etc/corral-probe")
        #expect(readOnly.status != 0, "a disk root without --root-rw was writable: \(readOnly.summary)")

        let written = try bootDisk(cow, writable: true, command: "echo written > /etc/corral-probe")
        #expect(written.status == 0, "\(written.summary)")
        let flat = s("flat.img")
        #expect(try runCorral(["cow", "flatten", cow, flat]).status == 0)
        #expect(try shell(#"debugfs -R "cat /etc/corral-probe" "$1" 2>/dev/null"#, flat) == "written")
        // The file system was unmounted before the power-off: clean.
        #expect(try runProcess("/sbin/e2fsck", ["-fn", flat], environment: TestEnvironment.childEnvironment).status == 0)
        #expect(try shell(#"stat -c '%s %Y' "$1""#, backing) == stamp)
    }

    /// `--init /bin/sh` with a script on stdin: the script and its end of
    /// input reach the shell once it reads its terminal (before, both went
    /// by while the guest's console was not yet open, and the shell sat at
    /// its prompt until the timeout). The probe corral types to find that
    /// moment leaves no trace in the output. 2 boots.
    @Test func aScriptPipedToAnInitShellArrivesWithItsEnd() throws {
        let s = try Scratch("corral-guest")
        let cow = try GuestImage.cow(in: s)
        let script = s("script.sh")
        try "cat /etc/hostname\necho the-end-of-the-script\n".write(toFile: script, atomically: true, encoding: .utf8)
        let input = try #require(FileHandle(forReadingAtPath: script))
        defer { try? input.close() }
        let r = try runCorral(["boot", "--root", "ubd0", "--disk", "0=\(cow)", "--init", "/bin/sh", "--timeout", "60"],
                              stdin: input)
        // The shell ran the script, then read the end of input and exited:
        // PID 1 exiting is a kernel panic (243), not a timeout (124).
        #expect(r.status == 243, "\(r.summary)")
        #expect(r.stderr.contains("the guest's init exited with status 0"), "\(r.summary)")
        #expect(r.stdout.contains("corral-guest\n"), "\(r.summary)")
        #expect(r.stdout.contains("the-end-of-the-script\n"), "\(r.summary)")
        #expect(!r.stdout.contains("\u{8} \u{8}") && !r.stdout.contains("\u{15}"), "the probe's echo is in the output: \(r.summary)")

        // Nothing to read (stdin /dev/null): the end of input reaches it too.
        let idle = try runCorral(["boot", "--root", "ubd0", "--disk", "0=\(cow)", "--init", "/bin/sh", "--timeout", "60"])
        #expect(idle.status == 243, "\(idle.summary)")
    }

    /// minbase has no /sbin/init: a disk-root boot without --init or
    /// --command ends at once with a message that names the fix, instead of
    /// a /bin/sh that waits forever. 1 boot.
    @Test func aDiskWithoutInitFailsFastAndSaysWhy() throws {
        let s = try Scratch("corral-guest")
        let cow = try GuestImage.cow(in: s)
        let r = try bootDisk(cow, command: nil, timeout: 120)
        #expect(r.status == 243, "\(r.summary)")
        #expect(r.stderr.contains("/sbin/init"), "\(r.summary)")
        #expect(r.stderr.contains("--init PROGRAM") && r.stderr.contains("--command"), "\(r.summary)")
    }

    /// A .deb made on the host, installed offline by the guest's own dpkg
    /// from a hostfs mount of the host's directory; a second boot finds it
    /// installed. 2 boots.
    @Test func debInstalledOfflineThroughAHostfsMount() throws {
        let s = try Scratch("corral-guest")
        let cow = try GuestImage.cow(in: s)
        try shell("""
            set -e
            mkdir -p "$1/pkg/DEBIAN" "$1/pkg/usr/share/corral-probe" "$1/debs"
            printf 'Package: corral-probe\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: corral tests <root@localhost>\\nDescription: a probe package\\n' > "$1/pkg/DEBIAN/control"
            echo 'hello from the probe package' > "$1/pkg/usr/share/corral-probe/hello"
            dpkg-deb --root-owner-group -b "$1/pkg" "$1/debs/corral-probe_1.0_all.deb" >/dev/null
            """, s.path)
        // --share: the guest sees only the host directories it is given.
        let install = try bootDisk(cow, writable: true, command: """
            mkdir -p /mnt/host && mount -t hostfs -o ro,\(s("debs")) none /mnt/host \
            && dpkg -i /mnt/host/corral-probe_1.0_all.deb && umount /mnt/host
            """, extra: ["--share", s("debs")])
        #expect(install.status == 0, "\(install.summary)")
        let check = try bootDisk(cow, command: "dpkg-query -W -f '${Status} ${Version}\\n' corral-probe && cat /usr/share/corral-probe/hello")
        #expect(check.status == 0, "\(check.summary)")
        #expect(check.stdout.contains("install ok installed 1.0"), "\(check.summary)")
        #expect(check.stdout.contains("hello from the probe package"), "\(check.summary)")
    }

    /// install-modules of the real module tree (910 modules): the guest's own
    /// modprobe loads them; verifying takes at most twice the copy (one
    /// pass, not one grep per module); a re-run with the same tree writes
    /// nothing (same COW bytes and data, "changed": false, "already
    /// installed"); a partial change writes only what differs. 5 boots.
    @Test(.kernelModules) func installModulesLoadsIsIdempotentAndWritesOnlyWhatDiffers() throws {
        let s = try Scratch("corral-guest")
        let cow = try GuestImage.cow(in: s)
        let tree = try #require(GuestImage.modules, "no module tree for \(TestEnvironment.kernel) under /usr/lib/uml/modules")
        let release = (tree as NSString).lastPathComponent

        let first = try runCorral(["maint", "install-modules", "--cow", cow, "--modules", tree, "--json"])
        #expect(first.status == 0, "\(first.summary)")
        let report = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(report["changed"] as? Bool == true, "\(first.summary)")
        let steps = (report["steps"] as? [[String: Any]] ?? []).reduce(into: [String: Double]()) {
            $0[$1["name"] as? String ?? ""] = $1["seconds"] as? Double
        }
        let copy = try #require(steps["copy"]), verify = try #require(steps["verify"])
        #expect(verify <= 2 * copy, "verify took \(verify) s against copy's \(copy) s")

        let loaded = try bootDisk(cow, command: "modprobe minix && modprobe vfat && modprobe serpent_generic && cut -d' ' -f1 /proc/modules")
        #expect(loaded.status == 0, "\(loaded.summary)")
        for module in ["minix", "vfat", "serpent_generic"] {
            #expect(loaded.stdout.split(separator: "\n").contains(Substring(module)), "\(module) not loaded: \(loaded.summary)")
        }

        // The same tree again: nothing written.
        let (bytes, data) = (try sha256(cow), try dirtyBytes(cow))
        let again = try runCorral(["maint", "install-modules", "--cow", cow, "--modules", tree, "--json"])
        #expect(again.status == 0, "\(again.summary)")
        let second = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(second["changed"] as? Bool == false, "\(again.summary)")
        #expect((second["changes"] as? [String] ?? []).contains { $0.hasPrefix("already installed") }, "\(again.summary)")
        #expect(try sha256(cow) == bytes)
        #expect(try dirtyBytes(cow) == data)

        // A partial change: a guest given the tree without minix, then the
        // whole tree, gains about minix's size (plus depmod's indexes), not
        // the tree's ~100 MiB again.
        let partial = s("partial/\(release)")
        try shell(#"mkdir -p "$2" && cp -a "$1/." "$2/" && find "$2" -name 'minix.ko*' -delete"#, tree, partial)
        let other = try GuestImage.cow(in: s, name: "p.cow")
        #expect(try runCorral(["maint", "install-modules", "--cow", other, "--modules", partial]).status == 0)
        let before = try dirtyBytes(other)
        let whole = try runCorral(["maint", "install-modules", "--cow", other, "--modules", tree, "--json"])
        #expect(whole.status == 0, "\(whole.summary)")
        #expect(whole.stdout.contains("\"changed\" : true"), "\(whole.summary)")
        let grown = try dirtyBytes(other) - before
        #expect(grown < 8 << 20, "adding one module grew the COW by \(grown) bytes")
        let minix = try bootDisk(other, command: "modprobe minix && grep -q '^minix ' /proc/modules")
        #expect(minix.status == 0, "\(minix.summary)")
    }

    /// flatten-rsync makes a filesystem with the source's UUID, label,
    /// block size, inode size and features, and a guest whose fstab names
    /// its root by UUID boots from the result: its init resolves the fstab's
    /// root (fsck -N, findfs) to its disk. 2 boots and the job.
    @Test func flattenRsyncKeepsTheFilesystemsIdentityAndBootsByUUID() throws {
        let s = try Scratch("corral-guest")
        let cow = try GuestImage.cow(in: s)
        let source = try DiskImage.identity(try GuestImage.ready())
        let uuid = try #require(source["Filesystem UUID"])
        // The guest's fstab names its root by UUID; its init (minbase has
        // none) checks that the fstab's root resolves, then powers off.
        let setup = try bootDisk(cow, writable: true, command: """
            printf 'UUID=\(uuid) / ext4 errors=remount-ro 0 1\\n' > /etc/fstab
            cat > /sbin/init <<'INIT'
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            spec=$(awk '$2 == "/" { print $1 }' /etc/fstab)
            echo "fstab root: $spec -> $(findfs "$spec")"
            fsck -N /
            echo o > /proc/sysrq-trigger
            sleep 10
            INIT
            chmod 755 /sbin/init
            """)
        #expect(setup.status == 0, "\(setup.summary)")

        let flat = s("flat.img")
        let job = try runCorral(["maint", "flatten-rsync", "--cow", cow, "--output", flat])
        #expect(job.status == 0, "\(job.summary)")
        let made = try DiskImage.identity(flat)
        for key in ["Filesystem UUID", "Filesystem volume name", "Block size", "Inode size", "Filesystem features"] {
            #expect(made[key] == source[key], "\(key): \(made[key] ?? "-") in the output, \(source[key] ?? "-") in the source")
        }
        #expect(made["Filesystem volume name"] == "corral-guest")

        let boot = try bootDisk(flat, command: nil, timeout: 120)
        #expect(boot.status == 0, "\(boot.summary)")
        #expect(boot.stdout.contains("fstab root: UUID=\(uuid) -> /dev/ubda"), "\(boot.summary)")
        #expect(boot.stdout.contains("fsck.ext4") && boot.stdout.contains("/dev/ubda"), "\(boot.summary)")
    }
}
