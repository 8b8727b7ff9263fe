// The sandbox's C side: the few things Swift cannot or must not do itself.
//
// - libseccomp's action macros (SCMP_ACT_ERRNO(x) is a function-like macro
//   and does not import) and BPF export into memory.
// - Namespace, mount-API and Landlock syscalls that glibc 2.36 either lacks
//   or that are clearer as one raw call each.
// - Everything after fork(): the reaper that becomes PID 1 of the kernel's
//   PID namespace, and the kernel child that drops privileges, installs the
//   filter and execveat()s. Swift never runs between fork and exec.
// - A probe for tests: a forked child loads a filter and makes one syscall.
//
// Every function returns -1 (or NULL) and leaves errno set on failure,
// unless it says otherwise.
#ifndef CSANDBOX_SHIM_H
#define CSANDBOX_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// ---- libseccomp actions (macros in seccomp.h) ----
uint32_t corral_scmp_act_allow(void);
uint32_t corral_scmp_act_kill_process(void);
uint32_t corral_scmp_act_errno(int err);
/// SCMP_ACT_NOTIFY: the call waits for the reaper's answer (USER_NOTIF).
uint32_t corral_scmp_act_notify(void);

/// Exports the filter `ctx` (a scmp_filter_ctx) as raw BPF into a malloc'd
/// buffer. Returns 0 and sets *out/*len, or a negative errno (libseccomp style).
int corral_scmp_export_bpf(void *ctx, uint8_t **out, size_t *len);

/// seccomp(SECCOMP_SET_MODE_FILTER) with a raw BPF program on the calling
/// thread. no_new_privs (or CAP_SYS_ADMIN) is required first.
int corral_seccomp_install(const uint8_t *bpf, size_t len);

/// prctl(PR_SET_NO_NEW_PRIVS, 1) and its read-back.
int corral_set_no_new_privs(void);
int corral_get_no_new_privs(void);
/// prctl(PR_SET_PDEATHSIG, sig).
int corral_set_parent_death_signal(int sig);
/// The calling thread's id (gettid; a cgroup v1 `tasks` file takes it).
pid_t corral_gettid(void);

// ---- namespaces and mounts ----
/// unshare() with the given CLONE_NEW* flags.
int corral_unshare(int flags);
int corral_clone_newns(void);
int corral_clone_newpid(void);
int corral_clone_newuser(void);
int corral_clone_newnet(void);
int corral_clone_newipc(void);
/// Writes `text` to a /proc/self file (uid_map, gid_map, setgroups).
int corral_write_proc_self(const char *file, const char *text);
/// mount(NULL, "/", NULL, MS_REC|MS_PRIVATE): nothing propagates to the host.
int corral_make_mounts_private(void);
/// open_tree(path, OPEN_TREE_CLONE|AT_RECURSIVE): a detached copy of the
/// mount tree at `path`, keeping its current (writable) flags. Returns an fd.
int corral_clone_mount_tree(const char *path);
/// mount_setattr(path, AT_RECURSIVE, MOUNT_ATTR_RDONLY): every mount at and
/// below `path` becomes read-only.
int corral_set_tree_readonly(const char *path);
/// move_mount(fd, "", path, MOVE_MOUNT_F_EMPTY_PATH): attach a cloned tree.
int corral_attach_mount_tree(int fd, const char *path);
/// A fresh tmpfs on `path` (nosuid, nodev; read-only and noexec if asked).
int corral_mount_tmpfs(const char *path, const char *options, int readonly);
/// /dev/null bound read-only over the file `path`: reads give nothing.
int corral_bind_null(const char *path);
/// A new devpts instance on `pts` and its ptmx bound over `ptmx`: the
/// process tree sees no other terminal than the ones it opens itself.
int corral_mount_private_devpts(const char *pts, const char *ptmx);
/// A user namespace whose uid 0 and gid 0 are `uid` and `gid` outside, as
/// an fd for MOUNT_ATTR_IDMAP (made by a short-lived child). Call before
/// unshare(CLONE_NEWPID): the child would otherwise become that namespace's init.
/// The child is SIGKILLed but not waited for: its pid goes to `*holder`
/// (also on failure, once it was made) for corral_reap_child, so that its
/// death costs the caller no wait on its path.
int corral_idmap_userns(uid_t uid, gid_t gid, pid_t *holder);
/// waitpid(pid) (EINTR retried; errno kept): with `wait` 0 only if it has
/// ended already. 1 when nothing is left to reap (also for pid <= 0), 0
/// when it still runs.
int corral_reap_child(pid_t pid, int wait);
/// mount_setattr(fd, AT_EMPTY_PATH|AT_RECURSIVE, MOUNT_ATTR_IDMAP): the
/// detached tree `fd` (from corral_clone_mount_tree) shows files owned by
/// root as owned by the namespace's outside ids, and writes theirs as root.
int corral_idmap_mount_tree(int fd, int userns_fd);
/// mount_setattr(fd, AT_EMPTY_PATH|AT_RECURSIVE, MOUNT_ATTR_RDONLY) on a detached tree.
int corral_set_detached_readonly(int fd);
/// faccessat2(AT_EACCESS) with the calling thread's fsuid/fsgid set to
/// uid/gid for the check (and back to 0 after): can that user reach `path`?
/// `path` "" checks `dirfd` itself (AT_EMPTY_PATH).
int corral_access_as(uid_t uid, gid_t gid, int dirfd, const char *path, int mode);
/// A new tmpfs (mode 0755, nosuid, nodev), not attached anywhere: the
/// kernel's jail root is built in it through descriptors (fsopen/fsmount).
/// Returns the mount's fd.
int corral_detached_tmpfs(void);
/// mount_setattr(fd, AT_EMPTY_PATH|AT_RECURSIVE, attrs) on a detached tree:
/// MOUNT_ATTR_* bits to set (read-only, nosuid, nodev).
int corral_set_detached_attrs(int fd, uint64_t attrs);
uint64_t corral_mount_attr_rdonly(void);
uint64_t corral_mount_attr_nosuid(void);
uint64_t corral_mount_attr_nodev(void);
/// mount_setattr(path, 0, MOUNT_ATTR_RDONLY): that one mount only, not
/// the mounts below it.
int corral_set_mount_readonly(const char *path);
/// Makes `dir` (a mount point) the root: pivot_root(dir, dir) from inside
/// it, then detaches the old root, so nothing outside `dir` stays reachable.
int corral_pivot_root(const char *dir);
/// openat(dirfd, name, O_PATH|O_DIRECTORY|O_NOFOLLOW): one directory
/// step that never follows a symlink.
int corral_open_directory_nofollow(int dirfd, const char *name);
/// 1 if the kernel has mount_setattr (Linux 5.12+), else 0.
int corral_mount_api_available(void);

