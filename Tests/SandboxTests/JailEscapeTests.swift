import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The jail, attacked from the kernel's side: a stand-in kernel (a static C
/// program run as `--kernel`, so it runs exactly where linux.uml would:
/// under the profile, the namespaces, Landlock) tries each escape and prints
/// one `ESCAPE <name> denied|ALLOWED <detail>` line per attempt.
@Suite(.serialized, .enabled(if: geteuid() == 0 || TestEnvironment.requireUML, "needs root (the sandbox as corral boot applies it)"))
struct JailEscapeTests {
    static let body = #"""
        char buf[4096];
        ssize_t n;
        int fd;
        /* Host secrets: read as empty in the kernel's mount namespace. */
        fd = open("/etc/shadow", O_RDONLY);
        n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
        printf("ESCAPE shadow %s %zd\n", n > 0 ? "ALLOWED" : "denied", n);
        fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
        n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
        printf("ESCAPE kmsg %s %zd\n", n > 0 ? "ALLOWED" : "denied", n);
        /* Host processes' environments: the marker is in a host process's. */
        int seen = 0;
        for (int pid = 1; pid < 65536 && !seen; pid++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/environ", pid);
            fd = open(path, O_RDONLY);
            if (fd < 0) continue;
            n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0) { buf[n] = 0; for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' ';
                         if (strstr(buf, "CORRAL_ESCAPE_MARKER=host-secret")) seen = pid; }
        }
        printf("ESCAPE environ %s %d\n", seen ? "ALLOWED" : "denied", seen);
        /* Other terminals: none but the ones this tree opens itself. */
        int pts = -1;
        for (int i = 0; i < 256 && pts < 0; i++) {
            char path[32];
            snprintf(path, sizeof path, "/dev/pts/%d", i);
            fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
            if (fd >= 0) { pts = i; close(fd); }
        }
        printf("ESCAPE pty %s %d\n", pts >= 0 ? "ALLOWED" : "denied", pts);
        /* The host's /dev/shm: the test looks for this file on the host. */
        fd = open("/dev/shm/corral-escape-probe", O_WRONLY | O_CREAT, 0644);
        printf("ESCAPE shm-create %d\n", fd >= 0);
        /* Any host binary through the one fd execveat may use (1000, and 5 for 7.2's stub). */
        for (int target = 0; target < 2; target++) {
            int want = target == 0 ? 1000 : 5;
            int got = -1;
            for (int i = 0; i < 1100; i++) {
                got = open("/usr/bin/id", O_RDONLY);
                if (got < 0 || got >= want) break;
            }
            if (got != want) { printf("ESCAPE execveat-%d denied no-fd\n", want); continue; }
            char *args[] = { "id", NULL };
            char *env[] = { NULL };
            long rc = syscall(SYS_execveat, want, "", args, env, 0x1000);
            printf("ESCAPE execveat-%d %s %ld %d\n", want, rc == 0 ? "ALLOWED" : "denied", rc, errno);
        }
        fflush(stdout);
        return 0;
        """#

    /// Run as root's corral and as an ordinary user's: for the user, the
    /// process holding the secret, the extra terminal and (below) the socket
    /// are the user's own, which it could reach on the host.
    @Test(arguments: JailCaller.allCases)
    func aStandInKernelCannotReachHostSecretsTerminalsOrBinaries(_ caller: JailCaller) throws {
        let booter = try JailBooter(caller)
        let s = try Scratch("corral-jail")
        chmod(s.path, 0o755)
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: Self.body)
        unlink("/dev/shm/corral-escape-probe")
        // A host process with a secret in its environment.
        let holder = try booter.hostProcess("/bin/sleep", ["60"], environment: ["CORRAL_ESCAPE_MARKER": "host-secret"])
        defer { holder.terminate() }
        // A terminal on the host besides any the machine has.
        let terminal = try booter.terminal()
        defer { close(terminal.master) }

        let r = try booter.corral(["boot", "--kernel", kernel, "--init", "/bin/true"], mergeStderr: true)
        let lines = r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { $0.hasPrefix("ESCAPE ") }
        let byName = Dictionary(lines.map { line -> (String, String) in
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            return (parts[1], parts.count > 2 ? parts[2] : "")
        }, uniquingKeysWith: { a, _ in a })
        for name in ["shadow", "kmsg", "environ", "pty", "execveat-1000", "execveat-5"] {
            let result = try #require(byName[name], "no result for \(name): \(r.summary)")
            #expect(result.hasPrefix("denied"), "\(caller) \(name): \(result)")
        }
        #expect(byName["shm-create"] == "1", "the stand-in could write its own /dev/shm: \(r.summary)")
        #expect(access("/dev/shm/corral-escape-probe", F_OK) != 0, "the kernel's /dev/shm is the host's")
        unlink("/dev/shm/corral-escape-probe")
    }

    /// Privilege, host sockets and process floods, from the kernel's side:
    /// the stand-in prints its ids and capabilities, sends a datagram to a
    /// unix socket of the caller's (mode 0660 in a 0755 directory: any
    /// process of the caller could send) and to one bound in the abstract
    /// namespace (no file, no permission: any process in the host's network
    /// namespace could send), and forks until refused or 2048 children. As
    /// root's and as an ordinary user's corral.
    @Test(arguments: JailCaller.allCases)
    func aStandInKernelIsUnprivilegedCannotSendToHostSocketsAndCannotFlood(_ caller: JailCaller) throws {
        let booter = try JailBooter(caller)
        let s = try Scratch("corral-jail-sock")
        chmod(s.path, 0o755)
        let socketPath = s.file("host.sock")
        let abstractName = "corral-escape-\(getpid())-\(caller)"
        let body = #"""
            char buf[4096];
            int fd = open("/proc/self/status", O_RDONLY);
            ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
            buf[n > 0 ? n : 0] = 0;
            for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Cap", 3)) printf("JAIL %s\n", line);
            int s = socket(AF_UNIX, SOCK_DGRAM, 0);
            struct sockaddr_un a = { .sun_family = AF_UNIX };
            strcpy(a.sun_path, "SOCKET_PATH");
            ssize_t r = sendto(s, "escape", 6, 0, (struct sockaddr *)&a, sizeof a);
            printf("ESCAPE unix-send %s %zd %d\n", r >= 0 ? "ALLOWED" : "denied", r, r < 0 ? errno : 0);
            struct sockaddr_un b = { .sun_family = AF_UNIX };
            memcpy(b.sun_path + 1, "ABSTRACT_NAME", strlen("ABSTRACT_NAME"));
            socklen_t blen = (socklen_t)(sizeof b.sun_family + 1 + strlen("ABSTRACT_NAME"));
            ssize_t ar = sendto(s, "escape", 6, 0, (struct sockaddr *)&b, blen);
            printf("ESCAPE abstract-send %s %zd %d\n", ar >= 0 ? "ALLOWED" : "denied", ar, ar < 0 ? errno : 0);
            fflush(stdout);
            int count = 0, err = 0;
            for (; count < 2048; count++) {
                pid_t p = fork();
                if (p < 0) { err = errno; break; }
                if (p == 0) { sigset_t m; sigemptyset(&m); sigsuspend(&m); _exit(0); }
            }
            printf("ESCAPE flood %s %d %d\n", count >= 2048 ? "ALLOWED" : "denied", count, err);
            fflush(stdout);
            return 0;
            """#.replacingOccurrences(of: "SOCKET_PATH", with: socketPath)
            .replacingOccurrences(of: "ABSTRACT_NAME", with: abstractName)
        let kernel = try StandInKernel.build(in: s, name: "linux.uml", body: body)
        let listener = try boundSocket(socketPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(listener) }
        let abstractListener = try boundSocket(abstractName, type: Int32(SOCK_DGRAM.rawValue), abstract: true)
        defer { close(abstractListener) }
        chmod(socketPath, 0o660)
        try booter.own(socketPath)

        let r = try booter.corral(["boot", "--kernel", kernel, "--init", "/bin/true"], mergeStderr: true)
        let lines = r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let field = { (name: String) in lines.first { $0.hasPrefix("JAIL \(name):") }?.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst(2) }
        let uid = try #require(field("Uid"), "\(r.summary)")
        #expect(!uid.contains("0"), "\(caller): Uid \(uid): \(r.summary)")
        // None held, none to be had at an exec: also in the user's namespace.
        for name in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
            #expect(field(name).map(Array.init) == ["0000000000000000"], "\(caller) \(name): \(r.summary)")
        }
        for name in ["unix-send", "abstract-send", "flood"] {
            let result = try #require(lines.first { $0.hasPrefix("ESCAPE \(name) ") }, "no result for \(name): \(r.summary)")
            #expect(result.hasPrefix("ESCAPE \(name) denied"), "\(caller): \(result)")
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(recv(listener, &buffer, buffer.count, Int32(MSG_DONTWAIT)) < 0, "the host socket received a datagram")
        #expect(recv(abstractListener, &buffer, buffer.count, Int32(MSG_DONTWAIT)) < 0, "the abstract socket received a datagram")
    }

    /// The same escapes from the guest side, on the kernel under test (make
    /// check runs this suite on 6.1, 6.12 and 7.2): through the hostfs root
    /// and through fresh `mount -t hostfs` mounts of the host's /etc, /proc,
    /// /dev and /dev/shm.
    @Test func aGuestCommandCannotReachHostSecretsProcessesOrTerminals() throws {
        try JailBooter.requireKernel()
        unlink("/dev/shm/corral-guest-escape")
        // A private directory of root's with a world-readable file in it, like
        // /root or a mode-0700 home: the guest is a stranger to it. (Under
        // /tmp, so the guest's own /tmp tmpfs hides it: only a fresh hostfs
        // mount of / reaches it.)
        let home = try Scratch("corral-jail-home")
        chmod(home.path, 0o700)
        try "root's secret\n".write(toFile: home.file("secret"), atomically: false, encoding: .utf8)
        chmod(home.file("secret"), 0o644)
        let script = [
            "mkdir -p /run/e && mount -t hostfs none /run/e -o / && echo home-mount $(cat /run/e\(home.file("secret")) 2>/dev/null | wc -c) && echo root-list $(ls -A /run/e/root 2>/dev/null | wc -l); umount /run/e",
            "echo shadow-root $(cat /etc/shadow | wc -c)",
            "mkdir -p /run/e && mount -t hostfs none /run/e -o /etc && echo shadow-mount $(cat /run/e/shadow | wc -c); umount /run/e",
            "mount -t hostfs none /run/e -o /proc && echo host-pids $(ls /run/e | grep -c '^[0-9]') && umount /run/e",
            "mount -t hostfs none /run/e -o /dev && echo kmsg $(head -c 100 /run/e/kmsg 2>/dev/null | wc -c) && echo ptys $(ls /run/e/pts | grep -c '^[0-9]') && umount /run/e",
            "mount -t hostfs none /run/e -o /dev/shm && echo x > /run/e/corral-guest-escape; echo shm-write $?; umount /run/e",
        ].joined(separator: "; ")
        let r = try runCorral(["boot", "--kernel", TestEnvironment.kernel, "--command", script])
        let values = Dictionary(r.stdout.split(separator: "\n").compactMap { line -> (String, Int)? in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let n = Int(parts[1]) else { return nil }
            return (String(parts[0]), n)
        }, uniquingKeysWith: { a, _ in a })
        #expect(values["shadow-root"] == 0, "\(r.summary)")
        #expect(values["home-mount"] == 0, "\(r.summary)")
        #expect(values["root-list"] == 0, "\(r.summary)")
        #expect(values["shadow-mount"] == 0, "\(r.summary)")
        // The reaper, the kernel and its stubs; the host has hundreds.
        let pids = try #require(values["host-pids"], "\(r.summary)")
        #expect(pids < 20, "the guest sees \(pids) host processes")
        #expect(values["kmsg"] == 0, "\(r.summary)")
        #expect(values["ptys"] == 0, "\(r.summary)")
        #expect(values["shm-write"] != nil, "\(r.summary)")
        #expect(access("/dev/shm/corral-guest-escape", F_OK) != 0, "a guest wrote the host's /dev/shm")
        unlink("/dev/shm/corral-guest-escape")
    }
}
