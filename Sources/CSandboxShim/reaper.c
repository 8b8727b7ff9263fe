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
//
// The kernel child is cloned with CLONE_VM | CLONE_VFORK | CLONE_FILES: the
// reaper sleeps until the child has exec'd (or died), and the seccomp
// listener the child creates lands in the table both share, where the
// reaper finds it afterwards. So the child neither copies the reaper's page
// tables nor waits for the reaper to take the listener over (a pidfd_getfd
// round trip between two processes, two wake-ups on the boot's path).
//
// Both are forked before the launcher has cleared the boot: the child sets
// itself up completely (credentials, Landlock, the filter) and then blocks on
// the launcher's go (spec->start_fd) right before its exec, so that a go
// starts the kernel with one wake-up, and none of this set-up is on the
// boot's path.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "CSandboxShim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
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

/// Sets this process's permitted and effective capabilities to `keep` (a
/// mask of capability numbers) and its inheritable set to none. The raw
/// syscall, not libcap: this runs between fork and exec, where only
/// async-signal-safe calls belong (libcap allocates).
static int set_own_capabilities(uint64_t keep) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].permitted = data[0].effective = (uint32_t)keep;
    data[1].permitted = data[1].effective = (uint32_t)(keep >> 32);
    return (int)syscall(SYS_capset, &header, data);
}

/// Empties the bounding and ambient sets and locks the securebits so that
/// no exec (uid 0 in a namespace, a file capability) hands capabilities
/// back; needs CAP_SETPCAP, which root and a new user namespace's first
/// process have. Leaves the permitted and effective sets for the uid drop.
static int seal_capabilities(void) {
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            if (errno == EINVAL) break;  // past the host's last capability
            return -1;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -1;
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    return prctl(PR_SET_SECUREBITS, bits, 0, 0, 0);
}

static void report_failure(int fd, int step) {
    struct failure f = { step, errno };
    write_all(fd, &f, sizeof f);
}

/// What the reaper hands the kernel child, which shares its memory until exec.
struct kernel_child_args {
    const struct corral_kernel_spec *spec;
    int error_fd;
    /// The child writes its seccomp listener's fd number here; the fd itself
    /// is in the table it shares with the reaper (CLONE_FILES).
    volatile int *listener;
};

/// The kernel child's stack while it shares the reaper's memory.
#define KERNEL_CHILD_STACK (256 * 1024)

