/*
 * ferryd: the file-distribution daemon's entry point. Parses the command
 * line, opens the served directory and the listeners, creates the
 * scoreboard, then hands over to the pool (fork, prefork) or serves alone
 * (iterative).
 */
#include "common/addr.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/scoreboard.h"
#include "master/admin.h"
#include "master/config.h"
#include "master/listen.h"
#include "master/pool.h"
#include "master/privdrop.h"
#include "master/proc.h"
#include "master/upgrade.h"
#include "worker/access.h"
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static enum admin_state iterative_state(void *ctx)
{
    (void)ctx;
    return worker_stop_requested() ? ADMIN_STOPPING : ADMIN_RUNNING;
}

static void iterative_shutdown(void *ctx, bool graceful, int timeout_s)
{
    (void)ctx;
    worker_request_stop(graceful, timeout_s);
}

/* One process: reopening here (dup2 onto stderr) serves both threads. */
static int iterative_reopen_logs(void *ctx)
{
    (void)ctx;
    return worker_logs_reopen();
}

static unsigned iterative_stop_timeout(void *ctx)
{
    (void)ctx;
    return worker_stop_timeout();
}

static unsigned iterative_target(void *ctx)
{
    (void)ctx;
    return 1;
}

/* No resize: one process is the whole server. */
static const struct admin_ops iterative_admin_ops = {
    .state = iterative_state,
    .shutdown = iterative_shutdown,
    .stop_timeout = iterative_stop_timeout,
    .reopen_logs = iterative_reopen_logs,
    .target = iterative_target,
};

/* Iterative mode: this process is the only server, one client at a time;
 * its admin socket runs in a thread of its own. Returns the exit code, or
 * -1 when it could not start (logged). */
static int run_iterative(const struct config *cfg, struct scoreboard *sb, struct listeners *ls,
                         int dirfd, const char *admin_path, gid_t admin_group)
{
    struct admin_thread at;
    struct worker_config wc = {
        .lfds = ls->fds,
        .protos = ls->proto,
        .nlfds = ls->n,
        .serve = {.env = cfg_conn_env(cfg, ls->proto, ls->n), .lfds = ls->fds, .nlfds = ls->n},
        .standalone = true,
        .shutdown_timeout = cfg->shutdown_timeout,
        .doorbell = -1,
    };
    int slot = sb_claim(sb, SB_KIND_WORKER), rc;
    bool confined;

    if (slot < 0) { /* a scoreboard has at least one slot: cannot happen */
        log_error("scoreboard: %s", strerror(-slot));
        return -1;
    }
    wc.serve.env.dirfd = dirfd;
    wc.serve.env.sb = sb;
    wc.serve.env.report = worker_report;
    wc.serve.env.slot = &sb->slots[slot];
    wc.serve.env.recs = sb_rec(sb, slot, 0);
    sb->pool.target = 1;
    proc_set_title("iterative server %s %s", ls->names[0], cfg->directory);
    if ((rc = worker_signals_init(&wc)) < 0) {
        log_error("signals: %s", strerror(-rc));
        return -1;
    }
    proc_unblock_signals(); /* a stop sent while starting is handled now */
    /* A stop cuts a request still arriving; the abort flag makes a second
     * signal or the deadline cut a transfer. */
    wc.serve.stop = worker_stop_flag();
    wc.serve.wake_fd = worker_wake_fd_get();
    wc.serve.abort = worker_abort_flag();
    rc = admin_thread_open(&at, admin_path, admin_group, cfg, sb, ls, &iterative_admin_ops, NULL);
    if (rc < 0) {
        log_error("cannot open the admin socket %s: %s", admin_path, admin_strerror(rc));
        return -1;
    }
    /* Its sockets bound, this process drops and confines itself before
     * the admin thread starts, which inherits all of it. */
    confined = privdrop_enter(SANDBOX_ITERATIVE, sb_violation(sb, slot)) == 0;
    if ((rc = admin_thread_run(&at, confined)) < 0) {
        if (confined) /* else privdrop_enter() said why */
            log_error("cannot start the admin socket's thread: %s", strerror(-rc));
        return -1;
    }
    log_info("admin socket %s", admin_path);
    notify_ready();
    rc = worker_run(&wc);
    admin_thread_stop(&at);
    return rc;
}

/* The final summary: every connection, including reaped children's. */
static void log_totals(const struct scoreboard *sb, int rc)
{
    struct sb_totals t;

    if (sb_totals(sb, &t) < 0)
        return;
    log_info("stopped%s: %llu connections, %llu requests, %llu bytes sent, %llu worker exits, "
             "%llu crashes, %llu kills",
             rc ? " (children killed or transfers cut)" : "", (unsigned long long)t.c.connections,
             (unsigned long long)t.c.requests, (unsigned long long)t.c.bytes,
             (unsigned long long)t.worker_exits, (unsigned long long)t.crashes,
             (unsigned long long)t.kills);
}

