// Namespaces and the new mount API (open_tree, move_mount, mount_setattr),
// called as raw syscalls so the shim does not depend on glibc's wrappers.
#include "CSandboxShim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

int corral_unshare(int flags) { return unshare(flags); }
int corral_clone_newns(void) { return CLONE_NEWNS; }
int corral_clone_newpid(void) { return CLONE_NEWPID; }
int corral_clone_newuser(void) { return CLONE_NEWUSER; }
int corral_clone_newnet(void) { return CLONE_NEWNET; }
int corral_clone_newipc(void) { return CLONE_NEWIPC; }

int corral_write_proc_self(const char *file, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/%s", file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    close(fd);
    if (n != (ssize_t)len) { errno = n < 0 ? e : EIO; return -1; }
    return 0;
}

int corral_make_mounts_private(void) {
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

int corral_clone_mount_tree(const char *path) {
    return (int)syscall(SYS_open_tree, AT_FDCWD, path,
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
}

int corral_set_tree_readonly(const char *path) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr);
}

int corral_attach_mount_tree(int fd, const char *path) {
    return (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
}

int corral_mount_api_available(void) {
    // Bad arguments on purpose: anything but ENOSYS means the call exists.
    long rc = syscall(SYS_mount_setattr, -1, "", 0, NULL, 0);
    return !(rc == -1 && errno == ENOSYS);
}

int corral_mount_tmpfs(const char *path, const char *options, int readonly) {
    // Writable means UML's memory file: it maps it PROT_EXEC, so no noexec.
    unsigned long flags = MS_NOSUID | MS_NODEV | (readonly ? MS_RDONLY | MS_NOEXEC : 0);
    return mount("tmpfs", path, "tmpfs", flags, options);
}

int corral_bind_null(const char *path) {
    if (mount("/dev/null", path, NULL, MS_BIND, NULL) != 0) return -1;
    return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL);
}

int corral_mount_private_devpts(const char *pts, const char *ptmx) {
    if (mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") != 0) return -1;
    char path[256];
    snprintf(path, sizeof path, "%s/ptmx", pts);
    return mount(path, ptmx, NULL, MS_BIND, NULL);
}

/// The idmap namespace's only process: it never runs anything, it only
/// has to exist while its uid_map and gid_map are written.
static int idmap_holder(void *arg) {
    (void)arg;
    for (;;) syscall(SYS_pause);
    return 0;
}

int corral_idmap_userns(uid_t uid, gid_t gid, pid_t *holder) {
    // clone(CLONE_NEWUSER) rather than fork + unshare: the namespace exists
    // when clone returns, so there is no round trip to wait for (each one
    // costs a scheduling delay on a busy host, and this is on every boot's
    // path). The holder is SIGKILLed once the fd is open; it is reaped
    // later (corral_reap_child on *holder), because waiting here for it to
    // die cost 2 to 6 ms of every boot on a busy host.
    static char stack[16384] __attribute__((aligned(16)));
    // CLONE_VM: the holder only ever sleeps on its own stack, so it can
    // share this process's memory instead of copying its page tables.
    pid_t child = clone(idmap_holder, stack + sizeof stack, CLONE_NEWUSER | CLONE_VM | SIGCHLD, NULL);
    if (child < 0) return -1;
    int fd = -1, err = 0;
    char path[64], map[64];
    const char *files[2] = { "uid_map", "gid_map" };
    unsigned ids[2] = { (unsigned)uid, (unsigned)gid };
    for (int i = 0; i < 2 && !err; i++) {
        snprintf(map, sizeof map, "0 %u 1", ids[i]);
        snprintf(path, sizeof path, "/proc/%d/%s", (int)child, files[i]);
        int wfd = open(path, O_WRONLY | O_CLOEXEC);
        if (wfd < 0 || write(wfd, map, strlen(map)) != (ssize_t)strlen(map)) err = errno ? errno : EIO;
        if (wfd >= 0) close(wfd);
    }
    if (!err) {
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) err = errno;
    }
    kill(child, SIGKILL);
    *holder = child;
    if (fd < 0) errno = err;
    return fd;
}

int corral_reap_child(pid_t pid, int wait) {
    if (pid <= 0) return 1;
    int saved = errno;
    pid_t got;
    while ((got = waitpid(pid, NULL, wait ? 0 : WNOHANG)) < 0 && errno == EINTR) {}
    errno = saved;
    return got != 0;  // reaped, or no such child: nothing left to reap
}

int corral_idmap_mount_tree(int fd, int userns_fd) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}

int corral_access_as(uid_t uid, gid_t gid, int dirfd, const char *path, int mode) {
    int flags = path[0] == 0 ? AT_EMPTY_PATH : 0;
    uid_t old_uid = (uid_t)setfsuid((uid_t)-1);
    gid_t old_gid = (gid_t)setfsgid((gid_t)-1);
    setfsgid(gid);
    setfsuid(uid);
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
    int rc = (int)syscall(SYS_faccessat2, dirfd, path, mode, flags | AT_EACCESS);
    int e = errno;
    setfsuid(old_uid);
    setfsgid(old_gid);
    errno = e;
    return rc;
}

int corral_set_detached_readonly(int fd) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY;
    return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif

int corral_detached_tmpfs(void) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    int fd = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0 &&
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0) == 0 &&
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
        fd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    }
    int e = errno;
    close(fs);
    errno = e;
    return fd;
}

int corral_set_detached_attrs(int fd, uint64_t attrs) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attrs;
    return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}

uint64_t corral_mount_attr_rdonly(void) { return MOUNT_ATTR_RDONLY; }
uint64_t corral_mount_attr_nosuid(void) { return MOUNT_ATTR_NOSUID; }
uint64_t corral_mount_attr_nodev(void) { return MOUNT_ATTR_NODEV; }

int corral_set_mount_readonly(const char *path) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &attr, sizeof attr);
}

int corral_pivot_root(const char *dir) {
    if (chdir(dir) != 0) return -1;
    if (syscall(SYS_pivot_root, ".", ".") != 0) return -1;
    // The old root is now stacked on "."; detaching it leaves only the jail.
    if (umount2(".", MNT_DETACH) != 0) return -1;
    return chdir("/");
}

int corral_open_directory_nofollow(int dirfd, const char *name) {
    return openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}
