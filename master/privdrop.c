/*
 * privdrop: the privilege drop and the master's capabilities. See
 * privdrop.h and docs/SECURITY.md.
 *
 * Capabilities go through the raw capget/capset and prctl calls: the
 * master needs one fixed set, which three calls express, and no library
 * (libcap) would make them clearer.
 */
#include "master/privdrop.h"

#include "common/log.h"
#include "worker/access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRIVDROP_DEFAULT_USER   "ferry"
#define PRIVDROP_FALLBACK_USER  "nobody"
#define PRIVDROP_FALLBACK_GROUP "nogroup"

/* What the master keeps (privdrop.h says why each). */
static const int privdrop_master_caps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_KILL,
                                           CAP_SETGID, CAP_SETUID,       CAP_NET_BIND_SERVICE};

static struct privdrop_user privdrop_who;
static const struct config *privdrop_cfg;
static pid_t privdrop_master;           /* the master's pid: its children's parent */
static const char *privdrop_admin_path; /* main()'s, for iterative mode's sandbox */

/* Copies name into buf (PRIVDROP_NAME_MAX). */
static void privdrop_name(char *buf, const char *name)
{
    snprintf(buf, PRIVDROP_NAME_MAX, "%s", name);
}

/* Resolves the user: name, or the default rule (as root), or euid's.
 * Returns 0 or -ENOENT with err set. */
static int privdrop_user_of(const char *name, uid_t euid, gid_t egid, struct privdrop_user *out,
                            struct passwd *pw_out, char *err, size_t errlen)
{
    struct passwd *pw;

    if (name != NULL) {
        if ((pw = getpwnam(name)) == NULL) {
            snprintf(err, errlen, "--user %s: no such user", name);
            return -ENOENT;
        }
    } else if (euid != 0) {
        if ((pw = getpwuid(euid)) == NULL) { /* a uid without a name: fine */
            memset(pw_out, 0, sizeof(*pw_out));
            pw_out->pw_uid = euid;
            pw_out->pw_gid = egid;
            snprintf(out->user, sizeof(out->user), "%u", (unsigned)euid);
            return 0;
        }
    } else if ((pw = getpwnam(PRIVDROP_DEFAULT_USER)) != NULL) {
        out->by_default = true;
    } else if ((pw = getpwnam(PRIVDROP_FALLBACK_USER)) != NULL) {
        out->by_default = out->fallback = true;
    } else {
        snprintf(err, errlen, "no user '%s' nor '%s' to run the workers as: name one with --user",
                 PRIVDROP_DEFAULT_USER, PRIVDROP_FALLBACK_USER);
        return -ENOENT;
    }
    *pw_out = *pw;
    privdrop_name(out->user, pw->pw_name);
    return 0;
}

/* Resolves the group: name, or nogroup for the fallback (where it exists),
 * or the user's primary group. Returns 0 or -ENOENT with err set. */
static int privdrop_group_of(const char *name, gid_t primary, struct privdrop_user *out, char *err,
                             size_t errlen)
{
    struct group *gr;

    if (name != NULL) {
        if ((gr = getgrnam(name)) == NULL) {
            snprintf(err, errlen, "--group %s: no such group", name);
            return -ENOENT;
        }
    } else if (out->fallback && (gr = getgrnam(PRIVDROP_FALLBACK_GROUP)) != NULL) {
        /* nginx's rule: nobody:nogroup */
    } else if ((gr = getgrgid(primary)) == NULL) {
        out->gid = primary;
        snprintf(out->group, sizeof(out->group), "%u", (unsigned)primary);
        return 0;
    }
    out->gid = gr->gr_gid;
    privdrop_name(out->group, gr->gr_name);
    return 0;
}

int privdrop_resolve(const char *user, const char *group, uid_t euid, gid_t egid,
                     struct privdrop_user *out, char *err, size_t errlen)
{
    bool root = euid == 0;
    struct passwd pw;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = privdrop_user_of(user, euid, egid, out, &pw, err, errlen)) < 0)
        return rc;
    out->uid = pw.pw_uid;
    if ((rc = privdrop_group_of(group, pw.pw_gid, out, err, errlen)) < 0)
        return rc;
    if (!root) {
        if (out->uid != euid || (group != NULL && out->gid != egid)) {
            snprintf(err, errlen,
                     "%s %s: only root may run the serving processes as someone else "
                     "(ferryd runs as uid %u gid %u)",
                     out->uid != euid ? "--user" : "--group", out->uid != euid ? user : group,
                     (unsigned)euid, (unsigned)egid);
            return -EPERM;
        }
        out->gid = egid;
        return 0;
    }
    out->change = out->uid != 0;
    if (out->change && out->gid == 0) { /* setgid(0) would not fail: root's group is a way back */
        snprintf(err, errlen,
                 "%s %s: the serving processes may not run in group 0 (root): name another "
                 "with --group",
                 group != NULL ? "--group" : "--user", group != NULL ? group : out->user);
        return -EPERM;
    }
    out->groups[0] = out->gid;
    out->ngroups = 1;
    if (out->change && pw.pw_name != NULL) {
        int n = PRIVDROP_GROUPS_MAX;

        /* The group and the user's memberships, as initgroups() makes them
         * (nginx's): read here, where the group database may be read. */
        if (getgrouplist(out->user, out->gid, out->groups, &n) >= 0)
            out->ngroups = n;
    }
    return 0;
}

