#include "corral_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

_Static_assert(sizeof(struct termios) <= sizeof(corral_termios), "termios does not fit");

int corral_open_pty(char *slave_name, size_t len) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (grantpt(fd) != 0 || unlockpt(fd) != 0 || ptsname_r(fd, slave_name, len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int corral_attach_tty(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return -1;
    if (ioctl(fd, TIOCSCTTY, 0) != 0) { int e = errno; close(fd); errno = e; return -1; }
    for (int target = 0; target < 3; target++) {
        if (fd != target && dup2(fd, target) < 0) { int e = errno; close(fd); errno = e; return -1; }
    }
    if (fd > 2) close(fd);
    return 0;
}

int corral_launch_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int corral_launch_setsid(void) { return setsid() < 0 ? -1 : 0; }

int corral_launch_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int corral_launch_no_randomize(void) {
    int current = personality(0xffffffff);
    if (current == -1) return -1;
    return personality((unsigned long)current | ADDR_NO_RANDOMIZE) == -1 ? -1 : 0;
}

int corral_launch_set_subreaper(int on) { return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0); }

int corral_launch_close_from(int lowfd) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0) return 0;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = lowfd; fd < max; fd++) close(fd);
    return 0;
}

static void supervised_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGWINCH);
    sigaddset(set, SIGCHLD);
}

static sigset_t saved_mask;

int corral_launch_signalfd_open(void) {
    sigset_t set;
    supervised_signals(&set);
    if (pthread_sigmask(SIG_BLOCK, &set, &saved_mask) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

void corral_launch_signalfd_close(int fd) {
    close(fd);
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
}

int corral_launch_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n != sizeof info) return 0;
    return (int)info.ssi_signo;
}

/// Where the spawn's file actions may read `fd` from: `fd` itself when it
/// is 6 or above, else a close-on-exec copy there (kept in `*copy` for the
/// caller to close). The actions write fds 0-5 in order, and a source among
/// them would be overwritten before it is copied: pipes made while another
/// thread opens and closes files get whatever numbers are free, and 0-2 too
/// when corral's own stdio is closed. -1 with errno when no copy can be made.
static int spawn_source(int fd, int *copy) {
    *copy = -1;
    if (fd < 0 || fd >= 6) return fd;
    *copy = fcntl(fd, F_DUPFD_CLOEXEC, 6);
    return *copy;
}

int corral_launch_spawn(const char *path, char *const argv[], char *const envp[], int pass_fd, int spec_fd, int start_fd, pid_t *pid) {
    int sources[3] = { pass_fd, spec_fd, start_fd }, copies[3] = { -1, -1, -1 };
    int err = 0;
    for (int i = 0; i < 3 && !err; i++) {
        int wanted = sources[i];
        sources[i] = spawn_source(wanted, &copies[i]);
        if (wanted >= 0 && sources[i] < 0) err = errno;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int made_actions = 0, made_attr = 0;
    if (!err) { err = posix_spawn_file_actions_init(&actions); made_actions = !err; }
    if (!err) { err = posix_spawnattr_init(&attr); made_attr = !err; }

    for (int fd = 0; fd < 3 && !err; fd++)
        err = posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
    for (int i = 0; i < 3 && !err; i++)
        if (sources[i] >= 0) err = posix_spawn_file_actions_adddup2(&actions, sources[i], 3 + i);

    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (!err) err = posix_spawnattr_setsigmask(&attr, &empty);
    if (!err) err = posix_spawnattr_setsigdefault(&attr, &all);
    if (!err) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!err) err = posix_spawn(pid, path, &actions, &attr, argv, envp);

    if (made_attr) posix_spawnattr_destroy(&attr);
    if (made_actions) posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < 3; i++) if (copies[i] >= 0) close(copies[i]);
    return err;
}

pid_t corral_launch_wait(pid_t pid, int nohang, int *exited, int *code) {
    int status = 0;
    pid_t r;
    do { r = waitpid(pid, &status, nohang ? WNOHANG : 0); } while (r < 0 && errno == EINTR);
    if (r > 0) {
        if (WIFEXITED(status)) { *exited = 1; *code = WEXITSTATUS(status); }
        else { *exited = 0; *code = WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
    }
    return r;
}

int corral_launch_kill(pid_t pid, int sig) { return kill(pid, sig); }

int corral_launch_random(void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        done += (size_t)n;
    }
    return 0;
}

int corral_tty_save(int fd, corral_termios *saved) {
    memset(saved, 0, sizeof *saved);
    return tcgetattr(fd, (struct termios *)saved->bytes);
}

int corral_tty_make_raw(int fd) {
    struct termios t;
    if (tcgetattr(fd, &t) != 0) return -1;
    cfmakeraw(&t);
    return tcsetattr(fd, TCSAFLUSH, &t);
}

int corral_tty_restore(int fd, const corral_termios *saved) {
    int r;
    do { r = tcsetattr(fd, TCSADRAIN, (const struct termios *)saved->bytes); } while (r != 0 && errno == EINTR);
    return r;
}

int corral_launch_isatty(int fd) { return isatty(fd); }

long corral_launch_find_bytes(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
    const char *hit = memmem(haystack, haystack_len, needle, needle_len);
    return hit ? (long)(hit - (const char *)haystack) : -1;
}

int corral_launch_reads_nothing(int fd) {
    struct stat st, null;
    if (fstat(fd, &st) != 0) return errno == EBADF ? 1 : 0;
    if (!S_ISCHR(st.st_mode) || stat("/dev/null", &null) != 0 || !S_ISCHR(null.st_mode)) return 0;
    return st.st_rdev == null.st_rdev ? 1 : 0;
}
