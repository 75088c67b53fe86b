/*
 * privdrop: least privilege for a ferryd started as root (docs/SECURITY.md).
 *
 * The master, at start, once it has bound its listeners and opened its
 * logs, the served directory and (soon after) its admin socket:
 *   - resolves who the serving processes become: --user and --group, or
 *     by default the user 'ferry' where it exists, else nobody with the
 *     group nogroup (nginx's rule), and says which;
 *   - checks, as that user (a short-lived child), that what they must
 *     reach is reachable: the served directory, the hub's database and its
 *     directory; a problem is said at start, not found by a client;
 *   - hands the log files it opened to that user, as nginx does, so that
 *     a worker reopens them by path after a rotation (the master makes the
 *     new file first, and hands it over before telling them);
 *   - prepares the sandbox (worker/sandbox.h);
 *   - keeps of its own capabilities only what it still needs: to give its
 *     children their user (CAP_SETUID, CAP_SETGID), signal them
 *     (CAP_KILL), bind during a restart (CAP_NET_BIND_SERVICE), hand log
 *     files over (CAP_CHOWN) and reach files its children own (the log
 *     files, a dead worker's upload: CAP_DAC_OVERRIDE; the hub's database
 *     it opens as the hub's user); the bounding set likewise,
 *     which is also what a new ferryd executed by this master may have.
 * Each serving process, after its fork: supplementary groups, gid, uid,
 * each checked, setuid(0) checked to fail, then the sandbox. Started as
 * anyone else, ferryd makes no privilege call: the processes keep its
 * user (--user may only name it), and are sandboxed all the same.
 */
#ifndef FERRY_PRIVDROP_H
#define FERRY_PRIVDROP_H

#include "common/scoreboard.h"
#include "master/config.h"
#include "worker/sandbox.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRIVDROP_GROUPS_MAX 256
#define PRIVDROP_NAME_MAX   64

/* Who the serving processes run as. */
struct privdrop_user {
    bool change; /* they change user (root start, a user other than root) */
    uid_t uid;
    gid_t gid;
    gid_t groups[PRIVDROP_GROUPS_MAX]; /* supplementary: gid and the user's groups */
    int ngroups;
    char user[PRIVDROP_NAME_MAX], group[PRIVDROP_NAME_MAX];
    bool by_default; /* no --user: the default rule chose */
    bool fallback;   /* ...nobody, for want of a 'ferry' user */
};

/*
 * Resolves --user and --group (NULL: not given) for a ferryd running as
 * euid/egid into *out. As root: the user named, or the default rule; the
 * group named, or the user's primary group (nogroup for the default's
 * nobody, where it exists); change is false for root itself. As anyone
 * else: --user and --group may only name euid and egid. Returns 0, or
 * -ENOENT (no such user or group) or -EPERM (as non-root, someone else),
 * with the reason in err.
 */
int privdrop_resolve(const char *user, const char *group, uid_t euid, gid_t egid,
                     struct privdrop_user *out, char *err, size_t errlen);

/* The master, first: resolves --user and --group (privdrop_resolve()).
 * Returns 0, or -EINVAL after saying why on stderr (exit 2). */
int privdrop_init(const struct config *cfg);

/*
 * The master, once its listeners, logs and served directory are open (see
 * above); admin_path: its admin socket's. Logs who serves and how they are
 * confined. Returns 0, or -errno when what the serving processes need is
 * out of their reach (said on stderr), or the sandbox cannot be built.
 */
int privdrop_prepare(const struct config *cfg, int dirfd, const char *admin_path);

/*
 * A serving process of role, right after its fork (iterative mode's
 * process once its sockets are bound): drops to the user privdrop_prepare()
 * chose, enters the sandbox (violation: its scoreboard entry, see
 * sb_violation()) and runs the test hook, if any. Returns 0, or -1 after
 * logging why: the process must then exit, never serve.
 */
int privdrop_enter(enum sandbox_role role, _Atomic int32_t *violation);

/*
 * A reload, before anything changes: checks, as the serving processes'
 * user, that they reach what next needs (dirfd: its served directory, open
 * already). Warnings are logged; errors are added to *problems, one a
 * line. Returns 0, or -EACCES (refuse the reload), or -errno.
 */
int privdrop_reload_check(const struct config *next, int dirfd, struct cfg_report *problems);

/* A reload done: cfg is the configuration now, dirfd its served directory.
 * The processes forked from now on are confined to them; a new access log
 * is handed to them. */
void privdrop_reload_commit(const struct config *cfg, int dirfd);

/* The master reopened its log files: hands the new ones to the serving
 * processes' user before they are told to reopen them. */
void privdrop_logs_reopened(void);

/*
 * Makes the master act as the serving user (effective IDs only) until
 * privdrop_act_as_master(): for its sessions on the hub's database, so
 * that what SQLite makes beside it (-wal, -shm) is the hub's from its
 * first instant. Made as root and given away after (SQLite's fchown), it
 * was root's for a moment, and a hub opening the database then could not
 * (EACCES: one start in ten in the tests). Returns 0 (also when there is
 * no drop) or -errno, the master unchanged.
 */
int privdrop_act_as_serving(void);

/* Back to the master's own effective IDs (after a successful
 * privdrop_act_as_serving(); otherwise nothing). */
void privdrop_act_as_master(void);

/*
 * The master reaped the child of slot (kind: "worker", "hub"): when it
 * died of SIGSYS, logs the policy violation with the call's name and
 * counts it (before the slot is released). Returns true in that case.
 */
bool privdrop_reaped(struct scoreboard *sb, int slot, pid_t pid, int wstatus, const char *kind);

#endif
