import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's root (`JailRoot`) and its writable set, attacked from both
/// sides: a stand-in kernel (run as `--kernel`, exactly where linux.uml
/// runs) and a guest command on the kernel under test (make check runs this
/// suite on 6.1, 6.12 and 7.2). Each escape is denied: another user's home,
/// world-writable unix sockets in /tmp and /run, /root; a new file beside a
/// disk, a sibling COW, the shared backing and a `:r` disk. The read-write
/// disk itself stays writable (the control).
@Suite(.serialized, .enabled(if: geteuid() == 0 || TestEnvironment.requireUML, "needs root (useradd, the sandbox as corral boot applies it)"))
struct JailRootTests {
    /// A user with a home holding a world-readable file, two world-writable
    /// listening sockets, and a disk directory: backing, the boot's COW
    /// (made by corral at boot), a sibling COW over the same backing, and a
    /// raw image attached `:r`.
    final class Setup {
        let user: TestUser
        let secret: String
        let disks: Scratch
        let socketDirectory: Scratch
        let sockets: [(path: String, fd: Int32)]
        let runSocket = "/run/corral-jail-test-\(getpid()).sock"
        var before: [String: String] = [:]

        init() throws {
            user = try TestUser("jail", home: true)
            let home = try #require(user.home)
            secret = home + "/notes.txt"
            try "the user's own notes\n".write(toFile: secret, atomically: false, encoding: .utf8)
            chmod(secret, 0o644)
            chmod(home, 0o755)
            disks = try Scratch("corral-jail-disks")
            chmod(disks.path, 0o755)
            socketDirectory = try Scratch("corral-jail-sock")
            chmod(socketDirectory.path, 0o755)
            var made: [(String, Int32)] = []
            for path in [socketDirectory.file("open.sock"), runSocket] {
                unlink(path)
                made.append((path, try Self.listen(path)))
            }
            sockets = made
            try run("/usr/bin/truncate", ["-s", "4M", disks.file("backing.img"), disks.file("ro.img")])
            let sibling = try runCorral(["cow", "create", disks.file("sibling.cow"), disks.file("backing.img")])
            try #require(sibling.status == 0, "\(sibling.summary)")
            for name in ["backing.img", "ro.img", "sibling.cow"] { before[name] = try digest(disks.file(name)) }
        }

        deinit {
            for socket in sockets { close(socket.fd); unlink(socket.path) }
        }

        var diskArguments: [String] {
            ["--disk", "0=\(disks.file("rw.cow")),\(disks.file("backing.img"))", "--disk", "1=\(disks.file("ro.img")):r"]
        }

        /// A listening stream socket anyone may connect to (mode 0777).
        static func listen(_ path: String) throws -> Int32 {
            let fd = try boundSocket(path, type: Int32(SOCK_STREAM.rawValue))
            try #require(Glibc.listen(fd, 4) == 0, "listen \(path): \(errno)")
            chmod(path, 0o777)
            return fd
        }

        /// No connection reached the sockets, nothing new is beside the disks,
        /// and the files the kernel may not write are unchanged.
        func checkHost() throws {
            for socket in sockets {
                var pfd = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
                #expect(poll(&pfd, 1, 0) == 0, "\(socket.path) got a connection")
            }
            #expect(access(disks.file("new-file"), F_OK) != 0, "the kernel created a file beside its disk")
            for (name, digest) in before {
                #expect(try JailRootTests.digest(disks.file(name)) == digest, "\(name) was written")
            }
        }
    }

    static func digest(_ path: String) throws -> String {
        try run("/usr/bin/sha256sum", [path]).split(separator: " ").first.map(String.init) ?? ""
    }

