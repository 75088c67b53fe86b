/*
 * sandbox: Landlock and the seccomp allow-lists of the serving processes.
 * See sandbox.h; the lists, and how they were derived, docs/SECURITY.md.
 *
 * Landlock is driven by raw system calls: Debian 12's headers know its
 * first two ABIs only, so the later rights are defined here (the kernel's
 * numbering is its ABI: it never changes) and the ruleset's attributes
 * are passed at their largest size, with zeros where the running kernel's
 * ABI has nothing (the kernel accepts trailing zeros). seccomp is built
 * with libseccomp in the master and installed in each child as a raw BPF
 * program (seccomp(2)).
 */
#include "worker/sandbox.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Rights of Landlock ABIs after Debian 12's headers (2, 3, 4, 5, 6). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define SANDBOX_NET_BIND_TCP        (1ULL << 0)
#define SANDBOX_NET_CONNECT_TCP     (1ULL << 1)
#define SANDBOX_SCOPE_ABSTRACT_UNIX (1ULL << 0)

/* struct landlock_ruleset_attr as of ABI 6 (the headers' has its first
 * field only). */
struct sandbox_ll_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

/* The rights a rule on a file (not a directory) may carry. */
#define SANDBOX_FILE_RIGHTS                                                                        \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define SANDBOX_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* An upload: its temporary file made, written, renamed into place (the
 * same directory: no REFER), or removed. */
#define SANDBOX_PLACE                                                                              \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE)
/* SQLite: the database, its -wal, -shm and -journal files made, written,
 * truncated (a checkpoint) and removed, the directory opened to sync it. */
#define SANDBOX_DATABASE (SANDBOX_READ | SANDBOX_PLACE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* A path (or a descriptor) and what may be done beneath it. */
struct sandbox_rule {
    const char *what; /* for messages */
    const char *path; /* NULL: fd */
    int fd;
    bool dir_of; /* the rule is on path's directory (a file that rotates) */
    uint64_t access;
};

#define SANDBOX_RULES_MAX 12

/*
 * The allow-lists (docs/SECURITY.md says how they were made). Each name is
 * a call one of the role's processes was seen making, once confined,
 * under strace or in a build that logs instead of killing (across the
 * test suite, the benches and a script driving every mode, protocol and
 * path), or one of three kinds more, each marked: the same call under
 * another name on another architecture (arm64 has no dup2, epoll_wait,
 * poll, access...), a path of ferry's code the runs did not take (a
 * fallback, a back-off), or a call the kernel makes on the process's
 * behalf (restart_syscall). The calls whose arguments are checked (kill,
 * tgkill, clone, mmap, mprotect, ioctl, socketpair) are in
 * sandbox_argrules[], with the two that answer ENOSYS.
 */
/* The tables keep one group a line: clang-format would give each name
 * a line of its own. */
/* clang-format off */
static const char *const sandbox_common[] = {
    "read", "write", "close", "openat", "newfstatat", "fcntl", "dup2", "pipe2", "epoll_create1",
    "epoll_ctl", "epoll_wait", "eventfd2", "brk", "munmap", "rt_sigaction", "rt_sigprocmask",
    "rt_sigreturn", "getpid", "getrandom", "futex", "exit_group",
    /* raise() and abort(): glibc's pthread_kill() asks its thread id
     * first (the tgkill that follows is checked below) */
    "gettid",
    /* other architectures' names */
    "fstat", "dup3", "epoll_pwait",
    /* glibc's realloc() of a large block; the scoreboard's reader backing
     * off (common/scoreboard.c); clock_gettime when the vDSO cannot */
    "mremap", "sched_yield", "nanosleep", "clock_nanosleep", "clock_gettime",
    /* the kernel's, after a signal stopped a sleeping call */
    "restart_syscall",
};

/* Connections handed over by the listeners, files served and listed
 * (qsort() asks sysinfo for the memory size), libuv's thread pool reading
 * ahead (event mode), uploads placed, the --max-requests word. */
