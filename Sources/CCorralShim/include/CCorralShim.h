// Thin, out-of-line wrappers for Linux calls that Swift cannot reach
// cleanly: variadic C functions (fcntl, ioctl), and constants or calls that
// Glibc's Swift overlay does not import (SEEK_DATA/SEEK_HOLE, fallocate
// modes, copy_file_range, FICLONE). Each returns -1 and leaves errno set on
// failure, exactly like the call it wraps; the Swift side turns that into a
// typed error once, in one place.
#ifndef CCORRAL_SHIM_H
#define CCORRAL_SHIM_H

#include <stdint.h>
#include <sys/types.h>

/// lseek(fd, offset, SEEK_DATA). Returns -1/ENXIO past the last data.
int64_t corral_seek_data(int fd, int64_t offset);
/// lseek(fd, offset, SEEK_HOLE).
int64_t corral_seek_hole(int fd, int64_t offset);

/// fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE).
int corral_punch_hole(int fd, int64_t offset, int64_t length);
/// fallocate(mode 0): reserve blocks, so a full disk shows up before writing.
int corral_fallocate(int fd, int64_t offset, int64_t length);

/// copy_file_range with explicit offsets (neither file position moves).
int64_t corral_copy_file_range(int fd_in, int64_t off_in, int fd_out, int64_t off_out, uint64_t len);

/// ioctl(dest, FICLONE, src): whole-file reflink (XFS, btrfs). EOPNOTSUPP/EXDEV/EINVAL elsewhere.
int corral_ficlone(int dest_fd, int src_fd);

/// POSIX record locks over the whole file, as the UML kernel takes them.
/// kind: 0 = read lock, 1 = write lock, 2 = unlock. Non-blocking (F_SETLK).
int corral_lock_whole(int fd, int kind);
/// F_GETLK for a whole-file lock of `kind`: 0 when free, else the holder's pid (>0), -1 on error.
int corral_lock_holder(int fd, int kind);
/// Open file description locks (F_OFD_SETLK): owned by the open file, not the process,
/// so two opens in one process conflict. Used between corral processes.
int corral_ofd_lock_whole(int fd, int kind);

/// fcntl(fd, F_SETFD, FD_CLOEXEC) on or off.
int corral_set_cloexec(int fd, int on);
/// fcntl(fd, F_SETFL, flags | O_NONBLOCK) on or off.
int corral_set_nonblock(int fd, int on);

/// ioctl(fd, TIOCSCTTY, 0): make fd the controlling terminal of this session.
int corral_set_controlling_tty(int fd);
/// ioctl TIOCGWINSZ / TIOCSWINSZ.
int corral_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
int corral_set_winsize(int fd, unsigned short rows, unsigned short cols);

/// BLKGETSIZE64 for block devices.
int corral_block_device_size(int fd, uint64_t *size);

/// st_mtime seconds, size, dev, ino, mode of an fd (fstat) or path (stat, follows links).
struct corral_stat {
    int64_t size;
    int64_t mtime_sec;
    int64_t mtime_nsec;
    uint64_t dev;
    uint64_t ino;
    uint32_t mode;
    uint32_t uid;
    int64_t blocks;   // 512-byte units allocated
    uint64_t rdev;
};
int corral_fstat(int fd, struct corral_stat *out);
int corral_stat(const char *path, struct corral_stat *out);
int corral_lstat(const char *path, struct corral_stat *out);

/// utimensat with whole seconds + nanoseconds on a path (follows links).
int corral_set_mtime(const char *path, int64_t sec, int64_t nsec);

/// errno accessor (Swift's Glibc errno works, but keeping every syscall's
/// failure path uniform is simpler with one accessor).
int corral_errno(void);



/// True when `len` bytes at `buf` are all zero. In C so that it runs at
/// memcmp speed in debug builds too (the zero test is on every byte a
/// flatten writes).
int corral_is_zero(const void *buf, size_t len);
/// sync_file_range(SYNC_FILE_RANGE_WRITE): start writeback of a range without
/// waiting, so a final fsync overlaps with the copy instead of following it.
int corral_start_writeback(int fd, int64_t offset, int64_t length);

/// mkostemp(template, O_CLOEXEC): a new private file, name filled into template.
int corral_mkstemp(char *template_path);
#include "corral_launch.h"
#include "corral_system.h"

#endif
