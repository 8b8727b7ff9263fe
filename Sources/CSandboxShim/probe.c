// Test probe: what does the filter do to one syscall? A forked child sets
// no_new_privs, installs the filter and makes the call; the parent tells
// "returned (value/errno)" from "killed by a signal" from "exec'd away".
#include "CSandboxShim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define X32_SYSCALL_BIT 0x40000000L

static long i386_syscall(long nr, const long a[6]) {
    long ret;
    // int $0x80 takes the i386 ABI: eax = nr, ebx, ecx, edx, esi, edi.
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     : "memory");
    return ret;
}

int corral_probe_syscall(const uint8_t *bpf, size_t bpf_len, long nr, const long args[6],
                         int abi, struct corral_probe_result *out) {
    memset(out, 0, sizeof *out);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) { int e = errno; close(p[0]); close(p[1]); errno = e; return -1; }
    if (pid == 0) {
        close(p[0]);
        pid_t self = getpid();
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
        if (bpf && corral_seccomp_install(bpf, bpf_len) != 0) _exit(121);
        long ret;
        int err = 0;
        if (abi == CORRAL_ABI_I386) {
            ret = i386_syscall(nr, args);
            if (ret < 0 && ret > -4096) { err = (int)-ret; ret = -1; }
        } else {
            long n = abi == CORRAL_ABI_X32 ? (nr | X32_SYSCALL_BIT) : nr;
            ret = syscall(n, args[0], args[1], args[2], args[3], args[4], args[5]);
            err = ret == -1 ? errno : 0;
        }
        // A child created by an allowed clone/fork: leave quietly.
        if (getpid() != self) _exit(0);
        long report[2] = { ret, err };
        (void)!write(p[1], report, sizeof report);
        _exit(0);
    }
    close(p[1]);
    long report[2];
    ssize_t got = 0;
    for (;;) {
        ssize_t n = read(p[0], (char *)report + got, sizeof report - (size_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += n;
        if (got == (ssize_t)sizeof report) break;
    }
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFSIGNALED(status)) {
        out->outcome = 1;
        out->signal = WTERMSIG(status);
    } else if (got == (ssize_t)sizeof report) {
        out->outcome = 0;
        out->ret = report[0];
        out->err = (int)report[1];
    } else {
        out->outcome = 2;
        out->exit_code = WEXITSTATUS(status);
    }
    return 0;
}