static const char *const sandbox_worker[] = {
    "accept4", "recvfrom", "sendto", "sendmsg", "shutdown", "setsockopt", "sendfile", "preadv2",
    "pread64", "getdents64", "openat2", "faccessat2", "poll", "getppid", "sysinfo",
    /* threads */
    "set_robust_list", "rseq", "prlimit64", "madvise", "exit",
    /* uploads (worker/put.c; the questions to the hub: common/hubipc.c) */
    "fchmod", "fsync", "renameat2", "renameat",
    /* other architectures' names */
    "faccessat", "ppoll",
    /* uploads: linking when the file system cannot rename without
     * replacing; removing what failed */
    "linkat", "unlinkat",
};

/* UDP on libuv, its signalfd, the workers' questions about uploads,
 * SQLite. */
static const char *const sandbox_hub[] = {
    "recvmsg", "sendmsg", "recvfrom", "sendto", "setsockopt", "getsockopt", "getpeername",
    "signalfd4", "pread64", "pwrite64", "fdatasync", "ftruncate", "unlink", "access", "geteuid",
    /* SQLite, when geteuid() says root (--user root): its -wal and -shm
     * files get the database's owner */
    "fchown",
    /* other architectures' names */
    "unlinkat", "faccessat",
};

/* Iterative mode: the worker's, its shutdown deadline (alarm), and the
 * admin socket's thread (peers' credentials, its socket removed at the
 * end). */
static const char *const sandbox_iterative[] = {
    "alarm", "getsockopt", "unlink",
    /* another architecture's name */
    "unlinkat",
};

#if defined(__SANITIZE_ADDRESS__)
/* The sanitizer runtime (ASan, LSan, UBSan): its allocator (madvise), its
 * own raw calls (gettid, open, lseek, getdents), and LeakSanitizer at exit
 * (iterative mode's process exits through it), which stops every thread
 * with ptrace from a helper process (clone without CLONE_THREAD) it lets
 * trace it (prctl) and reads /proc/self/task and maps. */
static const char *const sandbox_sanitizer[] = {
    "madvise", "gettid", "open", "lseek", "getdents", "prctl", "ptrace", "wait4", "sigaltstack",
    "sched_getaffinity",
    /* another architecture's name */
    "getdents64",
};
#endif
/* clang-format on */

#define SANDBOX_N(a) (sizeof(a) / sizeof((a)[0]))

static struct sandbox_plan sandbox_plan = {.dirfd = -1};
static int sandbox_abi;                                /* Landlock: 0 none */
static struct sock_fprog sandbox_progs[SANDBOX_ROLES]; /* .filter NULL: none */
static _Atomic int32_t *sandbox_violation;
/* Shared with every child: whether a role's process ran the test hook. */
static _Atomic int *sandbox_hook_ran;

uint64_t sandbox_landlock_fs(int abi)
{
    uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */

    if (abi >= 2)
        fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return abi >= 1 ? fs : 0;
}

/* The kernel's Landlock ABI (>= 1), or -errno (-ENOSYS: not built in,
 * -EOPNOTSUPP: not enabled at boot). */
static int sandbox_landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

    return abi < 0 ? -errno : (int)abi;
}

/* A program being built, and the distinct calls it allows so far. */
struct sandbox_build {
    scmp_filter_ctx ctx;
    int allowed[256];
    unsigned nallowed;
};

/* Adds a rule for call nr (action, and ncmp comparisons of its arguments),
 * counting nr among the calls allowed. A rule that exists already is no
 * error (a name in two lists; a sanitizer's build allows some checked
 * calls whole). Returns 0 or -errno. */
static int sandbox_rule(struct sandbox_build *b, uint32_t action, int nr, unsigned ncmp,
                        const struct scmp_arg_cmp *cmp)
{
    int rc = seccomp_rule_add_array(b->ctx, action, nr, ncmp, cmp);
    bool seen = false;

    if (rc < 0 && rc != -EEXIST)
        return rc;
    for (unsigned i = 0; i < b->nallowed; i++)
        seen = seen || b->allowed[i] == nr;
    if (action == SCMP_ACT_ALLOW && !seen && b->nallowed < SANDBOX_N(b->allowed))
        b->allowed[b->nallowed++] = nr;
    return 0;
}

/* Allows every call of list, skipping what this architecture lacks.
 * Returns 0 or -errno. */
static int sandbox_add_names(struct sandbox_build *b, const char *const *list, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(list[i]);

        if (nr != __NR_SCMP_ERROR)
            rc = sandbox_rule(b, SCMP_ACT_ALLOW, nr, 0, NULL);
    }
    return rc;
}

