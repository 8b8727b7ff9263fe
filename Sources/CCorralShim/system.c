#include "corral_system.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int corral_open_tmpfile(int dirfd, unsigned int mode) {
    return openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
}

int corral_link_fd(int fd, int dirfd, const char *name) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
}

int corral_renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname, int no_replace) {
    return renameat2(olddirfd, oldname, newdirfd, newname, no_replace ? RENAME_NOREPLACE : 0);
}

int corral_openat(int dirfd, const char *name, int flags, unsigned int mode) {
    return openat(dirfd, name, flags, (mode_t)mode);
}

int corral_dup(int fd) {
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

const int corral_o_nofollow = O_NOFOLLOW;
const int corral_o_directory = O_DIRECTORY;
const int corral_o_path = O_PATH;
const int corral_at_symlink_nofollow = AT_SYMLINK_NOFOLLOW;
const int corral_at_removedir = AT_REMOVEDIR;
const int corral_at_empty_path = AT_EMPTY_PATH;