/// Runs in the reaper's memory (CLONE_VM) with its own stack until execveat
/// (`raw` is a struct kernel_child_args); never returns. Between clone and
/// exec it changes nothing but its own stack, its signal handlers and mask
/// (its own: no CLONE_SIGHAND), its credentials and the listener slot;
/// credentials go through raw syscalls, never glibc's set*id, which would
/// try to signal the reaper's threads.
static int kernel_child(void *raw) {
    const struct kernel_child_args *args = raw;
    const struct corral_kernel_spec *spec = args->spec;
    int error_fd = args->error_fd;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    // Its own session with its console as controlling terminal: UML then
    // sees the pty's foreground group is its own and takes window-size
    // changes itself; without one it clones a winch helper that does setsid
    // and TIOCSCTTY for it (3-7 ms of each boot on 6.12, whole-process
    // pairs). Not fatal: should it fail, UML falls back to that helper.
    if (spec->console_fd >= 0 && setsid() >= 0) (void)ioctl(spec->console_fd, TIOCSCTTY, 0);

    // A crashing kernel must not write a core of guest memory anywhere.
    struct rlimit nocore = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &nocore) != 0) { report_failure(error_fd, CORRAL_STEP_RLIMIT); _exit(127); }

    if (spec->nproc_limit) {
        // Never above the caller's own hard limit, which a non-root caller
        // cannot raise.
        struct rlimit now;
        rlim_t limit = spec->nproc_limit;
        if (getrlimit(RLIMIT_NPROC, &now) == 0 && now.rlim_max != RLIM_INFINITY && now.rlim_max < limit) limit = now.rlim_max;
        struct rlimit procs = { limit, limit };
        if (setrlimit(RLIMIT_NPROC, &procs) != 0) { report_failure(error_fd, CORRAL_STEP_RLIMIT); _exit(127); }
    }
    if (spec->drop_capabilities && seal_capabilities() != 0) { report_failure(error_fd, CORRAL_STEP_CAPABILITIES); _exit(127); }
    if (spec->drop_user) {
        if (syscall(SYS_setgroups, spec->group_count, spec->groups) != 0) { report_failure(error_fd, CORRAL_STEP_SETGROUPS); _exit(127); }
        if (syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid) != 0) { report_failure(error_fd, CORRAL_STEP_SETGID); _exit(127); }
        if (syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid) != 0) { report_failure(error_fd, CORRAL_STEP_SETUID); _exit(127); }
    }
    // Without a uid drop (a caller's own uid in its user namespace) the
    // child still holds the namespace's capabilities: cleared here, and by
    // SECBIT_NOROOT no exec restores them.
    if (spec->drop_capabilities && set_own_capabilities(0) != 0) { report_failure(error_fd, CORRAL_STEP_CAPABILITIES); _exit(127); }

    if (spec->landlock_fd >= 0) {
        if (syscall(SYS_landlock_restrict_self, spec->landlock_fd, 0) != 0) {
            report_failure(error_fd, CORRAL_STEP_LANDLOCK);
            _exit(127);
        }
        close(spec->landlock_fd);
    }

    // Last step before the go: from here on only the allowlist applies, and
    // the one exec it allows is execveat(exec_fd, "", AT_EMPTY_PATH).
    if (spec->bpf && spec->notify_mode) {
        // The filter's notify action needs a listener: created here, where
        // the filter is installed, in the fd table the reaper shares. It is
        // close-on-exec, so the kernel's own table (exec unshares it) drops
        // it, and only the reaper holds it once the kernel runs.
        struct sock_fprog prog = {
            .len = (unsigned short)(spec->bpf_len / sizeof(struct sock_filter)),
            .filter = (struct sock_filter *)spec->bpf,
        };
        int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0) { report_failure(error_fd, CORRAL_STEP_SECCOMP); _exit(127); }
        *args->listener = listener;
    } else if (spec->bpf && corral_seccomp_install(spec->bpf, spec->bpf_len) != 0) {
        report_failure(error_fd, CORRAL_STEP_SECCOMP);
        _exit(127);
    }
    // Ready: the kernel starts on the launcher's go. read is in every
    // profile (the kernel reads its console with it), and the notify action
    // cannot fire here: the reaper that would answer it is waiting for this
    // child's exec. Nothing but end of file (the boot called off, or the
    // launcher gone) stops it; the reaper then passes on a clean exit.
    if (spec->start_fd >= 0) {
        char go;
        ssize_t n;
        while ((n = read(spec->start_fd, &go, 1)) < 0 && errno == EINTR) {}
        if (n != 1) _exit(0);
    }
    syscall(SYS_execveat, spec->exec_fd, "", spec->argv, environ, AT_EMPTY_PATH);
    report_failure(error_fd, CORRAL_STEP_EXEC);
    _exit(127);
}

static void on_child(int sig) { (void)sig; }