/* A call allowed with one argument checked (or answered with an error),
 * for the roles in the mask: the comparison is libseccomp's (a, b: for
 * SCMP_CMP_MASKED_EQ the mask and the value, else the value alone). */
struct sandbox_argrule {
    const char *name;
    unsigned roles; /* 1 << enum sandbox_role */
    uint32_t action;
    int arg; /* -1: no check */
    enum scmp_compare op;
    scmp_datum_t a, b;
};

#define SANDBOX_MASTER ((scmp_datum_t)-1) /* a: the master's pid, known at start */
#define SANDBOX_W      (1u << SANDBOX_WORKER)
#define SANDBOX_H      (1u << SANDBOX_HUB)
#define SANDBOX_I      (1u << SANDBOX_ITERATIVE)
#define SANDBOX_ALL    (SANDBOX_W | SANDBOX_H | SANDBOX_I)

/* The namespace flags: a thread may be made, never a namespace. */
#define SANDBOX_CLONE_NS                                                                           \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)

static const struct sandbox_argrule sandbox_argrules[] = {
    /* Memory, never executable: nothing is loaded once serving. */
    {"mmap", SANDBOX_ALL, SCMP_ACT_ALLOW, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0},
    {"mprotect", SANDBOX_W | SANDBOX_I, SCMP_ACT_ALLOW, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0},
    /* libuv's non-blocking switch; the bytes a socket has yet to send */
    {"ioctl", SANDBOX_ALL, SCMP_ACT_ALLOW, 1, SCMP_CMP_EQ, FIONBIO, 0},
    {"ioctl", SANDBOX_W | SANDBOX_I, SCMP_ACT_ALLOW, 1, SCMP_CMP_EQ, TIOCOUTQ, 0},
    /* Signals: iterative mode's stop to itself (it is its own master; a
     * pool worker signals nobody: --max-requests rings a doorbell), and a
     * process's own SIGSYS or abort (raise()). */
    {"kill", SANDBOX_I, SCMP_ACT_ALLOW, 0, SCMP_CMP_EQ, SANDBOX_MASTER, 0},
    {"tgkill", SANDBOX_ALL, SCMP_ACT_ALLOW, 2, SCMP_CMP_EQ, SIGSYS, 0},
    {"tgkill", SANDBOX_ALL, SCMP_ACT_ALLOW, 2, SCMP_CMP_EQ, SIGABRT, 0},
    /* A thread (libuv's pool, the admin thread), never a process or a
     * namespace. clone3's flags are out of a filter's reach (behind a
     * pointer): it says ENOSYS, and glibc makes the thread with clone(). */
    {"clone", SANDBOX_W | SANDBOX_I, SCMP_ACT_ALLOW, 0, SCMP_CMP_MASKED_EQ,
     CLONE_THREAD | SANDBOX_CLONE_NS, CLONE_THREAD},
    {"clone3", SANDBOX_ALL, SCMP_ACT_ERRNO(ENOSYS), -1, SCMP_CMP_EQ, 0, 0},
    /* A newer libuv tries io_uring, and does without when refused. */
    {"io_uring_setup", SANDBOX_ALL, SCMP_ACT_ERRNO(ENOSYS), -1, SCMP_CMP_EQ, 0, 0},
    /* an upload's channel to the hub (common/hubipc.c) */
    {"socketpair", SANDBOX_W, SCMP_ACT_ALLOW, 0, SCMP_CMP_EQ, AF_UNIX, 0},
#if defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer's helper: a process sharing the memory, no namespace. */
    {"clone", SANDBOX_ALL, SCMP_ACT_ALLOW, 0, SCMP_CMP_MASKED_EQ, SANDBOX_CLONE_NS, 0},
#endif
};

/* Adds role's rules of sandbox_argrules, master the pid signals may go
 * to. Returns 0 or -errno. */