/* In a child: becomes who (groups, gid, uid), then checks that it cannot
 * come back. Returns 0, or -errno with *what naming the step that failed. */
static int privdrop_become(const struct privdrop_user *who, const char **what)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;

    *what = "setgroups";
    if (setgroups((size_t)who->ngroups, who->groups) < 0)
        return -errno;
    *what = "setgid";
    if (setresgid(who->gid, who->gid, who->gid) < 0)
        return -errno;
    *what = "setuid";
    if (setresuid(who->uid, who->uid, who->uid) < 0)
        return -errno;
    *what = "the check of the new identity";
    if (getresuid(&r, &e, &s) < 0 || r != who->uid || e != who->uid || s != who->uid ||
        getresgid(&rg, &eg, &sg) < 0 || rg != who->gid || eg != who->gid || sg != who->gid)
        return -EPERM;
    *what = "the check that root cannot be regained";
    if (setuid(0) == 0 || errno != EPERM || setgid(0) == 0 || errno != EPERM)
        return -EPERM;
    return 0;
}

/* The probe: says on out ("E text" for an error, "W text" for a
 * warning, one a line) what the serving processes' user cannot reach. */
static void privdrop_probe_checks(const struct config *cfg, int dirfd, int out)
{
    const char *u = privdrop_who.user;
    char dir[PATH_MAX];
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        dprintf(out,
                "E the served directory %s is not readable by %s, who the workers run as: %s "
                "(give it to them, e.g. chmod o+rx, or choose --user)\n",
                cfg->directory, u, strerror(errno));
    else
        close(fd);
    fd = -1;
    if (cfg->hub_db != NULL && faccessat(dirfd, ".", W_OK, 0) < 0)
        dprintf(out,
                "W the served directory %s is not writable by %s, who the workers run as: "
                "uploads to the hub (native PUT) will fail\n",
                cfg->directory, u);
    if (cfg->hub_db == NULL)
        return;
    snprintf(dir, sizeof(dir), "%s", cfg->hub_db);
    if (access(dirname(dir), W_OK | X_OK) < 0)
        dprintf(out,
                "E the directory of the hub's database, %s, is not writable by %s, who the hub "
                "runs as: %s (SQLite makes its -wal and -shm files beside the database: give it "
                "to %s, or choose --user)\n",
                dir, u, strerror(errno), u);
    else if ((fd = open(cfg->hub_db, O_RDWR | O_CLOEXEC)) < 0 && errno != ENOENT)
        dprintf(out,
                "E the hub's database %s is not writable by %s, who the hub runs as: %s (give it "
                "and its -wal and -shm files to %s)\n",
                cfg->hub_db, u, strerror(errno), u);
    if (fd >= 0)
        close(fd);
}

/* Where the probe's errors go: stderr at start, a reload's problems. */
typedef void (*privdrop_say_fn)(void *user, const char *line);

/* Forks a child that becomes the serving processes' user and checks what
 * they need. Warnings are logged; each error goes to say(user, line).
 * Returns 0, or -EACCES when something is out of their reach, or -errno. */
