// The Linux calls CorralSystem needs that Glibc's Swift overlay does not
// import: O_TMPFILE (a macro built from other macros), renameat2 and its
// RENAME_NOREPLACE flag, and linkat through /proc/self/fd. Each returns -1
// and leaves errno set on failure, like the call it wraps.
#ifndef CORRAL_SYSTEM_H
#define CORRAL_SYSTEM_H

/// openat(dirfd, ".", O_TMPFILE|O_RDWR|O_CLOEXEC, mode): a file with no name yet.
int corral_open_tmpfile(int dirfd, unsigned int mode);
/// Gives the nameless file `fd` the name `name` in `dirfd` (linkat through
/// /proc/self/fd, AT_SYMLINK_FOLLOW); EEXIST when the name is taken.
int corral_link_fd(int fd, int dirfd, const char *name);
/// renameat2(olddir, old, newdir, new, no_replace ? RENAME_NOREPLACE : 0).
int corral_renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname, int no_replace);
/// openat(dirfd, name, flags, mode): non-variadic, so Swift can pass a mode.
int corral_openat(int dirfd, const char *name, int flags, unsigned int mode);
/// fcntl(fd, F_DUPFD_CLOEXEC, 0).
int corral_dup(int fd);
/// The flag values Swift does not import.
extern const int corral_o_nofollow;
extern const int corral_o_directory;
extern const int corral_o_path;
extern const int corral_at_symlink_nofollow;
extern const int corral_at_removedir;
extern const int corral_at_empty_path;

#endif
