// The pseudo-terminal calls the tests' TerminalSession needs: posix_openpt,
// grantpt, unlockpt and ptsname_r are declared by glibc only under
// _XOPEN_SOURCE/_GNU_SOURCE, which Swift's Glibc module does not set.
#ifndef CTESTPTY_H
#define CTESTPTY_H
#include <stddef.h>

/// Opens a new pty master (O_RDWR | O_NOCTTY | O_CLOEXEC), unlocks it and
/// writes its slave's path into `name`. Returns the master fd, or -1 with
/// errno set.
int corral_test_open_pty(char *name, size_t length);

/// Sets the pty's window size through a descriptor of either side.
int corral_test_set_winsize(int fd, unsigned short rows, unsigned short columns);
#endif