static int sandbox_add_argrules(struct sandbox_build *b, enum sandbox_role role, pid_t master)
{
    int rc = 0;

    for (size_t i = 0; i < SANDBOX_N(sandbox_argrules) && rc == 0; i++) {
        const struct sandbox_argrule *r = &sandbox_argrules[i];
        int nr = seccomp_syscall_resolve_name(r->name);
        struct scmp_arg_cmp cmp = {.arg = (unsigned)r->arg,
                                   .op = r->op,
                                   .datum_a = r->a == SANDBOX_MASTER ? (scmp_datum_t)master : r->a,
                                   .datum_b = r->b};

        if (nr != __NR_SCMP_ERROR && (r->roles & (1u << role)))
            rc = sandbox_rule(b, r->action, nr, r->arg < 0 ? 0 : 1, &cmp);
    }
    return rc;
}

/* Copies ctx's BPF program into *prog (malloc'ed). Returns 0 or -errno. */
static int sandbox_export(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
    int fd = memfd_create("ferry-seccomp", MFD_CLOEXEC), rc;
    struct stat st;
    void *buf = NULL;

    if (fd < 0)
        return -errno;
    if ((rc = seccomp_export_bpf(ctx, fd)) < 0)
        goto fail;
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
        st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        rc = -EINVAL;
        goto fail;
    }
    if ((buf = malloc((size_t)st.st_size)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
        rc = -EIO;
        goto fail;
    }
    close(fd);
    prog->filter = buf;
    prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    return 0;
fail:
    free(buf);
    close(fd);
    return rc;
}

/* Builds role's program into sandbox_progs[role]; *calls: how many system
 * calls it allows. Returns 0 or -errno. */
