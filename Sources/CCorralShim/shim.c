#include "CCorralShim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

int64_t corral_seek_data(int fd, int64_t offset) { return lseek(fd, offset, SEEK_DATA); }
int64_t corral_seek_hole(int fd, int64_t offset) { return lseek(fd, offset, SEEK_HOLE); }

int corral_punch_hole(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

int corral_fallocate(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, 0, offset, length);
}

int64_t corral_copy_file_range(int fd_in, int64_t off_in, int fd_out, int64_t off_out, uint64_t len) {
    loff_t in = off_in, out = off_out;
    return copy_file_range(fd_in, &in, fd_out, &out, len, 0);
}

int corral_ficlone(int dest_fd, int src_fd) { return ioctl(dest_fd, FICLONE, src_fd); }

static short lock_type(int kind) {
    return kind == 0 ? F_RDLCK : (kind == 1 ? F_WRLCK : F_UNLCK);
}

/* A lock of `kind` over the whole file (l_start 0, l_len 0: to its end,
   however it grows), for every lock call below. */
static struct flock whole_file(int kind) {
    struct flock fl = {0};
    fl.l_type = lock_type(kind);
    fl.l_whence = SEEK_SET;
    return fl;
}

int corral_lock_whole(int fd, int kind) {
    struct flock fl = whole_file(kind);
    return fcntl(fd, F_SETLK, &fl);
}

int corral_lock_holder(int fd, int kind) {
    struct flock fl = whole_file(kind);
    if (fcntl(fd, F_GETLK, &fl) != 0) return -1;
    if (fl.l_type == F_UNLCK) return 0;
    return fl.l_pid > 0 ? fl.l_pid : 1;
}

int corral_ofd_lock_whole(int fd, int kind) {
    struct flock fl = whole_file(kind);
    return fcntl(fd, F_OFD_SETLK, &fl);
}

int corral_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, flags);
}

int corral_set_nonblock(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

int corral_set_controlling_tty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int corral_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}

int corral_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = {0};
    ws.ws_row = rows;
    ws.ws_col = cols;
    return ioctl(fd, TIOCSWINSZ, &ws);
}

int corral_block_device_size(int fd, uint64_t *size) { return ioctl(fd, BLKGETSIZE64, size); }

static void fill(const struct stat *st, struct corral_stat *out) {
    out->size = st->st_size;
    out->mtime_sec = st->st_mtim.tv_sec;
    out->mtime_nsec = st->st_mtim.tv_nsec;
    out->dev = st->st_dev;
    out->ino = st->st_ino;
    out->mode = st->st_mode;
    out->uid = st->st_uid;
    out->blocks = st->st_blocks;
    out->rdev = st->st_rdev;
}

int corral_fstat(int fd, struct corral_stat *out) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    fill(&st, out);
    return 0;
}

int corral_stat(const char *path, struct corral_stat *out) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    fill(&st, out);
    return 0;
}

int corral_lstat(const char *path, struct corral_stat *out) {
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    fill(&st, out);
    return 0;
}

int corral_set_mtime(const char *path, int64_t sec, int64_t nsec) {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = sec;
    ts[1].tv_nsec = nsec;
    return utimensat(AT_FDCWD, path, ts, 0);
}

int corral_errno(void) { return errno; }

#include <string.h>

int corral_is_zero(const void *buf, size_t len) {
    const unsigned char *p = buf;
    size_t head = len < 16 ? len : 16;
    for (size_t i = 0; i < head; i++)
        if (p[i]) return 0;
    if (len <= 16) return 1;
    // The first 16 bytes are zero, so the buffer is zero iff it equals itself shifted by 16.
    return memcmp(p, p + 16, len - 16) == 0;
}

#include <stdlib.h>

int corral_mkstemp(char *template_path) { return mkostemp(template_path, O_CLOEXEC); }

int corral_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}