/* Resolves --admin-group. Returns 0 with *gid ((gid_t)-1 for none), or -1. */
static int admin_group_of(const char *name, gid_t *gid)
{
    struct group *g;

    *gid = (gid_t)-1;
    if (name == NULL)
        return 0;
    g = getgrnam(name);
    if (g == NULL) {
        fprintf(stderr, "ferryd: --admin-group: no group '%s'\n", name);
        return -1;
    }
    *gid = g->gr_gid;
    return 0;
}

/* --admin-socket, or the default derived from the first listener's port. */
static int admin_path_of(const struct config *cfg, const struct listeners *ls, char *buf,
                         size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (cfg->admin_socket != NULL)
        return snprintf(buf, len, "%s", cfg->admin_socket) < (int)len ? 0 : -ENAMETOOLONG;
    if (getsockname(ls->fds[0], (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    return admin_default_path(buf, len, addr_port((struct sockaddr *)&ss));
}

/*
 * Event mode: a worker holds --worker-connections sockets and, while it
 * sends, a file each, plus its own few. The soft descriptor limit (1024 by
 * default) is raised as far as that needs and the hard limit allows;
 * short of it, the worker pauses accepting at the limit (logged), which
 * is safe but worth a warning now.
 */
static void raise_nofile(const struct config *cfg)
{
    rlim_t need = (rlim_t)cfg->worker_connections * 2 + 64;
    struct rlimit r;

    if (cfg->mode != MODE_EVENT || getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur >= need)
        return;
    r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max >= need ? need : r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur < need)
        log_warn("descriptor limit %llu is below the %llu that --worker-connections %u needs: "
                 "a worker will pause accepting at the limit (raise ulimit -n)",
                 (unsigned long long)r.rlim_cur, (unsigned long long)need, cfg->worker_connections);
}

static void log_listeners(const struct listeners *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        log_info("listening on %s=%s", proto_name(ls->proto[i]), ls->names[i]);
    for (size_t i = 0; i < ls->nweb; i++)
        log_info("listening on metrics=%s (served by the master)", ls->web_names[i]);
    for (size_t i = 0; i < ls->nhub; i++)
        log_info("listening on hub=%s (UDP, served by the hub)", ls->hub_names[i]);
}

/* True when a listener on "::" serves IPv4 too, and so may collide with
 * an IPv4 one. */
static bool dual_stack_listener(const struct config *cfg)
{
    for (unsigned i = 0; i < cfg->nlisten && !cfg->ipv6_only; i++) {
        if (strcmp(cfg->listen[i].host, "::") == 0)
            return true;
    }
    return false;
}

/* Says why a listener could not be opened. */
static void listen_failed(const struct config *cfg, const char *where, int rc)
{
    fprintf(stderr, "ferryd: cannot listen on %s: %s%s\n", where, lsn_strerror(rc),
            rc == -EADDRINUSE && dual_stack_listener(cfg)
                ? " (\"::\" serves IPv4 too: with 0.0.0.0 on the same port, add --ipv6-only)"
                : "");
}

/* Adopts the sockets handed down for key (a binary upgrade: the master
 * this one replaces opened them), taking them out of inh. Returns how many
 * (0: none), or -EMFILE. */
static int adopt_listeners(struct listeners *ls, enum proto proto, const char *key,
                           struct upgrade_fd *inh, size_t ninh)
{
    int n = 0;

    for (size_t i = 0; i < ninh; i++) {
        if (inh[i].fd < 0 || strcmp(inh[i].name, key) != 0)
            continue;
        if (lsn_adopt(ls, proto, inh[i].fd, key) < 0)
            return -EMFILE;
        inh[i].fd = -1;
        n++;
    }
    return n;
}

/* Opens the listeners cfg names, or adopts those handed down in inh.
 * Returns 0, or -errno after saying why (the listeners opened so far are
 * then closed). */
static int open_listeners(const struct config *cfg, struct listeners *ls, struct upgrade_fd *inh,
                          size_t ninh)
{
    char where[LSN_KEY_MAX + 32], key[LSN_KEY_MAX];
    int rc;

    for (unsigned i = 0; i < cfg->nlisten; i++) {
        const struct cfg_listen *l = &cfg->listen[i];
        struct lsn_options lo = cfg_lsn_options(cfg, l->proto);

        rc = adopt_listeners(ls, l->proto, lsn_key(l->proto, l->host, l->port, key), inh, ninh);
        if (rc == 0)
            rc = lsn_open(ls, l->proto, l->host, l->port, &lo, where, sizeof(where));
        else if (rc < 0)
            snprintf(where, sizeof(where), "%s (handed down)", key);

        if (rc < 0) {
            listen_failed(cfg, where, rc);
            lsn_close(ls);
            lsn_close_web(ls);
            lsn_close_hub(ls);
            return rc;
        }
    }
    if ((rc = lsn_open_hub_ipc(ls)) < 0) {
        fprintf(stderr, "ferryd: cannot make the channel to the hub: %s\n", strerror(-rc));
        lsn_close(ls);
        lsn_close_web(ls);
        lsn_close_hub(ls);
        return rc;
    }
    if (ls->n == 0) { /* the admin socket's default name needs a served port too */
        fprintf(stderr, "ferryd: nothing to serve: add a --listen native=... or http=...%s\n",
                ls->nhub > 0 ? " (the hub's files travel over the native protocol)" : "");
        lsn_close_web(ls);
        lsn_close_hub(ls);
        return -EINVAL;
    }
    return 0;
}

/* -t: every listener's address resolves (it is not bound: the server
 * being checked may hold it). Returns 0 or -1 after saying which. */
static int test_listeners(const struct config *cfg)
{
    int rc = 0;

    for (unsigned i = 0; i < cfg->nlisten; i++) {
        const struct cfg_listen *l = &cfg->listen[i];
        struct addrinfo *res = NULL;

        if (addr_resolve_type(l->host, l->port, true,
                              proto_datagram(l->proto) ? SOCK_DGRAM : SOCK_STREAM, &res) != 0) {
            fprintf(stderr, "ferryd: listen: %s=%s: cannot resolve the address\n",
                    proto_name(l->proto), l->host);
            rc = -1;
        }
        if (res != NULL)
            freeaddrinfo(res);
    }
    return rc;
}

/* -t: what the configuration names must exist too (nginx -t opens its
 * files): the directory, the admin group, the listeners' addresses.
 * Returns the exit code. */
static int test_config(const struct config *cfg)
{
    int fd = open(cfg->directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    gid_t gid;

    if (fd < 0) {
        fprintf(stderr, "ferryd: cannot serve directory '%s': %s\n", cfg->directory,
                strerror(errno));
        return 1;
    }
    close(fd);
    if (admin_group_of(cfg->admin_group, &gid) < 0 || privdrop_init(cfg) < 0 ||
        test_listeners(cfg) < 0)
        return 1;
    printf("ferryd: the configuration%s%s is valid\n", cfg->config_file ? " in " : "",
           cfg->config_file ? cfg->config_file : "");
    return 0;
}

/* A binary upgrade: what the master this one replaces handed down
 * (master/upgrade.h), taken before anything else reads the environment.
 * Returns how many descriptors. */
static size_t inherit(struct upgrade_fd *inh, int *channel)
{
    long n = upgrade_inherited(inh, UPGRADE_FDS_MAX, channel);

    if (n < 0) {
        fprintf(stderr, "ferryd: LISTEN_FDS/LISTEN_FDNAMES are malformed: ignored\n");
        return 0;
    }
    return (size_t)n;
}

/* An upgrade keeps the admin socket it was handed, at the path the master
 * before bound it: a configuration naming another (or a default derived
 * from another first listener) is refused, as a reload refuses it, rather
 * than answering where nobody looks. Returns 0 or -1 after saying why. */
static int admin_same_path(int fd, const char *path)
{
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);

    if (fd < 0 || getsockname(fd, (struct sockaddr *)&sun, &len) < 0 ||
        len <= offsetof(struct sockaddr_un, sun_path))
        return 0;
    sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
    if (strcmp(sun.sun_path, path) == 0)
        return 0;
    fprintf(stderr,
            "ferryd: admin-socket: %s -> %s cannot change across an upgrade (the socket is "
            "handed down): restart ferryd to move it\n",
            sun.sun_path, path);
    return -1;
}

/* What was handed down fits the configuration's mode. */
static void inherit_check(const struct config *cfg, size_t n)
{
    if (n > 0 && cfg->mode == MODE_ITERATIVE) {
        fprintf(stderr, "ferryd: an upgrade cannot start iterative mode, which has no master to "
                        "hand over to: restart instead\n");
        exit(2);
    }
}

/* What was handed down and is not a listener any more: the admin socket
 * (returned, or -1), and listeners the configuration dropped, into
 * dropped (the master before still accepts from them: they are shut down
 * once this one took over). */
static int inherited_rest(struct upgrade_fd *inh, size_t n, int *dropped, size_t *ndropped)
{
    int admin = -1;

    *ndropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (inh[i].fd < 0)
            continue;
        if (strcmp(inh[i].name, UPGRADE_ADMIN_NAME) == 0 && admin < 0) {
            admin = inh[i].fd;
            continue;
        }
        log_info("upgrade: %s is no longer configured: shut once this master took over",
                 inh[i].name);
        dropped[(*ndropped)++] = inh[i].fd;
    }
    return admin;
}

int main(int argc, char **argv)
{
    static char log_path[PATH_MAX];
    static struct upgrade_fd inh[UPGRADE_FDS_MAX];
    static int dropped[UPGRADE_FDS_MAX];
    struct listeners ls = {.n = 0};
    struct scoreboard *sb = NULL;
    struct config cfg;
    struct pool_start st = {.dirfd = -1, .admin_fd = -1, .upgrade_fd = -1};
    char admin_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t ninh;
    int rc;

    proc_block_signals();      /* until the handlers exist: proc.h */
    upgrade_exe_init(argv[0]); /* the path this binary was started from */
    /* Before the environment is copied for the title: the variables it
     * removes would leave copies nobody points to. */
    ninh = inherit(inh, &st.upgrade_fd);
    proc_title_init(argc, argv); /* before anything keeps a pointer into argv */
    rc = cfg_parse(argc, argv, &cfg);
    if (rc != 0) /* -t says invalid with 1, as nginx -t does; otherwise a usage error */
        return rc > 0 ? 0 : cfg.test_only ? 1 : 2;
    if (cfg.test_only) {
        rc = test_config(&cfg);
        cfg_free(&cfg);
        return rc;
    }
    inherit_check(&cfg, ninh);
    log_set_level(cfg.log_level);
    /* The logger keeps the path to reopen it by: a copy, since a reload
     * replaces the configuration that holds the original. */
    snprintf(log_path, sizeof(log_path), "%s", cfg.log_file ? cfg.log_file : "");
    if (cfg.log_file != NULL && (rc = log_open_file(log_path)) < 0) {
        fprintf(stderr, "ferryd: cannot open the log file %s: %s\n", cfg.log_file, strerror(-rc));
        goto out;
    }
    if (admin_group_of(cfg.admin_group, &st.admin_group) < 0 || privdrop_init(&cfg) < 0) {
        rc = 2;
        goto out;
    }
    if (cfg.access_log != NULL && (rc = access_open(cfg.access_log)) < 0) {
        fprintf(stderr, "ferryd: cannot open the access log %s: %s\n", cfg.access_log,
                strerror(-rc));
        goto out;
    }
    st.dirfd = open(cfg.directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (st.dirfd < 0) {
        fprintf(stderr, "ferryd: cannot serve directory '%s': %s\n", cfg.directory,
                strerror(errno));
        rc = -1;
        goto out;
    }
    if ((rc = open_listeners(&cfg, &ls, inh, ninh)) < 0)
        goto out;
    st.admin_fd = inherited_rest(inh, ninh, dropped, &st.ndropped);
    st.dropped = dropped;
    st.admin_path = admin_path;
    rc = admin_path_of(&cfg, &ls, admin_path, sizeof(admin_path));
    if (rc < 0) {
        fprintf(stderr, "ferryd: admin socket path: %s\n", strerror(-rc));
        goto out;
    }
    if ((rc = admin_same_path(st.admin_fd, admin_path)) < 0)
        goto out;
    sb = sb_create(cfg.max_children, cfg.mode == MODE_EVENT ? cfg.worker_connections : 1);
    if (sb == NULL) {
        fprintf(stderr, "ferryd: cannot create the scoreboard: %s\n", strerror(errno));
        rc = -1;
        goto out;
    }
    log_info("ferryd %s starting: mode %s, directory %s, workers %u, max-children %u",
             FERRY_VERSION, cfg_mode_name(cfg.mode), cfg.directory,
             cfg.mode == MODE_ITERATIVE ? 1 : cfg.workers, cfg.max_children);
    log_listeners(&ls);
    raise_nofile(&cfg);
    if ((rc = privdrop_prepare(&cfg, st.dirfd, admin_path)) < 0)
        goto out;
    if (cfg.mode != MODE_ITERATIVE)
        proc_set_title("master %s %s", ls.names[0], cfg.directory); /* which one, in ps */
    sb->pool.started_unix = time(NULL);
    sb->pool.started_ns = clock_now_ns();
    if (cfg.mode == MODE_ITERATIVE)
        rc = run_iterative(&cfg, sb, &ls, st.dirfd, admin_path, st.admin_group);
    else
        rc = pool_run(&cfg, sb, &ls, &st);
    /* Stopped: a stop signal arriving while this process tears down (the
     * handlers are gone) must not turn its exit code into a signal's. */
    proc_block_signals();
    if (rc >= 0) /* a server that never started has nothing to sum up */
        log_totals(sb, rc);
out:
    lsn_close(&ls);
    lsn_close_web(&ls);
    lsn_close_hub(&ls);
    sb_destroy(sb);
    if (st.dirfd >= 0) /* the pool's last, after a reload changed it */
        close(st.dirfd);
    cfg_free(&cfg);
    return rc < 0 ? 1 : rc;
}