static int privdrop_probe(const struct config *cfg, int dirfd, privdrop_say_fn say, void *user)
{
    char buf[4096], *line, *next;
    int pipefd[2], wstatus, errors = 0;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    if ((pid = fork()) < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -errno;
    }
    if (pid == 0) {
        const char *what;
        int rc = privdrop_become(&privdrop_who, &what);

        close(pipefd[0]);
        if (rc < 0)
            dprintf(pipefd[1], "E cannot become %s: %s: %s\n", privdrop_who.user, what,
                    strerror(-rc));
        else
            privdrop_probe_checks(cfg, dirfd, pipefd[1]);
        _exit(0);
    }
    close(pipefd[1]);
    while (len < sizeof(buf) - 1 && ((n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
                                     (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    buf[len] = '\0';
    close(pipefd[0]);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    for (line = buf; *line != '\0'; line = next) {
        next = line + strcspn(line, "\n");
        if (*next == '\n')
            *next++ = '\0';
        if (line[0] == 'E') {
            say(user, line + 2);
            errors++;
        } else if (line[0] == 'W') {
            log_warn("%s", line + 2);
        }
    }
    return errors > 0 ? -EACCES : 0;
}

static void privdrop_say_stderr(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "ferryd: %s\n", line);
}

/* Adds line to the reload's problems (struct cfg_report). */
static void privdrop_say_report(void *user, const char *line)
{
    struct cfg_report *r = user;
    int n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "%s\n", line);

    if (n > 0)
        r->len = r->len + (size_t)n < sizeof(r->text) ? r->len + (size_t)n : sizeof(r->text) - 1;
}

/* Hands the log file open on fd (at path) to the serving processes' user,
 * so that they may reopen it by path: nginx's way. Only a regular file
 * that path names directly and alone: never a file that a symbolic link
 * or a second name, planted where the master writes its logs, would make
 * it give away. */
static void privdrop_own_log(int fd, const char *path)
{
    struct stat fst, lst;

    if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) /* a pipe, a terminal: nothing to reopen */
        return;
    if (fst.st_uid == privdrop_who.uid && (fst.st_mode & S_IWUSR))
        return;
    if (lstat(path, &lst) < 0 || !S_ISREG(lst.st_mode) || lst.st_dev != fst.st_dev ||
        lst.st_ino != fst.st_ino || fst.st_nlink != 1) {
        log_warn("%s is a symbolic link or has another name: it is not handed to %s, who cannot "
                 "reopen it after a rotation (docs/SECURITY.md)",
                 path, privdrop_who.user);
        return;
    }
    /* The mode first: once the file is the user's, a master without
     * CAP_FOWNER may no longer change it. */
    if (((fst.st_mode & (S_IRUSR | S_IWUSR)) != (S_IRUSR | S_IWUSR) &&
         fchmod(fd, (fst.st_mode & 07777) | S_IRUSR | S_IWUSR) < 0) ||
        fchown(fd, privdrop_who.uid, (gid_t)-1) < 0)
        log_warn("cannot hand %s to %s: %s: the workers cannot reopen it after a rotation", path,
                 privdrop_who.user, strerror(errno));
}

static void privdrop_own_logs(void)
{
    const struct config *cfg = privdrop_cfg;

    if (!privdrop_who.change)
        return;
    if (cfg->log_file != NULL)
        privdrop_own_log(STDERR_FILENO, cfg->log_file); /* log_open_file() put it there */
    if (cfg->access_log != NULL && strcmp(cfg->access_log, "-") != 0 && access_fd() >= 0)
        privdrop_own_log(access_fd(), cfg->access_log);
}

void privdrop_logs_reopened(void)
{
    if (privdrop_cfg != NULL)
        privdrop_own_logs();
}

/* The master's effective IDs and dumpable flag while it acts as the
 * serving user (privdrop_act_as_serving()). */
static struct {
    bool on;
    uid_t euid;
    gid_t egid;
    int dumpable;
} privdrop_acting;

int privdrop_act_as_serving(void)
{
    if (!privdrop_who.change || privdrop_acting.on)
        return 0;
    privdrop_acting.euid = geteuid();
    privdrop_acting.egid = getegid();
    privdrop_acting.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (setresgid((gid_t)-1, privdrop_who.gid, (gid_t)-1) < 0)
        return -errno;
    if (setresuid((uid_t)-1, privdrop_who.uid, (uid_t)-1) < 0) {
        int rc = -errno;

        (void)setresgid((gid_t)-1, privdrop_acting.egid, (gid_t)-1);
        return rc;
    }
    privdrop_acting.on = true;
    return 0;
}

void privdrop_act_as_master(void)
{
    if (!privdrop_acting.on)
        return;
    /* The saved IDs are the master's own: going back needs no privilege
     * and cannot fail; the effective capabilities return with the uid. */
    if (setresuid((uid_t)-1, privdrop_acting.euid, (uid_t)-1) < 0 ||
        setresgid((gid_t)-1, privdrop_acting.egid, (gid_t)-1) < 0)
        log_error("cannot take back the master's own identity: %s", strerror(errno));
    /* A change of effective ID reset it (prctl(2)); as it was. */
    if (privdrop_acting.dumpable >= 0)
        (void)prctl(PR_SET_DUMPABLE, privdrop_acting.dumpable, 0, 0, 0);
    privdrop_acting.on = false;
}

/* Drops from the bounding set what keep lacks. Returns 0, or -errno of
 * the first drop refused (without CAP_SETPCAP: the rest are tried). */
static int privdrop_bounding(uint64_t keep)
{
    int rc = 0;

    for (int cap = 0;; cap++) {
        int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

        if (in < 0) /* past the kernel's last capability */
            break;
        if (in == 1 && !(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
            rc == 0)
            rc = -errno;
    }
    return rc;
}

/* Reduces the master's capabilities, and its bounding set, to
 * privdrop_master_caps. The sets it holds are reduced whatever the
 * bounding set allowed. Returns 0 or the first -errno. */
static int privdrop_master_reduce(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    uint64_t keep = 0, permitted;
    int rc;

    for (size_t i = 0; i < sizeof(privdrop_master_caps) / sizeof(privdrop_master_caps[0]); i++)
        keep |= 1ULL << privdrop_master_caps[i];
    rc = privdrop_bounding(keep);
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before 4.3 */
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
    keep &= permitted; /* capset may only take away */
    memset(d, 0, sizeof(d));
    d[0].effective = d[0].permitted = (uint32_t)keep;
    d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
    if (syscall(SYS_capset, &h, d) < 0)
        return -errno;
    return rc;
}

/* Says who serves, and warns for root. */
static void privdrop_log_user(const struct config *cfg, bool root)
{
    const char *who = cfg->mode == MODE_ITERATIVE ? "the server runs"
                      : cfg->hub_db != NULL       ? "the workers and the hub run"
                                                  : "the workers run";
    const struct privdrop_user *u = &privdrop_who;

    if (!root)
        log_debug("%s as %s (ferryd was not started as root: no privilege change)", who, u->user);
    else if (!u->change)
        log_warn("--user %s: %s as root, on purpose: only Landlock and seccomp confine them; a "
                 "user of their own is safer (docs/SECURITY.md)",
                 u->user, who);
    else
        log_info("%s as %s:%s%s%s", who, u->user, u->group,
                 cfg->mode == MODE_ITERATIVE ? " once its sockets are bound" : "",
                 u->fallback ? " (no '" PRIVDROP_DEFAULT_USER "' user)" : "");
}

/* Says how the serving processes are confined. */
static void privdrop_log_sandbox(const struct config *cfg, const struct sandbox_status *st)
{
    if (st->landlock_abi > 0)
        log_info("sandbox: Landlock ABI %d", st->landlock_abi);
    else
        log_warn("sandbox: Landlock is unavailable (%s): the served directory is confined by "
                 "openat2() beneath it alone",
                 strerror(st->landlock_err));
    if (cfg->no_seccomp)
        log_warn("sandbox: the seccomp allow-list is off (--no-seccomp)");
    else if (!st->seccomp)
        log_warn("sandbox: seccomp filters are unavailable (%s): no allow-list",
                 strerror(st->seccomp_err));
    else
        log_info("sandbox: seccomp allow-lists of %u (worker), %u (hub), %u (iterative) system "
                 "calls",
                 st->calls[SANDBOX_WORKER], st->calls[SANDBOX_HUB], st->calls[SANDBOX_ITERATIVE]);
}

/* What a resolution in a child sends back. */
struct privdrop_answer {
    int rc;
    struct privdrop_user who;
    char err[256];
};

/* Reads all of len bytes from fd. Returns 0 or -1. */
static int privdrop_read_all(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, (char *)buf + got, len - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* privdrop_resolve() in a short-lived child: the name service modules it
 * loads (libnss_systemd and the like, about 150 KiB) never enter the
 * master, which lives for months and whose pages every child shares.
 * Where the child cannot be made, here. */
static void privdrop_resolve_apart(const struct config *cfg, struct privdrop_answer *a)
{
    int pipefd[2], wstatus;
    bool ok;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        goto here;
    if ((pid = fork()) < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        goto here;
    }
    if (pid == 0) {
        close(pipefd[0]);
        a->rc = privdrop_resolve(cfg->user, cfg->group, geteuid(), getegid(), &a->who, a->err,
                                 sizeof(a->err));
        _exit(write(pipefd[1], a, sizeof(*a)) == (ssize_t)sizeof(*a) ? 0 : 1);
    }
    close(pipefd[1]);
    ok = privdrop_read_all(pipefd[0], a, sizeof(*a)) == 0;
    close(pipefd[0]);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (ok)
        return;
here:
    a->rc = privdrop_resolve(cfg->user, cfg->group, geteuid(), getegid(), &a->who, a->err,
                             sizeof(a->err));
}

int privdrop_init(const struct config *cfg)
{
    struct privdrop_answer a = {.rc = -EIO};

    privdrop_resolve_apart(cfg, &a);
    privdrop_who = a.who;
    if (a.rc < 0) {
        fprintf(stderr, "ferryd: %s\n", a.err);
        return -EINVAL;
    }
    privdrop_cfg = cfg;
    privdrop_master = getpid();
    return 0;
}

/* What the serving processes of cfg may reach (dirfd: its directory). */
static struct sandbox_plan privdrop_plan(const struct config *cfg, int dirfd)
{
    return (struct sandbox_plan){.dirfd = dirfd,
                                 .uploads = cfg->hub_db != NULL,
                                 .log_file = cfg->log_file,
                                 .access_log = cfg->access_log,
                                 .hub_db = cfg->hub_db,
                                 .admin_socket = privdrop_admin_path,
                                 .seccomp = !cfg->no_seccomp,
                                 .master = getpid()};
}

int privdrop_prepare(const struct config *cfg, int dirfd, const char *admin_path)
{
    struct sandbox_plan plan;
    struct sandbox_status st;
    bool root = geteuid() == 0;
    int rc;

    privdrop_admin_path = admin_path;
    plan = privdrop_plan(cfg, dirfd);
    if (getenv("FERRY_TEST_HOOK") != NULL)
        log_warn("FERRY_TEST_HOOK=%s: the serving processes run this test hook (docs/SECURITY.md)",
                 getenv("FERRY_TEST_HOOK"));
    if (privdrop_who.change) {
        privdrop_own_logs();
        if ((rc = privdrop_probe(cfg, dirfd, privdrop_say_stderr, NULL)) < 0) {
            if (rc != -EACCES)
                fprintf(stderr, "ferryd: cannot check what the workers may reach: %s\n",
                        strerror(-rc));
            return rc;
        }
    }
    if ((rc = sandbox_init(&plan, &st)) < 0) {
        fprintf(stderr, "ferryd: cannot build the seccomp allow-list: %s\n", strerror(-rc));
        return rc;
    }
    privdrop_log_user(cfg, root);
    privdrop_log_sandbox(cfg, &st);
    /* Iterative mode's one process drops everything once it is serving. */
    if (!root || cfg->mode == MODE_ITERATIVE)
        return 0;
    if ((rc = privdrop_master_reduce()) < 0)
        log_warn("cannot reduce the master's capabilities: %s", strerror(-rc));
    return 0;
}

int privdrop_enter(enum sandbox_role role, _Atomic int32_t *violation)
{
    const char *what;
    int rc;

    if (privdrop_who.change && (rc = privdrop_become(&privdrop_who, &what)) < 0) {
        log_error("cannot drop privileges to %s:%s: %s: %s: not serving", privdrop_who.user,
                  privdrop_who.group, what, strerror(-rc));
        return -1;
    }
    /* The kernel forgets the parent-death signal (master/proc.h) when the
     * credentials change: armed again, then the master checked alive, as
     * after the fork. */
    if (privdrop_who.change && role != SANDBOX_ITERATIVE &&
        (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != privdrop_master)) {
        log_error("the master is gone, or its death cannot be followed: not serving");
        return -1;
    }
    if (sandbox_enter(role, violation) < 0)
        return -1;
    sandbox_test_hook(role);
    return 0;
}

bool privdrop_reaped(struct scoreboard *sb, int slot, pid_t pid, int wstatus, const char *kind)
{
    int32_t nr;
    char name[64];

    if (!WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGSYS)
        return false;
    nr = atomic_load(sb_violation(sb, slot));
    sb->pool.violations++;
    if (nr >= 0)
        log_error("policy violation: %s %ld called %s (%d): killed", kind, (long)pid,
                  sandbox_syscall_name(nr, name, sizeof(name)), (int)nr);
    else
        log_error("policy violation: %s %ld was killed by SIGSYS, the call unknown (another "
                  "architecture's, or made while SIGSYS was blocked)",
                  kind, (long)pid);
    return true;
}

int privdrop_reload_check(const struct config *next, int dirfd, struct cfg_report *problems)
{
    if (privdrop_cfg == NULL || !privdrop_who.change)
        return 0;
    return privdrop_probe(next, dirfd, privdrop_say_report, problems);
}

void privdrop_reload_commit(const struct config *cfg, int dirfd)
{
    struct sandbox_plan plan;

    if (privdrop_cfg == NULL)
        return;
    plan = privdrop_plan(cfg, dirfd);
    sandbox_replan(&plan);
    privdrop_own_logs(); /* a new access log: theirs to reopen */
}