// ---- Landlock ----
/// Highest Landlock ABI the kernel supports (>= 1), or -1 with errno
/// (ENOSYS: not built in; EOPNOTSUPP: built in but disabled at boot).
int corral_landlock_abi(void);
/// All filesystem *write-like* access rights known to `abi` (what the
/// sandbox handles, so that unlisted paths cannot be changed).
uint64_t corral_landlock_write_rights(int abi);
/// The subset granted on device files the kernel opens for writing.
uint64_t corral_landlock_device_rights(void);
/// landlock_create_ruleset handling `handled_fs`. Returns the ruleset fd.
int corral_landlock_create(uint64_t handled_fs, int scope_abstract_sockets);
/// LANDLOCK_RULE_PATH_BENEATH for `path` with `allowed`.
int corral_landlock_allow(int ruleset, const char *path, uint64_t allowed);
/// landlock_restrict_self(ruleset): applies to this thread and its children.
int corral_landlock_restrict(int ruleset);

// ---- kernel launch ----
/// Opens `path` O_PATH|O_CLOEXEC and moves it to exactly `target_fd`, the
/// one fd the filter lets execveat() use.
int corral_open_exec_fd(const char *path, int target_fd);

/// What the kernel child does between fork and exec.
struct corral_kernel_spec {
    int exec_fd;                  // from corral_open_exec_fd
    char *const *argv;            // NULL-terminated
    const uint8_t *bpf;           // filter to install last (may be NULL: none)
    size_t bpf_len;
    int drop_user;                // nonzero: switch to uid/gid/groups
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t group_count;
    /// How the filter's USER_NOTIF action (the default in `bpf`) is answered:
    /// 0: the filter has no notify action; 1: deny (the reaper records the
    /// call and kills the kernel); 2: learn (records it and lets it run).
    int notify_mode;
    /// Nonzero: the reaper mounts a fresh /proc for the new PID namespace
    /// before forking the kernel (host processes are then invisible).
    int mount_proc;
    /// A Landlock ruleset fd the kernel child applies before the filter
    /// (-1: none). Not in the reaper: a Landlock-restricted process may not mount.
    int landlock_fd;
    /// Nonzero: RLIMIT_NPROC for the kernel child (set before the uid drop;
    /// it binds only a non-root uid, which is why the kernel gets one).
    unsigned long nproc_limit;
    /// Nonzero: the kernel runs without capabilities (every case but
    /// `--sandbox-user root`). Before the uid drop the child empties its
    /// capability bounding and ambient sets and locks the securebits
    /// (SECBIT_NOROOT, no ambient raise, no keep-caps, no set-uid fixup), so
    /// neither uid 0 nor a file capability gives any back; then it clears
    /// its own sets. In a user namespace, where the child starts with every
    /// capability of the namespace, this is what takes them away.
    int drop_capabilities;
    /// Nonzero: the reaper keeps CAP_KILL once the kernel runs (a root
    /// caller, whose kernel has another uid and still has to be signalled);
    /// every other capability of the reaper is dropped at that point.
    int reaper_keeps_kill;
    /// The kernel's console terminal (-1: none). The kernel child makes a
    /// session of its own and takes this as its controlling terminal, as
    /// `--sandbox off` gives it one: UML then takes SIGWINCH itself, where
    /// without one it starts a winch helper process per console terminal.
    int console_fd;
    /// The launcher's go (-1: none, start at once). The kernel child does
    /// everything up to its exec (session, limits, credentials, Landlock,
    /// the filter), then reads one byte here, and only then execs the
    /// kernel; end of file means the boot was called off, and it exits 0
    /// without exec. So the child's set-up runs while the launcher still
    /// checks the boot, and the go costs one wake-up.
    int start_fd;
};