/// Answers one notification: in learn mode the call goes ahead; otherwise
/// it fails and the kernel is killed (the first denial ends the boot, as
/// SECCOMP_RET_KILL_PROCESS would, but the helper learns which call it was).
static void answer_notification(int listener, int mode, pid_t kernel, int event_fd, int *denied) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;  // the caller died meanwhile
    struct corral_seccomp_event event = { .nr = req.data.nr, .arch = req.data.arch };
    for (int i = 0; i < 6; i++) event.args[i] = req.data.args[i];
    // A kernel that has already died (e.g. killed from outside) releases its
    // stubs, which then run guest code natively until the namespace goes:
    // their calls are refused, but they are not the kernel's, so not reported.
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int kernel_gone = waitid(P_PID, (id_t)kernel, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == kernel;
    if (mode == 2 || (!*denied && !kernel_gone)) write_all(event_fd, &event, sizeof event);
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    if (mode == 2) {
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
        if (!kernel_gone) {
            *denied = 1;
            kill(kernel, SIGKILL);
        }
        resp.error = -EPERM;
    }
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

__attribute__((noreturn))
static void reaper(const struct corral_kernel_spec *spec, int error_fd, int status_fd, int lifeline_fd, int event_fd) {
    // Die with the helper; if it is already gone, the lifeline shows a hang-up.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct pollfd p = { .fd = lifeline_fd, .events = POLLIN };
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN | POLLERR))) _exit(1);
    prctl(PR_SET_NAME, "corral-reaper", 0, 0, 0);
    // The host's /proc shows every host process (environ, cmdline, fds);
    // this one shows the reaper, the kernel and its stubs only.
    if (spec->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        report_failure(error_fd, CORRAL_STEP_PROC);
        _exit(127);
    }

    // Blocked until the kernel's pid is known; the kernel child clears its mask.
    // SIGCHLD stays blocked except inside ppoll, which it then wakes.
    sigset_t forwarded;
    forwarded_set(&forwarded);
    sigaddset(&forwarded, SIGCHLD);
    sigprocmask(SIG_BLOCK, &forwarded, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    // Returns once the child has exec'd or died (CLONE_VFORK). A child that
    // died reported why on error_fd, which stays open until then.
    void *stack = mmap(NULL, KERNEL_CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) { report_failure(error_fd, CORRAL_STEP_FORK_KERNEL); _exit(127); }
    volatile int listener_slot = -1;
    struct kernel_child_args args = { spec, error_fd, &listener_slot };
    pid_t kernel = clone(kernel_child, (char *)stack + KERNEL_CHILD_STACK,
                         CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &args);
    if (kernel < 0) { report_failure(error_fd, CORRAL_STEP_FORK_KERNEL); _exit(127); }
    munmap(stack, KERNEL_CHILD_STACK);
    int listener = spec->notify_mode ? listener_slot : -1;
    // From here the reaper only waits, signals the kernel and answers the
    // filter: the capabilities it started with go.
    if (set_own_capabilities(spec->reaper_keeps_kill ? UINT64_C(1) << CAP_KILL : 0) != 0) {
        report_failure(error_fd, CORRAL_STEP_CAPABILITIES);
        kill(kernel, SIGKILL);
        _exit(127);
    }
    close(error_fd);
    forward_target = kernel;
    install_forwarding();
    sigset_t during_wait;
    sigprocmask(SIG_SETMASK, NULL, &during_wait);
    sigdelset(&during_wait, SIGCHLD);

    int denied = 0;
    for (;;) {
        int status = 0;
        pid_t w = waitpid(-1, &status, __WALL | (listener >= 0 ? WNOHANG : 0));
        if (w < 0) {
            if (errno == EINTR) continue;
            _exit(127);  // ECHILD: the kernel is gone without us seeing it
        }
        if (w == kernel) {
            write_all(status_fd, &status, sizeof status);
            // Exiting as PID 1 makes the host kernel SIGKILL the rest.
            _exit(0);
        }
        if (w > 0) continue;
        struct pollfd q = { .fd = listener, .events = POLLIN };
        int n = ppoll(&q, 1, NULL, &during_wait);
        if (n > 0 && (q.revents & POLLIN)) answer_notification(listener, spec->notify_mode, kernel, event_fd, &denied);
        if (n > 0 && (q.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(q.revents & POLLIN)) {
            // No task is left under the filter; only waiting remains.
            close(listener);
            listener = -1;
        }
    }
}

int corral_spawn_reaped_kernel(const struct corral_kernel_spec *spec,
                               struct corral_reaper *out, int *failed_step) {
    int errp[2], statp[2], life[2], events[2] = { -1, -1 };
    if (spec->notify_mode && pipe2(events, O_CLOEXEC) != 0) return -1;
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
        if (events[0] >= 0) close(events[0]);
        reaper(spec, errp[1], statp[1], life[0], events[1]);
    }
    close(errp[1]); close(statp[1]); close(life[0]);
    if (events[1] >= 0) close(events[1]);

    struct failure f;
    ssize_t n = read_full(errp[0], &f, sizeof f);
    close(errp[0]);
    if (n == (ssize_t)sizeof f) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        close(statp[0]); close(life[1]);
        if (events[0] >= 0) close(events[0]);
        *failed_step = f.step;
        errno = f.err;
        return -1;
    }
    out->pid = pid;
    out->status_fd = statp[0];
    out->lifeline_fd = life[1];
    out->event_fd = events[0];
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

int corral_wait_reaper_events(const struct corral_reaper *r, int learn_fd,
                              struct corral_seccomp_event *first, int *seen) {
    forward_target = r->pid;
    install_forwarding();
    *seen = 0;
    if (r->event_fd >= 0) {
        // Until EOF: the reaper's end closes when it exits.
        struct corral_seccomp_event event;
        for (;;) {
            ssize_t n = read_full(r->event_fd, &event, sizeof event);
            if (n != (ssize_t)sizeof event) break;
            if (!*seen) { *first = event; *seen = 1; }
            if (learn_fd >= 0) {
                char line[200];
                int len = snprintf(line, sizeof line, "%d %x %llx %llx %llx %llx %llx %llx\n", event.nr, event.arch,
                                   (unsigned long long)event.args[0], (unsigned long long)event.args[1],
                                   (unsigned long long)event.args[2], (unsigned long long)event.args[3],
                                   (unsigned long long)event.args[4], (unsigned long long)event.args[5]);
                if (len > 0) write_all(learn_fd, line, (size_t)len);
            }
        }
        close(r->event_fd);
    }
    return corral_wait_reaper(r);
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