static int sandbox_compile(enum sandbox_role role, pid_t master, unsigned *calls)
{
    /* FERRY_SECCOMP_LOG (a developer's build, never a release): what the
     * list lacks is logged by the kernel (dmesg) instead of killed. */
#ifdef FERRY_SECCOMP_LOG
    struct sandbox_build b = {.ctx = seccomp_init(SCMP_ACT_LOG)};
#else
    struct sandbox_build b = {.ctx = seccomp_init(SCMP_ACT_TRAP)};
#endif
    int rc;

    if (b.ctx == NULL)
        return -ENOMEM;
    /* Another architecture's calls (i386's int 0x80, x32) cannot be named
     * by the handler: the process is killed at once. */
    if ((rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
        goto out;
    /* A tree, where libseccomp can: the kernel walks the program for every
     * call number when it installs it, in each fork-mode child. */
    (void)seccomp_attr_set(b.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    rc = sandbox_add_names(&b, sandbox_common, SANDBOX_N(sandbox_common));
    if (rc == 0 && role == SANDBOX_HUB)
        rc = sandbox_add_names(&b, sandbox_hub, SANDBOX_N(sandbox_hub));
    else if (rc == 0)
        rc = sandbox_add_names(&b, sandbox_worker, SANDBOX_N(sandbox_worker));
    if (rc == 0 && role == SANDBOX_ITERATIVE)
        rc = sandbox_add_names(&b, sandbox_iterative, SANDBOX_N(sandbox_iterative));
#if defined(__SANITIZE_ADDRESS__)
    if (rc == 0)
        rc = sandbox_add_names(&b, sandbox_sanitizer, SANDBOX_N(sandbox_sanitizer));
#endif
    if (rc == 0)
        rc = sandbox_add_argrules(&b, role, master);
    if (rc == 0)
        rc = sandbox_export(b.ctx, &sandbox_progs[role]);
    *calls = b.nallowed;
out:
    seccomp_release(b.ctx);
    return rc;
}

/* True when this kernel takes seccomp filters that trap. */
static int sandbox_seccomp_avail(void)
{
    uint32_t action = SECCOMP_RET_TRAP;

    if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0)
        return -errno;
    return 0;
}

int sandbox_init(const struct sandbox_plan *plan, struct sandbox_status *st)
{
    int rc;

    memset(st, 0, sizeof(*st));
    sandbox_plan = *plan;
    if (sandbox_hook_ran == NULL) {
        void *m = mmap(NULL, SANDBOX_ROLES * sizeof(*sandbox_hook_ran), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (m == MAP_FAILED)
            return -errno;
        sandbox_hook_ran = m;
    }
    rc = sandbox_landlock_abi();
    sandbox_abi = rc > 0 ? rc : 0;
    st->landlock_abi = sandbox_abi;
    st->landlock_err = rc < 0 ? -rc : 0;
    if (!plan->seccomp)
        return 0;
    if ((rc = sandbox_seccomp_avail()) < 0) {
        st->seccomp_err = -rc;
        return 0;
    }
    for (int r = 0; r < SANDBOX_ROLES; r++) {
        if ((rc = sandbox_compile((enum sandbox_role)r, plan->master, &st->calls[r])) < 0)
            return rc;
        st->insns[r] = sandbox_progs[r].len;
    }
    /* libseccomp's working memory for three programs is freed, but its
     * pages stay in the master's heap, touched (about 0.9 MiB, which
     * every child would share and an idle ferryd would carry): give them
     * back. */
    malloc_trim(0);
    st->seccomp = true;
    return 0;
}

void sandbox_replan(const struct sandbox_plan *plan)
{
    sandbox_plan = *plan;
}

/* Fills rules with what role may reach. Returns how many. */
static size_t sandbox_rules(enum sandbox_role role, struct sandbox_rule *r)
{
    const struct sandbox_plan *p = &sandbox_plan;
    bool iterative = role == SANDBOX_ITERATIVE;
    /* A pool's master makes the new log file before its children reopen
     * it (master/privdrop.h); iterative mode's process makes its own. */
    uint64_t log = LANDLOCK_ACCESS_FS_WRITE_FILE | (iterative ? LANDLOCK_ACCESS_FS_MAKE_REG : 0);
    size_t n = 0;

    if (role != SANDBOX_HUB && p->dirfd >= 0)
        r[n++] = (struct sandbox_rule){"the served directory", NULL, p->dirfd, false,
                                       SANDBOX_READ | (p->uploads ? SANDBOX_PLACE : 0)};
    if (p->log_file != NULL)
        r[n++] = (struct sandbox_rule){"the log file's directory", p->log_file, -1, true, log};
    if (role != SANDBOX_HUB && p->access_log != NULL && strcmp(p->access_log, "-") != 0)
        r[n++] = (struct sandbox_rule){"the access log's directory", p->access_log, -1, true, log};
    if (role == SANDBOX_HUB && p->hub_db != NULL) {
        r[n++] = (struct sandbox_rule){"the database's directory", p->hub_db, -1, true,
                                       SANDBOX_DATABASE};
        /* SQLite seeds its generator from it, once. */
        r[n++] = (struct sandbox_rule){"/dev/urandom", "/dev/urandom", -1, false,
                                       LANDLOCK_ACCESS_FS_READ_FILE};
    }
    if (iterative && p->admin_socket != NULL)
        r[n++] = (struct sandbox_rule){"the admin socket's directory", p->admin_socket, -1, true,
                                       LANDLOCK_ACCESS_FS_REMOVE_FILE};
    if (iterative) {
        /* The admin thread: the figures of /metrics and status (the
         * master's own elsewhere), jansson's hash seed, and libuv's spare
         * descriptor for running out of them. */
        r[n++] = (struct sandbox_rule){"/proc/self", "/proc/self", -1, false, SANDBOX_READ};
        r[n++] = (struct sandbox_rule){"/proc/stat", "/proc/stat", -1, false,
                                       LANDLOCK_ACCESS_FS_READ_FILE};
        r[n++] = (struct sandbox_rule){"/dev/urandom", "/dev/urandom", -1, false,
                                       LANDLOCK_ACCESS_FS_READ_FILE};
        r[n++] = (struct sandbox_rule){"/dev/null", "/dev/null", -1, false,
                                       LANDLOCK_ACCESS_FS_READ_FILE};
    }
#if defined(__SANITIZE_ADDRESS__)
    /* The sanitizer's reports and LeakSanitizer read the process's maps
     * and threads. */
    if (!iterative)
        r[n++] = (struct sandbox_rule){"/proc/self", "/proc/self", -1, false, SANDBOX_READ};
#endif
    return n;
}

/* Opens rule's place (O_PATH). Returns the descriptor (to close when
 * rule->fd was -1), or -errno. */
static int sandbox_rule_fd(const struct sandbox_rule *rule)
{
    char buf[PATH_MAX];
    const char *path = rule->path;
    int fd;

    if (rule->path == NULL)
        return rule->fd;
    if (rule->dir_of) {
        if (snprintf(buf, sizeof(buf), "%s", rule->path) >= (int)sizeof(buf))
            return -ENAMETOOLONG;
        path = dirname(buf);
    }
    fd = open(path, O_PATH | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Adds rule to the ruleset: its rights as the ABI knows them, a file's
 * only those a file may carry. A place this user cannot reach is left
 * out (it could not be used anyway). Returns 0 or -errno. */
static int sandbox_rule_add(int ruleset, const struct sandbox_rule *rule, uint64_t handled)
{
    struct landlock_path_beneath_attr pb = {.allowed_access = rule->access & handled};
    int fd = sandbox_rule_fd(rule), rc = 0;
    struct stat st;

    if (fd < 0) {
        log_debug("sandbox: %s (%s) left out of the Landlock rules: %s", rule->what,
                  rule->path ? rule->path : "-", strerror(-fd));
        return 0;
    }
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        pb.allowed_access &= SANDBOX_FILE_RIGHTS;
    pb.parent_fd = fd;
    if (pb.allowed_access != 0 &&
        syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
        rc = -errno;
        log_error("sandbox: Landlock: %s: %s", rule->what, strerror(errno));
    }
    if (fd != rule->fd)
        close(fd);
    return rc;
}

/* Applies role's Landlock ruleset to this thread (and those it makes).
 * Returns 0 or -errno (logged). */
static int sandbox_landlock(enum sandbox_role role)
{
    struct sandbox_ll_attr attr = {.handled_access_fs = sandbox_landlock_fs(sandbox_abi)};
    struct sandbox_rule rules[SANDBOX_RULES_MAX];
    size_t n = sandbox_rules(role, rules);
    int ruleset, rc = 0;

    if (sandbox_abi >= 4) /* no TCP bind or connect at all */
        attr.handled_access_net = SANDBOX_NET_BIND_TCP | SANDBOX_NET_CONNECT_TCP;
    if (sandbox_abi >= 6) /* signals are not scoped: a worker signals its master */
        attr.scoped = SANDBOX_SCOPE_ABSTRACT_UNIX;
    ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset < 0) {
        log_error("sandbox: Landlock: cannot make the ruleset: %s", strerror(errno));
        return -errno;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = sandbox_rule_add(ruleset, &rules[i], attr.handled_access_fs);
    if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
        rc = -errno;
        log_error("sandbox: Landlock: cannot apply the ruleset: %s", strerror(errno));
    }
    close(ruleset);
    return rc;
}

/* Writes "NR" of a non-negative number into buf (async-signal-safe).
 * Returns its length. */
static size_t sandbox_itoa(long v, char *buf)
{
    char tmp[24];
    size_t n = 0, len = 0;

    if (v < 0) {
        buf[len++] = '-';
        v = -v;
    }
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        buf[len++] = tmp[--n];
    return len;
}

/* SIGSYS from the filter (SA_RESETHAND: SIGSYS is back to its default
 * already): note the call for the master, say it, and die of it. Only
 * async-signal-safe calls, each on the allow-list. */
static void sandbox_on_sigsys(int sig, siginfo_t *si, void *uc)
{
    static const char head[] = "ferryd: policy violation: system call ";
    static const char tail[] = " is not allowed: killed (docs/SECURITY.md)\n";
    char line[sizeof(head) + sizeof(tail) + 24];
    size_t len = sizeof(head) - 1;

    (void)uc;
    if (sandbox_violation != NULL)
        atomic_store(sandbox_violation, si->si_syscall);
    memcpy(line, head, len);
    len += sandbox_itoa(si->si_syscall, line + len);
    memcpy(line + len, tail, sizeof(tail) - 1);
    len += sizeof(tail) - 1;
    if (write(STDERR_FILENO, line, len) < 0) {
        /* dying anyway */
    }
    raise(sig); /* SA_NODEFER: delivered now, with the default action */
}

/* Installs role's program. Returns 0 or -errno (logged). */
static int sandbox_seccomp(enum sandbox_role role)
{
    struct sigaction sa = {.sa_sigaction = sandbox_on_sigsys,
                           .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER};
    sigset_t sys;

    sigemptyset(&sa.sa_mask);
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    /* A child starts with every signal blocked (master/proc.h): a blocked
     * SIGSYS would kill it all the same, but unheard. It comes from the
     * filter alone, never from an operator: unblocked now. */
    if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0) {
        log_error("sandbox: SIGSYS: %s", strerror(errno));
        return -errno;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sandbox_progs[role]) < 0) {
        log_error("sandbox: cannot install the seccomp allow-list: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

int sandbox_enter(enum sandbox_role role, _Atomic int32_t *violation)
{
    int rc;

    /* Loaded now, not at the first localtime() (daytime), which could no
     * longer read /etc/localtime. */
    tzset();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        log_error("sandbox: no_new_privs: %s", strerror(errno));
        return -errno;
    }
    if (sandbox_abi > 0 && (rc = sandbox_landlock(role)) < 0)
        return rc;
    sandbox_violation = violation;
    if (sandbox_progs[role].filter != NULL && (rc = sandbox_seccomp(role)) < 0)
        return rc;
    return 0;
}

const char *sandbox_syscall_name(int nr, char *buf, size_t len)
{
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

    if (name != NULL)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "syscall %d", nr);
    free(name);
    return buf;
}

/* The families the hook's socket:NAME knows. */
static const struct {
    const char *name;
    int family, type;
} sandbox_families[] = {
    {"AF_PACKET", AF_PACKET, SOCK_RAW}, {"AF_NETLINK", AF_NETLINK, SOCK_RAW},
    {"AF_INET", AF_INET, SOCK_STREAM},  {"AF_INET6", AF_INET6, SOCK_STREAM},
    {"AF_UNIX", AF_UNIX, SOCK_STREAM},
};

/* One hook, "KIND:ARG" (len bytes at h). */
static void sandbox_hook_one(const char *h, size_t len)
{
    char arg[PATH_MAX];
    const char *colon = memchr(h, ':', len);
    size_t kind = colon ? (size_t)(colon - h) : len;
    int fd;

    if (colon == NULL || len - kind - 1 >= sizeof(arg)) {
        log_warn("test hook: '%.*s': not KIND:ARG", (int)len, h);
        return;
    }
    memcpy(arg, colon + 1, len - kind - 1);
    arg[len - kind - 1] = '\0';
    if (kind == 4 && memcmp(h, "open", 4) == 0) {
        fd = open(arg, O_RDONLY | O_CLOEXEC);
        log_warn("test hook: open %s: %s", arg, fd >= 0 ? "opened" : strerror(errno));
        if (fd >= 0)
            close(fd);
    } else if (kind == 7 && memcmp(h, "syscall", 7) == 0 && strcmp(arg, "execve") == 0) {
        char *const argv[] = {"/nonexistent/ferry-test-hook", NULL};

        execve(argv[0], argv, argv + 1);
        log_warn("test hook: execve %s: %s", argv[0], strerror(errno));
    } else if (kind == 7 && memcmp(h, "syscall", 7) == 0 && strcmp(arg, "setuid") == 0) {
        log_warn("test hook: setuid 0: %s", setuid(0) == 0 ? "done" : strerror(errno));
    } else if (kind == 7 && memcmp(h, "syscall", 7) == 0 && strcmp(arg, "ptrace") == 0) {
        long r = ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);

        log_warn("test hook: ptrace: %s", r == 0 ? "attached" : strerror(errno));
    } else if (kind == 6 && memcmp(h, "socket", 6) == 0) {
        for (size_t i = 0; i < SANDBOX_N(sandbox_families); i++) {
            if (strcmp(arg, sandbox_families[i].name) != 0)
                continue;
            fd = socket(sandbox_families[i].family, sandbox_families[i].type | SOCK_CLOEXEC, 0);
            log_warn("test hook: socket %s: %s", arg, fd >= 0 ? "opened" : strerror(errno));
            if (fd >= 0)
                close(fd);
            return;
        }
        log_warn("test hook: socket %s: unknown family", arg);
    } else {
        log_warn("test hook: '%.*s': unknown", (int)len, h);
    }
}

void sandbox_test_hook(enum sandbox_role role)
{
    const char *h = getenv("FERRY_TEST_HOOK");

    if (h == NULL || sandbox_hook_ran == NULL || atomic_exchange(&sandbox_hook_ran[role], 1) != 0)
        return;
    while (*h != '\0') {
        size_t len = strcspn(h, ",");

        if (len > 0)
            sandbox_hook_one(h, len);
        h += len + (h[len] == ',');
    }
}
