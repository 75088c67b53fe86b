/*
 * ferryd: the file-distribution daemon's entry point. Parses the command
 * line, opens the served directory and the listeners, creates the
 * scoreboard, then hands over to the pool (fork, prefork) or serves alone
 * (iterative).
 */
#include "common/addr.h"
#include "common/log.h"
#include "common/scoreboard.h"
#include "master/admin.h"
#include "master/config.h"
#include "master/listen.h"
#include "master/pool.h"
#include "master/proc.h"
#include "worker/access.h"
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
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
        .serve = {.env = cfg_conn_env(cfg), .lfds = ls->fds, .nlfds = ls->n},
        .standalone = true,
        .shutdown_timeout = cfg->shutdown_timeout,
    };
    int slot = sb_claim(sb, SB_KIND_WORKER), rc;

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
    rc = admin_thread_start(&at, admin_path, admin_group, cfg, sb, ls, &iterative_admin_ops, NULL);
    if (rc < 0) {
        log_error("cannot open the admin socket %s: %s", admin_path, admin_strerror(rc));
        return -1;
    }
    log_info("admin socket %s", admin_path);
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
    fprintf(stderr, "ferryd: cannot listen on %s: %s%s\n", where,
            rc == -EHOSTUNREACH ? "cannot resolve the address"
            : rc == -EADDRINUSE ? "address already in use"
            : rc == -EMFILE     ? "too many listeners"
                                : strerror(-rc),
            rc == -EADDRINUSE && dual_stack_listener(cfg)
                ? " (\"::\" serves IPv4 too: with 0.0.0.0 on the same port, add --ipv6-only)"
                : "");
}

/* Opens the listeners cfg names. Returns 0, or -errno after saying why
 * (the listeners opened so far are then closed). */
static int open_listeners(const struct config *cfg, struct listeners *ls)
{
    struct lsn_options lo = {.backlog = cfg->backlog,
                             .defer_accept = cfg->request_timeout,
                             .ipv6_only = cfg->ipv6_only,
                             .sndbuf = cfg->sndbuf};
    char where[ADDR_HOST_MAX + 32];
    int rc;

    for (unsigned i = 0; i < cfg->nlisten; i++) {
        const struct cfg_listen *l = &cfg->listen[i];

        /* A silent connection waits in the kernel for as long as its
         * first request may take. */
        lo.defer_accept = l->proto == PROTO_HTTP ? cfg->header_timeout : cfg->request_timeout;
        rc = lsn_open(ls, l->proto, l->host, l->port, &lo, where, sizeof(where));

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

int main(int argc, char **argv)
{
    struct listeners ls = {.n = 0};
    struct scoreboard *sb = NULL;
    struct config cfg;
    char admin_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    gid_t admin_group;
    int dirfd = -1, rc;

    proc_block_signals();        /* until the handlers exist: proc.h */
    proc_title_init(argc, argv); /* before anything keeps a pointer into argv */
    rc = cfg_parse(argc, argv, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_set_level(cfg.log_level);
    if (cfg.log_file != NULL && (rc = log_open_file(cfg.log_file)) < 0) {
        fprintf(stderr, "ferryd: cannot open the log file %s: %s\n", cfg.log_file, strerror(-rc));
        goto out;
    }
    if (admin_group_of(cfg.admin_group, &admin_group) < 0) {
        rc = 2;
        goto out;
    }
    if (cfg.access_log != NULL && (rc = access_open(cfg.access_log)) < 0) {
        fprintf(stderr, "ferryd: cannot open the access log %s: %s\n", cfg.access_log,
                strerror(-rc));
        goto out;
    }
    dirfd = open(cfg.directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fprintf(stderr, "ferryd: cannot serve directory '%s': %s\n", cfg.directory,
                strerror(errno));
        rc = -1;
        goto out;
    }
    if ((rc = open_listeners(&cfg, &ls)) < 0)
        goto out;
    rc = admin_path_of(&cfg, &ls, admin_path, sizeof(admin_path));
    if (rc < 0) {
        fprintf(stderr, "ferryd: admin socket path: %s\n", strerror(-rc));
        goto out;
    }
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
    if (cfg.mode != MODE_ITERATIVE)
        proc_set_title("master %s %s", ls.names[0], cfg.directory); /* which one, in ps */
    sb->pool.started_unix = time(NULL);
    sb->pool.started_ns = clock_now_ns();
    if (cfg.mode == MODE_ITERATIVE)
        rc = run_iterative(&cfg, sb, &ls, dirfd, admin_path, admin_group);
    else
        rc = pool_run(&cfg, sb, &ls, dirfd, admin_path, admin_group);
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
    if (dirfd >= 0)
        close(dirfd);
    cfg_free(&cfg);
    return rc < 0 ? 1 : rc;
}
