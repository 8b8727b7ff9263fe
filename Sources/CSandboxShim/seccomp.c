// libseccomp glue that cannot be expressed from Swift, and the raw install
// used between fork and exec (async-signal-safe: no libseccomp there).
#include "CSandboxShim.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t corral_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }
uint32_t corral_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
uint32_t corral_scmp_act_errno(int err) { return SCMP_ACT_ERRNO(err); }
uint32_t corral_scmp_act_notify(void) { return SCMP_ACT_NOTIFY; }

int corral_seccomp_notify_available(void) {
    // pidfd_getfd (5.6) marks a kernel with SECCOMP_USER_NOTIF_FLAG_CONTINUE
    // (5.5). Bad arguments on purpose: anything but ENOSYS means it exists.
    long rc = syscall(SYS_pidfd_getfd, -1, -1, 0);
    if (rc == -1 && errno == ENOSYS) return 0;
    unsigned int action = SECCOMP_RET_USER_NOTIF;
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

int corral_scmp_export_bpf(void *ctx, uint8_t **out, size_t *len) {
    // libseccomp 2.5 exports only to an fd; a memfd keeps it in memory.
    int fd = memfd_create("corral-seccomp-bpf", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = seccomp_export_bpf((scmp_filter_ctx)ctx, fd);
    if (rc < 0) { close(fd); return rc; }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % sizeof(struct sock_filter) != 0) { close(fd); return -EINVAL; }
    uint8_t *buf = malloc((size_t)size);
    if (!buf) { close(fd); return -ENOMEM; }
    size_t done = 0;
    while (done < (size_t)size) {
        ssize_t n = pread(fd, buf + done, (size_t)size - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; free(buf); close(fd); return -e; }
        done += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = (size_t)size;
    return 0;
}

int corral_seccomp_install(const uint8_t *bpf, size_t len) {
    if (len == 0 || len % sizeof(struct sock_filter) != 0) { errno = EINVAL; return -1; }
    struct sock_fprog prog = {
        .len = (unsigned short)(len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)bpf,
    };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int corral_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
int corral_get_no_new_privs(void) { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); }
int corral_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

pid_t corral_gettid(void) { return (pid_t)syscall(SYS_gettid); }
