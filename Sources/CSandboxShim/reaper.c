// The process tree under the launcher's helper:
//
//   helper (this process, waits)          -- outside the new PID namespace
//     └─ reaper  (PID 1 of the namespace)  -- reaps, forwards TERM/INT/HUP
//          └─ kernel (PID 2)               -- linux.uml, under seccomp
//               └─ stubs, helper threads, winch helper
//
// Why a reaper and not the kernel as PID 1: a namespace init ignores its own
// SIGABRT, so UML's panic path (abort) would spin forever (sandbox.md §0.5).
// Why a namespace at all: if UML's main process dies, its ptraced stubs keep
// running guest code natively on the host; the namespace dies with its init.
//
// Only async-signal-safe calls happen after fork: the helper may have threads.
#include "CSandboxShim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const int forwarded_signals[] = { SIGTERM, SIGINT, SIGHUP };
#define FORWARDED_COUNT (sizeof forwarded_signals / sizeof forwarded_signals[0])

static volatile pid_t forward_target = 0;

static void forward_signal(int sig) {
    int saved = errno;
    if (forward_target > 0) kill(forward_target, sig);
    errno = saved;
}

static void forwarded_set(sigset_t *set) {
    sigemptyset(set);
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaddset(set, forwarded_signals[i]);
}

/// Handlers that pass the signal on, and unblocked: the helper may have
/// been started with them blocked (an inherited mask survives exec).
static void install_forwarding(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &sa, NULL);
    sigset_t set;
    forwarded_set(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

static ssize_t read_full(int fd, void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

struct failure { int step; int err; };

static void report_failure(int fd, int step) {
    struct failure f = { step, errno };
    write_all(fd, &f, sizeof f);
}

__attribute__((noreturn))
static void kernel_child(const struct corral_kernel_spec *spec, int error_fd) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    // A crashing kernel must not write a core of guest memory anywhere.
    struct rlimit nocore = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &nocore) != 0) { report_failure(error_fd, CORRAL_STEP_RLIMIT); _exit(127); }

    if (spec->drop_user) {
        if (setgroups(spec->group_count, spec->groups) != 0) { report_failure(error_fd, CORRAL_STEP_SETGROUPS); _exit(127); }
        if (setresgid(spec->gid, spec->gid, spec->gid) != 0) { report_failure(error_fd, CORRAL_STEP_SETGID); _exit(127); }
        if (setresuid(spec->uid, spec->uid, spec->uid) != 0) { report_failure(error_fd, CORRAL_STEP_SETUID); _exit(127); }
    }

    // Last step before exec: from here on only the allowlist applies, and the
    // one exec it allows is execveat(exec_fd, "", AT_EMPTY_PATH).
    if (spec->bpf && corral_seccomp_install(spec->bpf, spec->bpf_len) != 0) {
        report_failure(error_fd, CORRAL_STEP_SECCOMP);
        _exit(127);
    }
    syscall(SYS_execveat, spec->exec_fd, "", spec->argv, environ, AT_EMPTY_PATH);
    report_failure(error_fd, CORRAL_STEP_EXEC);
    _exit(127);
}

__attribute__((noreturn))
static void reaper(const struct corral_kernel_spec *spec, int error_fd, int status_fd, int lifeline_fd) {
    // Die with the helper; if it is already gone, the lifeline shows a hang-up.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct pollfd p = { .fd = lifeline_fd, .events = POLLIN };
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN | POLLERR))) _exit(1);
    prctl(PR_SET_NAME, "corral-reaper", 0, 0, 0);

    // Blocked until the kernel's pid is known; the kernel child clears its mask.
    sigset_t forwarded;
    forwarded_set(&forwarded);
    sigprocmask(SIG_BLOCK, &forwarded, NULL);

    pid_t kernel = fork();
    if (kernel < 0) { report_failure(error_fd, CORRAL_STEP_FORK_KERNEL); _exit(127); }
    if (kernel == 0) kernel_child(spec, error_fd);
    close(error_fd);
    forward_target = kernel;
    install_forwarding();

    for (;;) {
        int status = 0;
        pid_t w = waitpid(-1, &status, __WALL);
        if (w < 0) {
            if (errno == EINTR) continue;
            _exit(127);  // ECHILD: the kernel is gone without us seeing it
        }
        if (w == kernel) {
            write_all(status_fd, &status, sizeof status);
            // Exiting as PID 1 makes the host kernel SIGKILL the rest.
            _exit(0);
        }
    }
}

int corral_spawn_reaped_kernel(const struct corral_kernel_spec *spec,
                               struct corral_reaper *out, int *failed_step) {
    int errp[2], statp[2], life[2];
    if (pipe2(errp, O_CLOEXEC) != 0) return -1;
    if (pipe2(statp, O_CLOEXEC) != 0) { close(errp[0]); close(errp[1]); return -1; }
    if (pipe2(life, O_CLOEXEC) != 0) {
        close(errp[0]); close(errp[1]); close(statp[0]); close(statp[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errp[0]); close(errp[1]); close(statp[0]); close(statp[1]); close(life[0]); close(life[1]);
        *failed_step = CORRAL_STEP_FORK_REAPER;
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(errp[0]); close(statp[0]); close(life[1]);
        reaper(spec, errp[1], statp[1], life[0]);
    }
    close(errp[1]); close(statp[1]); close(life[0]);

    struct failure f;
    ssize_t n = read_full(errp[0], &f, sizeof f);
    close(errp[0]);
    if (n == (ssize_t)sizeof f) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        close(statp[0]); close(life[1]);
        *failed_step = f.step;
        errno = f.err;
        return -1;
    }
    out->pid = pid;
    out->status_fd = statp[0];
    out->lifeline_fd = life[1];
    return 0;
}

int corral_wait_reaper(const struct corral_reaper *r) {
    forward_target = r->pid;
    install_forwarding();
    int reaper_status = 0;
    while (waitpid(r->pid, &reaper_status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    int kernel_status = 0;
    ssize_t n = read_full(r->status_fd, &kernel_status, sizeof kernel_status);
    close(r->status_fd);
    close(r->lifeline_fd);
    // No report means the reaper itself died (e.g. SIGKILL): pass that on.
    return n == (ssize_t)sizeof kernel_status ? kernel_status : reaper_status;
}

void corral_exit_like(int status) {
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit nocore = { 0, 0 };
        setrlimit(RLIMIT_CORE, &nocore);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

int corral_open_exec_fd(const char *path, int target_fd) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fd == target_fd) return fd;
    int moved = dup3(fd, target_fd, O_CLOEXEC);
    int e = errno;
    close(fd);
    errno = e;
    return moved;
}
