/*
 * sandbox: what confines a serving process (a pool worker, a fork-mode
 * child, the hub, iterative mode's one process) once it runs as its own
 * user (master/privdrop.h), whether or not ferryd started as root: two
 * kernel-enforced limits that every thread the process makes later
 * inherits, neither of which needs a privilege to apply.
 *
 *   Landlock   the file system: beneath the served directory, reading
 *              (and, for the hub's uploads, making, writing, removing
 *              files); beneath the log files' directories, writing; the
 *              hub beneath its database's directory; nothing else, no
 *              execution anywhere, no TCP bind or connect, no abstract
 *              Unix socket outside the process. Where the kernel lacks
 *              Landlock (before 5.13, or not enabled) it is said once at
 *              start and the process goes on, confined by the served
 *              tree's openat2() resolution alone (worker/tree.h).
 *   seccomp    an allow-list of system calls per role, built from what
 *              the processes were seen to call (docs/SECURITY.md), a few
 *              of them with their arguments checked (kill only in
 *              iterative mode, to itself; clone only a thread; no
 *              executable mapping). Any
 *              other call raises SIGSYS: its handler stores the call's
 *              number in the process's scoreboard entry (sb_violation())
 *              and the process dies of SIGSYS; the master names the call
 *              in its log. --no-seccomp turns it off.
 *
 * The master prepares once (sandbox_init(): the Landlock ABI, the
 * seccomp programs compiled to BPF), the serving process enters after each
 * fork (sandbox_enter()): a fork-mode child pays a few system calls, not
 * a compilation.
 */
#ifndef FERRY_SANDBOX_H
#define FERRY_SANDBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Which allow-list and which paths: each role its own. */
enum sandbox_role {
    SANDBOX_WORKER,    /* a pool worker or a fork-mode child */
    SANDBOX_HUB,       /* the hub's process */
    SANDBOX_ITERATIVE, /* iterative mode: a worker plus the admin socket's thread */
    SANDBOX_ROLES
};

/* What the serving processes may reach, as the master knows it at start.
 * The strings must outlive the process (the configuration's do). */
struct sandbox_plan {
    int dirfd;                /* the served directory (O_PATH), or -1 */
    bool uploads;             /* the workers place files in it (a hub takes uploads) */
    const char *log_file;     /* reopened by path after rotation; NULL: stderr as given */
    const char *access_log;   /* likewise; NULL or "-": none */
    const char *hub_db;       /* the hub's SQLite database, or NULL */
    const char *admin_socket; /* iterative: the socket it removes when it stops */
    bool seccomp;             /* false: --no-seccomp */
    pid_t master;             /* the one process a worker may signal */
};

/* What sandbox_init() found, for the master's start-up lines. */
struct sandbox_status {
    int landlock_abi;              /* the kernel's Landlock ABI, or 0: none */
    int landlock_err;              /* why none (ENOSYS, EOPNOTSUPP...), or 0 */
    bool seccomp;                  /* the allow-lists are in force */
    int seccomp_err;               /* why they cannot be (when asked for), or 0 */
    unsigned calls[SANDBOX_ROLES]; /* system calls each role's list allows */
    unsigned insns[SANDBOX_ROLES]; /* and its BPF program's instructions */
};

/*
 * In the master, at start: keeps plan, asks the kernel for its Landlock
 * ABI and, unless plan->seccomp is false, compiles every role's seccomp
 * program. A kernel without Landlock or without seccomp filters is no
 * error: st says so. Returns 0, or -errno when a program cannot be
 * built (libseccomp failed, out of memory).
 */
int sandbox_init(const struct sandbox_plan *plan, struct sandbox_status *st);

/* A reload changed what the serving processes reach (the directory, the
 * log files): plan replaces the one sandbox_init() kept, for processes
 * forked from now on. Its seccomp setting and master must not change:
 * the programs stay as compiled. */
void sandbox_replan(const struct sandbox_plan *plan);

/*
 * In a serving process, after its privilege drop and before it serves:
 * sets no_new_privs, applies role's Landlock ruleset, then its seccomp
 * program, whose SIGSYS handler stores a forbidden call's number in
 * *violation (may be NULL) before the process dies of it. Returns 0, or
 * -errno after logging what failed: the process must then not serve.
 */
int sandbox_enter(enum sandbox_role role, _Atomic int32_t *violation);

/*
 * The test hook (docs/SECURITY.md): when $FERRY_TEST_HOOK is set, the
 * first process of role to get here (since sandbox_init(): once per role
 * and master, so that a test sees the pool replace a process the hook got
 * killed) makes what it names, confined, and logs the outcome:
 * "open:/abs/path" opens a file directly (not through the served tree),
 * "syscall:execve", "syscall:ptrace" or "syscall:setuid" (to 0) makes that
 * call, "socket:AF_PACKET"
 * (AF_NETLINK, AF_INET, AF_INET6, AF_UNIX) opens such a socket; several,
 * comma-separated, run in turn. A call outside the allow-list kills the
 * process.
 */
void sandbox_test_hook(enum sandbox_role role);

/* Writes the name of system call nr on this architecture ("execve") into
 * buf, or "syscall NR" when unknown. Returns buf. */
const char *sandbox_syscall_name(int nr, char *buf, size_t len);

/* The file system's Landlock access rights that ABI abi knows (0 for none:
 * no Landlock), all of which a ruleset handles. */
uint64_t sandbox_landlock_fs(int abi);

#endif