    /// `NAME VALUE` lines of `prefix`, by name.
    static func values(_ text: String, prefix: String) -> [String: String] {
        Dictionary(text.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count >= 2, parts[0] == prefix else { return nil }
            return (parts[1], parts.count > 2 ? parts[2] : "")
        }, uniquingKeysWith: { a, _ in a })
    }

    /// As root's corral and as an ordinary user's; for the user, the disk
    /// directory and every file in it are its own, so the host would let it
    /// write them all: only the jail keeps the kernel to its one disk.
    @Test(arguments: JailCaller.allCases)
    func aStandInKernelSeesOnlyItsRootAndWritesOnlyItsDisk(_ caller: JailCaller) throws {
        let setup = try Setup()
        let booter = try JailBooter(caller)
        for path in [setup.disks.path] + ["backing.img", "ro.img", "sibling.cow"].map(setup.disks.file) { try booter.own(path) }
        let s = try Scratch("corral-jail-root")
        chmod(s.path, 0o755)
        let d = setup.disks
        let body = #"""
            int fd;
            char buf[256];
            ssize_t n;
            fd = open("SECRET", O_RDONLY);
            n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
            printf("ESCAPE home %s %zd %d\n", n > 0 ? "ALLOWED" : "denied", n, errno);
            DIR *root = opendir("/root");
            int entries = 0;
            if (root) { struct dirent *e; while ((e = readdir(root))) if (e->d_name[0] != '.') entries++; closedir(root); }
            printf("ESCAPE root-list %s %d\n", entries > 0 ? "ALLOWED" : "denied", entries);
            const char *sockets[] = { "SOCKET1", "SOCKET2" };
            for (int i = 0; i < 2; i++) {
                /* connect is not in any profile (the filter would end the
                   stand-in); whether the socket is there at all is the question:
                   O_PATH (010000000) opens a socket without connecting. */
                fd = open(sockets[i], 010000000);
                printf("ESCAPE socket-%d %s %d %d\n", i, fd >= 0 ? "ALLOWED" : "denied", fd, fd < 0 ? errno : 0);
            }
            fd = open("DISKS/new-file", O_WRONLY | O_CREAT | O_EXCL, 0644);
            printf("ESCAPE beside-disk %s %d %d\n", fd >= 0 ? "ALLOWED" : "denied", fd, fd < 0 ? errno : 0);
            const char *names[] = { "sibling.cow", "backing.img", "ro.img" };
            for (int i = 0; i < 3; i++) {
                snprintf(buf, sizeof buf, "DISKS/%s", names[i]);
                fd = open(buf, O_WRONLY);
                n = fd < 0 ? -1 : pwrite(fd, "escape", 6, 0);
                printf("ESCAPE write-%s %s %zd %d\n", names[i], n > 0 ? "ALLOWED" : "denied", n, n < 0 ? errno : 0);
            }
            fd = open("DISKS/rw.cow", O_RDWR);
            printf("CONTROL rw-disk %d\n", fd >= 0);
            fflush(stdout);
            return 0;
            """#
            .replacingOccurrences(of: "SECRET", with: setup.secret)
            .replacingOccurrences(of: "SOCKET1", with: setup.sockets[0].path)
            .replacingOccurrences(of: "SOCKET2", with: setup.sockets[1].path)
            .replacingOccurrences(of: "DISKS", with: d.path)
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: body, includes: ["dirent.h"])
        let r = try booter.corral(["boot", "--kernel", kernel, "--init", "/bin/true"] + setup.diskArguments, mergeStderr: true)
        let escapes = Self.values(r.stdout, prefix: "ESCAPE")
        for name in ["home", "root-list", "socket-0", "socket-1", "beside-disk", "write-sibling.cow", "write-backing.img", "write-ro.img"] {
            let result = try #require(escapes[name], "no result for \(name): \(r.summary)")
            #expect(result.hasPrefix("denied"), "\(caller) \(name): \(result)")
        }
        #expect(Self.values(r.stdout, prefix: "CONTROL")["rw-disk"] == "1", "the stand-in could not open its own disk: \(r.summary)")
        try setup.checkHost()
    }

    @Test func aGuestCommandSeesOnlyItsRootAndWritesOnlyItsDisk() throws {
        try JailBooter.requireKernel()
        let setup = try Setup()
        let d = setup.disks.path
        let script = [
            "mkdir -p /run/e && mount -t hostfs none /run/e -o /",
            "echo GUEST home $(cat /run/e\(setup.secret) 2>/dev/null | wc -c)",
            "echo GUEST root-list $(ls -A /run/e/root 2>/dev/null | wc -l)",
            "echo GUEST tmp-socket $(ls -A /run/e\(setup.socketDirectory.path) 2>/dev/null | wc -l)",
            "echo GUEST run-socket $(ls -A /run/e\(setup.runSocket) 2>/dev/null | wc -l)",
            "(echo x > /run/e\(d)/new-file) 2>/dev/null; echo GUEST beside-disk $?",
            "(echo x >> /run/e\(d)/sibling.cow) 2>/dev/null; echo GUEST sibling $?",
            "(echo x >> /run/e\(d)/backing.img) 2>/dev/null; echo GUEST backing $?",
            "(echo x >> /run/e\(d)/ro.img) 2>/dev/null; echo GUEST ro-file $?",
            "(echo x | dd of=/dev/ubdb conv=fsync) 2>/dev/null; echo GUEST ro-device $?",
            "umount /run/e",
            "(head -c 4096 /dev/urandom | dd of=/dev/ubda conv=fsync) 2>/dev/null; echo GUEST rw-device $?",
        ].joined(separator: "; ")
        let r = try runCorral(["boot", "--kernel", TestEnvironment.kernel] + setup.diskArguments + ["--command", script])
        #expect(r.status == 0, "\(r.summary)")
        let values = Self.values(r.stdout, prefix: "GUEST")
        for name in ["home", "root-list", "tmp-socket", "run-socket"] {
            #expect(values[name] == "0", "\(name): \(values[name] ?? "missing"): \(r.summary)")
        }
        for name in ["beside-disk", "sibling", "backing", "ro-file", "ro-device"] {
            let status = try #require(values[name].flatMap { Int($0) }, "no result for \(name): \(r.summary)")
            #expect(status != 0, "\(name) was written")
        }
        #expect(values["rw-device"] == "0", "the guest could not write its own disk: \(r.summary)")
        try setup.checkHost()
    }

    /// An ordinary user (useradd, no sudo) boots its own disk, given by a
    /// relative path: the kernel runs in a user namespace in the same jail
    /// root, the command's output and exit status come back, and the same
    /// escapes are denied: another user's home, /root, the sockets, a file
    /// beside its disk.
    @Test func aNonRootUserBootsItsOwnDiskInTheSameJail() throws {
        try JailBooter.requireKernel()
        let setup = try Setup()
        let booter = try TestUser("boot", home: true)
        let own = try Scratch("corral-jail-user")
        chmod(own.path, 0o755)
        try run("/usr/bin/truncate", ["-s", "8M", own.file("mine.img")])
        try booter.own(own.path)
        try booter.own(own.file("mine.img"))
        let script = [
            "echo GUEST uid $(id -u)",
            "mkdir -p /run/e && mount -t hostfs none /run/e -o /",
            "echo GUEST home $(cat /run/e\(setup.secret) 2>/dev/null | wc -c)",
            "echo GUEST root-list $(ls -A /run/e/root 2>/dev/null | wc -l)",
            "echo GUEST tmp-socket $(ls -A /run/e\(setup.socketDirectory.path) 2>/dev/null | wc -l)",
            "echo GUEST run-socket $(ls -A /run/e\(setup.runSocket) 2>/dev/null | wc -l)",
            "(echo x > /run/e\(own.path)/new-file) 2>/dev/null; echo GUEST beside-disk $?",
            "(echo x > /run/e\(setup.disks.path)/new-file) 2>/dev/null; echo GUEST beside-other $?",
            "umount /run/e",
            "(head -c 4096 /dev/urandom | dd of=/dev/ubda conv=fsync) 2>/dev/null; echo GUEST rw-device $?",
            "exit 7",
        ].joined(separator: "; ")
        let r = try runProcess("/usr/sbin/runuser", ["-u", booter.name, "--", TestPaths.corral, "boot", "--kernel", TestEnvironment.kernel,
                                                     "--disk", "0=mine.img", "--command", script],
                               cwd: own.path, environment: TestEnvironment.childEnvironment)
        #expect(r.status == 7, "\(r.summary)")
        let values = Self.values(r.stdout, prefix: "GUEST")
        #expect(values["uid"] == "0", "\(r.summary)")
        for name in ["home", "root-list", "tmp-socket", "run-socket"] {
            #expect(values[name] == "0", "\(name): \(values[name] ?? "missing"): \(r.summary)")
        }
        for name in ["beside-disk", "beside-other"] {
            let status = try #require(values[name].flatMap { Int($0) }, "no result for \(name): \(r.summary)")
            #expect(status != 0, "\(name) was written")
        }
        #expect(values["rw-device"] == "0", "the user's guest could not write its own disk: \(r.summary)")
        #expect(access(own.file("new-file"), F_OK) != 0, "the user's kernel created a file beside its disk")
        try setup.checkHost()
    }
    /// An ordinary user's kernel holds no capability, not even inside its
    /// own user namespace, and can gain none at an exec: read from the host
    /// while the guest is busy, every task in the kernel's PID namespace
    /// (the reaper, the kernel, its threads and stubs) has CapEff, CapPrm
    /// and CapAmb 0, and the kernel's tasks an empty bounding set.
    @Test(.timeLimit(.minutes(2)))
    func aNonRootUsersKernelHoldsNoCapability() throws {
        let (booter, user) = try JailBooter.ordinaryUser()
        let dir = booter.directory
        try run("/usr/bin/truncate", ["-s", "8M", dir.file("mine.img")])
        try booter.own(dir.file("mine.img"))
        let boot = try BackgroundCorral(
            ["boot", "--kernel", TestEnvironment.kernel, "--disk", "0=mine.img",
             "--command", "(while :; do /bin/true; done) & echo GUEST ready; sleep 5; kill $!; echo GUEST done"],
            outputPath: dir.file("console.txt"), cwd: dir.path, user: user.name)
        let process = boot.process
        let text = { boot.output }
        try #require(boot.waitFor("GUEST ready"), "the guest never got ready: \(text())")

        var kernelTasks = 0, reapers = 0
        // What the guest could ever reach lives in the kernel's PID namespace.
        for pid in HostProcesses.jailed(under: process.processIdentifier) {
            let name = ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            for task in HostProcesses.tasks(of: pid) {
                // One read per task: 7.2's stubs exit as the guest's
                // processes do, between reads of one field and the next.
                guard let status = HostProcesses.status(pid, task: task), status["CapEff"] != nil else { continue }
                let uid = status["Uid"] ?? "?"
                #expect(uid.split(separator: "\t").allSatisfy { $0 == "\(user.uid)" }, "\(name) \(task): Uid \(uid)")
                let kernelTask = HostProcesses.kernelNames.contains(name)
                var fields = ["CapEff", "CapPrm", "CapAmb"]
                if kernelTask { fields.append("CapBnd") }
                for field in fields {
                    let value = status[field] ?? "?"
                    #expect(value == "0000000000000000", "\(name) task \(task) of \(pid): \(field) \(value)")
                }
                if kernelTask { kernelTasks += 1 } else if name == "corral-reaper" { reapers += 1 }
            }
        }
        // main + ubd thread + SIGIO thread + at least one stub; one reaper
        #expect(kernelTasks >= 4, "only \(kernelTasks) kernel tasks seen: \(text())")
        #expect(reapers == 1, "\(reapers) reapers seen")
        boot.wait()
        #expect(process.terminationStatus == 0, "\(text())")
        #expect(text().contains("GUEST done"), "\(text())")
    }

    /// The jailed kernel leads a session of its own with the boot's pty as
    /// its controlling terminal, as it does under `--sandbox off`: UML then
    /// takes window-size changes itself instead of cloning a winch helper
    /// (a process with a session of its own, whose start cost 3-7 ms of each
    /// boot on 6.12). Read from the host while the guest sleeps: every
    /// kernel process in the boot's PID namespace is in one session, led by
    /// the kernel, with one controlling terminal.
    @Test(.timeLimit(.minutes(2)))
    func theJailedKernelHasItsConsoleAsControllingTerminal() throws {
        try JailBooter.requireKernel()
        let d = try Scratch("corral-jail-ctty")
        chmod(d.path, 0o755)
        let boot = try BackgroundCorral(
            ["boot", "--kernel", TestEnvironment.kernel, "--command", "echo GUEST ready; sleep 3; echo GUEST done"],
            outputPath: d.file("console.txt"), cwd: d.path)
        try #require(boot.waitFor("GUEST ready"), "the guest never got ready: \(boot.output)")
        let kernels = HostProcesses.jailed(under: boot.process.processIdentifier)
            .compactMap(HostProcesses.entry).filter { HostProcesses.kernelNames.contains($0.comm) }
        let described = kernels.map { "\($0.pid) session \($0.session) tty \($0.tty)" }.joined(separator: "; ")
        #expect(!kernels.isEmpty, "no kernel process seen: \(boot.output)")
        let sessions = Set(kernels.map(\.session))
        #expect(sessions.count == 1, "the kernel's processes are in several sessions: \(described)")
        if let session = sessions.first {
            #expect(kernels.contains { $0.pid == session }, "the kernel does not lead its session: \(described)")
        }
        let ttys = Set(kernels.map(\.tty))
        #expect(ttys.count == 1 && !ttys.contains(0), "the kernel's processes have no one console: \(described)")
        boot.wait()
        #expect(boot.process.terminationStatus == 0, "\(boot.output)")
        #expect(boot.output.contains("GUEST done"), "\(boot.output)")
    }

    /// Root's kernel runs as a uid of its own, which reaches a disk only
    /// through the jail's idmapped bind of it, made at the file's resolved
    /// path. A disk named through a symlink (to root's mode-0600 file, whose
    /// name holds a comma, which a disk's own name may not) is that file:
    /// the boot goes ahead and the guest writes it, through the link.
    @Test func aDiskNamedThroughASymlinkIsTheKernelsOwn() throws {
        try JailBooter.requireKernel()
        let d = try Scratch("corral-jail-link")
        chmod(d.path, 0o755)
        for name in ["real", "links"] { mkdir(d.file(name), 0o755) }
        let target = d.file("real/a,b.img")
        try run("/usr/bin/truncate", ["-s", "8M", target])
        chmod(target, 0o600)
        try #require(symlink(target, d.file("links/disk.img")) == 0)
        // Named by its absolute path: a relative one reaches the kernel's
        // command line as given.
        let r = try runCorral(["boot", "--kernel", TestEnvironment.kernel, "--disk", "0=\(d.file("links/disk.img"))",
                               "--command", "printf linked | dd of=/dev/ubda conv=fsync 2>/dev/null; echo GUEST wrote $?"],
                              cwd: d.file("links"))
        #expect(r.status == 0, "\(r.summary)")
        #expect(Self.values(r.stdout, prefix: "GUEST")["wrote"] == "0", "\(r.summary)")
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: target)).read(upToCount: 6)
        #expect(head == Data("linked".utf8), "the target was not written")
        var st = stat()
        #expect(lstat(d.file("links/disk.img"), &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK, "the link was replaced")
        #expect(stat(target, &st) == 0 && st.st_uid == 0 && st.st_mode & 0o7777 == 0o600, "the target changed owner or mode")
    }
    /// An ordinary user maintains its own COW: `maint run` mounts the disk
    /// in the guest (the host's set-uid mount, run as the guest's root on
    /// a nosuid hostfs root) and writes a file, `maint fsck` checks it, a
    /// second `run` reads the file back; the COW stays the user's. A job
    /// that still needs root says so in one line.
    @Test(.timeLimit(.minutes(3)))
    func aNonRootUserRunsMaintRunAndFsckOnItsOwnCOW() throws {
        let (booter, user) = try JailBooter.ordinaryUser()
        let dir = booter.directory
        try run("/usr/sbin/mkfs.ext4", ["-q", "-F", dir.file("base.img"), "32M"])
        let made = try runCorral(["cow", "create", dir.file("mine.cow"), dir.file("base.img")])
        try #require(made.status == 0, "\(made.summary)")
        for name in ["base.img", "mine.cow"] { try booter.own(dir.file(name)) }
        let kernel = ["--kernel", TestEnvironment.kernel]
        let write = try booter.corral(["maint", "run"] + kernel + ["--disk", "0=mine.cow", "--mount", "0=/mnt", "--",
                                                                   "sh", "-c", "echo written-by-the-user > /mnt/note.txt"])
        #expect(write.status == 0, "\(write.summary)")
        let fsck = try booter.corral(["maint", "fsck"] + kernel + ["--cow", "mine.cow"])
        #expect(fsck.status == 0, "\(fsck.summary)")
        let read = try booter.corral(["maint", "run"] + kernel + ["--disk", "0=mine.cow:r", "--mount", "0=/mnt", "--", "cat", "/mnt/note.txt"])
        #expect(read.status == 0 && read.stdout.contains("written-by-the-user"), "\(read.summary)")
        var st = stat()
        #expect(stat(dir.file("mine.cow"), &st) == 0 && st.st_uid == user.uid, "mine.cow is owned by \(st.st_uid)")
        let refused = try booter.corral(["maint", "flatten-rsync"] + kernel + ["--cow", "mine.cow", "--output", "flat.img"])
        #expect(refused.status == 240 && refused.stderr.contains("needs root"), "\(refused.summary)")
    }
}
