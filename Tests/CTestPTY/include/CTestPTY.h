// The pseudo-terminal calls the tests' TerminalSession needs: posix_openpt,
// grantpt, unlockpt and ptsname_r are declared by glibc only under
// _XOPEN_SOURCE/_GNU_SOURCE, which Swift's Glibc module does not set; and
// the spawn of every program the tests run (posix_spawn with closefrom and
// chdir, GNU extensions too), with the wait macros Swift cannot call.
#ifndef CTESTPTY_H
#define CTESTPTY_H
#include <stddef.h>
#include <sys/types.h>

/// Opens a new pty master (O_RDWR | O_NOCTTY | O_CLOEXEC), unlocks it and
/// writes its slave's path into `name`. Returns the master fd, or -1 with
/// errno set.
int corral_test_open_pty(char *name, size_t length);

/// Sets the pty's window size through a descriptor of either side.
int corral_test_set_winsize(int fd, unsigned short rows, unsigned short columns);

/// Starts `path` with `argv` and `envp` (NULL: this process's environment),
/// its stdin, stdout and stderr the given descriptors, in `cwd` (NULL: ours),
/// in a process group of its own, with every other descriptor closed: a
/// daemon it leaves behind holds nothing of the test process (Foundation's
/// Process hands its child a socket and waits for its last holder to close
/// it). Returns the pid, or -1 with the spawn error (e.g. ETXTBSY) in `error`.
pid_t corral_test_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        int in, int out, int err, int *error);

/// Waits for the child `pid`: its exit status, or the signal that ended it
/// (then `signaled` is 1); -1 when it cannot be waited for.
int corral_test_wait(pid_t pid, int *signaled);
#endif