/// One syscall the filter handed to the reaper (SECCOMP_RET_USER_NOTIF).
struct corral_seccomp_event {
    int32_t nr;
    uint32_t arch;
    uint64_t args[6];
};

/// Which step of the kernel child failed (reported through a pipe).
enum corral_kernel_step {
    CORRAL_STEP_FORK_REAPER = 1,
    CORRAL_STEP_FORK_KERNEL = 2,
    CORRAL_STEP_RLIMIT = 3,
    CORRAL_STEP_SETGROUPS = 4,
    CORRAL_STEP_SETGID = 5,
    CORRAL_STEP_SETUID = 6,
    CORRAL_STEP_SECCOMP = 7,
    CORRAL_STEP_EXEC = 8,
    CORRAL_STEP_PROC = 10,
    CORRAL_STEP_LANDLOCK = 11,
    CORRAL_STEP_CAPABILITIES = 12,
};

struct corral_reaper {
    pid_t pid;         // the reaper, as this process sees it
    int status_fd;     // the reaper writes the kernel's wait status here
    int lifeline_fd;   // held open: the reaper exits if it sees it close
    int event_fd;      // notify_mode != 0: corral_seccomp_event records, else -1
};

/// Forks the reaper, which clones the kernel child; returns once the kernel
/// has exec'd (0), or the child ended without exec (0: a boot called off
/// before its go), or its setup failed (-1, *failed_step and errno set).
/// Call after unshare(CLONE_NEWPID) so the reaper is PID 1 and the kernel
/// PID 2 of the new namespace: when the reaper exits, the host kernel kills
/// whatever is left in it (stubs, helper threads). The reaper dies with its
/// parent (PDEATHSIG) and exits as soon as the kernel has exited.
int corral_spawn_reaped_kernel(const struct corral_kernel_spec *spec,
                               struct corral_reaper *out, int *failed_step);

/// Waits for the reaper, forwarding SIGTERM/SIGINT/SIGHUP to it (it forwards
/// them to the kernel). Returns the kernel's wait status.
int corral_wait_reaper(const struct corral_reaper *reaper);

/// corral_wait_reaper, while draining the reaper's seccomp events: each is
/// written as one text line "nr arch a0 a1 a2 a3 a4 a5" (hex) to `learn_fd`
/// when it is >= 0; the first one is also kept in *first (*seen set to 1).
int corral_wait_reaper_events(const struct corral_reaper *reaper, int learn_fd,
                              struct corral_seccomp_event *first, int *seen);

/// 1 if this host offers seccomp user notification with the CONTINUE
/// response learning mode needs (Linux 5.5+), else 0. pidfd_getfd (5.6) is
/// probed as the marker for that: a flag cannot be probed by itself.
int corral_seccomp_notify_available(void);

/// Ends this process the way `wait_status` ended: the same exit code, or the
/// same fatal signal (re-raised with core dumps off).
void corral_exit_like(int wait_status) __attribute__((noreturn));

// ---- test probe ----
enum corral_probe_abi { CORRAL_ABI_NATIVE = 0, CORRAL_ABI_I386 = 1, CORRAL_ABI_X32 = 2 };

struct corral_probe_result {
    int outcome;       // 0: the call returned; 1: killed by signal; 2: exited without reporting (exec'd)
    long ret;          // outcome 0: return value
    int err;           // outcome 0 and ret == -1: errno
    int signal;        // outcome 1
    int exit_code;     // outcome 2
};

/// Forks a child that sets no_new_privs, installs `bpf` (if non-NULL) and
/// makes syscall `nr` with `args` under the given ABI, then reports. A clone
/// child created by the probe exits at once.
int corral_probe_syscall(const uint8_t *bpf, size_t bpf_len, long nr, const long args[6],
                         int abi, struct corral_probe_result *out);

#endif
