// Calls the launcher needs around a pseudo-terminal and a supervised child:
// ptsname_r and prctl are GNU/variadic and do not import into Swift, and the
// signal-mask and spawn attribute dance is clearer in C than through Swift
// pointers. Each returns -1 (or an errno value where said) like the call it
// wraps.
#ifndef CORRAL_LAUNCH_H
#define CORRAL_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

/// posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC) + grantpt + unlockpt + ptsname_r.
/// Fills `slave_name` (NUL-terminated) and returns the master fd.
int corral_open_pty(char *slave_name, size_t len);

/// Opens `path` as this process's controlling terminal and makes it fds 0, 1, 2.
/// The caller must be a session leader without a controlling terminal (after setsid).
int corral_attach_tty(const char *path);

/// pipe2(fds, O_CLOEXEC).
int corral_launch_pipe(int fds[2]);

/// setsid().
int corral_launch_setsid(void);

/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` when the parent thread dies.
int corral_launch_set_pdeathsig(int sig);

/// Adds ADDR_NO_RANDOMIZE to this process's personality (kept across execve).
int corral_launch_no_randomize(void);

/// prctl(PR_SET_CHILD_SUBREAPER, on): orphaned descendants are re-parented to us,
/// so UML helpers that outlive the kernel process stay findable and reapable.
int corral_launch_set_subreaper(int on);

/// close_range(lowfd, ~0U, 0), with a fallback loop when the call is missing.
int corral_launch_close_from(int lowfd);

/// Blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH and SIGCHLD in the calling
/// thread and returns a non-blocking, close-on-exec signalfd that reports them.
int corral_launch_signalfd_open(void);
/// Closes the signalfd and puts back the signal mask from before corral_launch_signalfd_open.
void corral_launch_signalfd_close(int fd);
/// Reads one pending signal from the signalfd: its number, 0 when none, -1 on error.
int corral_launch_signalfd_read(int fd);

/// posix_spawn(path, argv, envp) with stdio on /dev/null, `pass_fd` duplicated to
/// fd 3, `spec_fd` to fd 4 and `start_fd` to fd 5 (-1 for none), an empty signal
/// mask and default dispositions for every catchable signal. The three may
/// have any numbers, 0-5 included. Returns 0 and sets *pid, or an errno value.
int corral_launch_spawn(const char *path, char *const argv[], char *const envp[], int pass_fd, int spec_fd,
                        int start_fd, pid_t *pid);

/// waitpid(pid, &status, WNOHANG or 0). Returns the pid, 0 when still running, -1 on error.
/// *exited = 1 and *code = exit status for a normal exit; *exited = 0 and *code = signal otherwise.
pid_t corral_launch_wait(pid_t pid, int nohang, int *exited, int *code);

/// kill(pid, sig); kill(-pgid, sig) for a process group.
int corral_launch_kill(pid_t pid, int sig);

/// getrandom() into buf, fully.
int corral_launch_random(void *buf, size_t len);

/// Terminal attributes kept opaque for Swift: save, make raw, restore.
typedef struct corral_termios { unsigned char bytes[128]; } corral_termios;
int corral_tty_save(int fd, corral_termios *saved);
/// cfmakeraw on a copy of the current attributes, applied with TCSAFLUSH. The
/// guest's own line discipline already turns "\n" into "\r\n".
int corral_tty_make_raw(int fd);
int corral_tty_restore(int fd, const corral_termios *saved);
/// memmem(): offset of `needle` in `haystack`, or -1.
long corral_launch_find_bytes(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

/// isatty(fd): 1 for a terminal, 0 otherwise.
int corral_launch_isatty(int fd);

/// 1 when fd is closed or is /dev/null (nothing can ever be read from it),
/// 0 otherwise.
int corral_launch_reads_nothing(int fd);

#endif
