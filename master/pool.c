/*
 * pool: the master's supervision of its children (fork, prefork and event
 * pools), through a table of process kinds. See pool.h.
 *
 * Everything happens in libuv callbacks on one thread, so the pool state
 * needs no locking. The scoreboard decides whether a child may be forked:
 * a child holds its slot until the master reaps it, so counting unreaped
 * children against the limit means there are never more than the limit.
 */
#include "master/pool.h"
#include "master/pool_int.h"
#include "master/poolup.h"

#include "common/addr.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/rand.h"
#include "master/admin.h"
#include "master/privdrop.h"
#include "master/proc.h"
#include "worker/access.h"

#include "worker/event.h"
#include "worker/hub/hub.h"
#include "worker/put.h"
#include "worker/worker.h"
#include <inttypes.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define POOL_ACCEPT_BATCH    64  /* accepts per wake-up before yielding */
#define POOL_SPAWN_BATCH     16  /* forks in one go when growing... */
#define POOL_SPAWN_PAUSE_MS  10  /* ...then a pause: no fork storm */
#define POOL_ACCEPT_PAUSE_MS 100 /* fork mode, out of descriptors: retry after */

/* Sends an event with fields packed from fmt (json_pack), building it
 * only when someone follows the events. */
/* Sends an event with fields packed from fmt (json_pack), building it
 * only when someone follows the events. */
static void pool_event(struct pool *p, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (!admin_wants_events(&p->admin))
        return;
    va_start(ap, fmt);
    admin_event(&p->admin, name, json_vpack_ex(NULL, 0, fmt, ap));
    va_end(ap);
}

/* How often an idle event worker's loop turns: a few times per
 * --stall-timeout, so that only a stuck loop misses it; a second at most. */
static int pool_beat_ms(const struct config *cfg)
{
    unsigned ms = cfg->stall_timeout * 1000 / 4;

    return cfg->stall_timeout == 0 || ms > 1000 ? 1000 : ms < 50 ? 50 : (int)ms;
}

/* In the child: serve, then leave without returning into the loop. A
 * fork-mode child serves conn, accepted at accepted_ns. */
static void pool_child(struct pool *p, int slot, int conn, unsigned listener,
                       const struct sockaddr_storage *peer, int64_t accepted_ns)
{
    struct worker_config wc = {
        .lfds = p->ls->fds,
        .protos = p->ls->proto,
        .nlfds = p->ls->n,
        .serve = {.env = cfg_conn_env(p->cfg, p->ls->proto, p->ls->n),
                  .lfds = p->ls->fds,
                  .nlfds = p->ls->n,
                  .rank = (unsigned)slot},
        .event = p->cfg->mode == MODE_EVENT,
        .doorbell = conn < 0 ? p->doorbell[1] : -1,
    };
    uint32_t draw = 0; /* rand_u32() failing leaves it 0: the limit without jitter */
    int rc = 0;

    if (conn < 0 && p->cfg->max_requests > 0) {
        (void)rand_u32(&draw);
        wc.max_conns = cfg_max_requests_limit(p->cfg, draw);
    }
    wc.serve.env.dirfd = p->dirfd;
    wc.serve.env.hub_fd = p->ls->hub_ipc_open ? p->ls->hub_ipc[1] : -1;
    wc.serve.env.sb = p->sb;
    wc.serve.env.slot = &p->sb->slots[slot];
    wc.serve.env.recs = sb_rec(p->sb, slot, 0);
    wc.serve.env.report = worker_report;
    proc_set_title("worker %d", slot);
    if (privdrop_enter(SANDBOX_WORKER, sb_violation(p->sb, slot)) < 0)
        _exit(1);
    if (worker_signals_init(&wc) < 0)
        _exit(1);
    proc_unblock_signals(); /* a stop sent meanwhile is handled now */
    wc.serve.stop = worker_stop_flag();
    wc.serve.wake_fd = worker_wake_fd_get();
    if (conn >= 0) {
        sb_worker_start(wc.serve.env.slot, getpid());
        worker_serve_one(&wc.serve, p->ls->proto[listener], listener, conn,
                         (const struct sockaddr *)peer, accepted_ns);
        sb_set_state(wc.serve.env.slot, SB_EXITING);
    } else if (p->cfg->mode == MODE_EVENT) {
        rc = event_run(&wc, p->sb->conns_per_slot, pool_beat_ms(p->cfg));
    } else {
        rc = worker_run(&wc);
    }
    _exit(rc);
}

/* In the child: the hub, until it is stopped. */
static void pool_hub_child(struct pool *p, int slot, int conn, unsigned listener,
                           const struct sockaddr_storage *peer, int64_t accepted_ns)
{
    struct hub_config hc = {.fds = p->ls->hub_fds,
                            .nfds = p->ls->nhub,
                            .db_path = p->cfg->hub_db,
                            .plain = p->cfg->hub_plain,
                            .ipc_fd = p->ls->hub_ipc[0],
                            .session_timeout_ns = (int64_t)p->cfg->hub_session_timeout * 1000000000,
                            .test_hooks = p->cfg->hub_test_hooks,
                            .slot = &p->sb->slots[slot],
                            .figures = &p->sb->hub};

    (void)conn, (void)listener, (void)peer, (void)accepted_ns;
    proc_set_title("hub");
    if (privdrop_enter(SANDBOX_HUB, sb_violation(p->sb, slot)) < 0)
        _exit(1);
    sb_worker_start(hc.slot, getpid());
    _exit(hub_run(&hc)); /* it unblocks the signals once it handles them */
}

static const struct pool_kind_rules pool_kinds[POOL_KINDS] = {
    [POOL_WORKER] = {.name = "worker",
                     .pool = true,
                     .slot = SB_KIND_WORKER,
                     .stops_last = false,
                     .quick_death_ns = 1000000000LL,
                     .backoff_first_ms = 100,
                     .backoff_max_ms = 10000,
                     .child = pool_child},
    [POOL_HUB] = {.name = "hub",
                  .pool = false,
                  .slot = SB_KIND_HUB,
                  .stops_last = true,
                  .quick_death_ns = 1000000000LL,
                  .backoff_first_ms = 100,
                  .backoff_max_ms = 10000,
                  .child = pool_hub_child},
};

/* The pool's row: the workers. */
static struct pool_row *pool_workers(struct pool *p)
{
    return &p->rows[POOL_WORKER];
}

/*
 * Forks a child of kind into a free slot: for a worker, a prefork or
 * event worker when conn < 0, else a fork-mode child for conn (accepted
 * at accepted_ns). Returns 0, or -ENOSPC at the limit, or -errno.
 */
static int pool_spawn(struct pool *p, enum pool_kind kind, int conn, unsigned listener,
                      const struct sockaddr_storage *peer, int64_t accepted_ns)
{
    int keep[LSN_MAX + 5], slot;
    size_t nkeep = 0;
    pid_t pid;

    slot = sb_claim(p->sb, pool_kinds[kind].slot);
    if (slot < 0)
        return slot;
    /* A fork-mode child never accepts, but it watches the listeners while
     * idle on a kept-alive connection (serve.h), so it keeps them too. The
     * hub keeps its own sockets, and only those (the log is kept always). */
    if (kind == POOL_WORKER) {
        keep[nkeep++] = p->dirfd;
        if (access_fd() >= 0)
            keep[nkeep++] = access_fd();
        if (conn >= 0)
            keep[nkeep++] = conn;
        else if (p->doorbell[1] >= 0) /* a pool worker: its --max-requests limit rings it */
            keep[nkeep++] = p->doorbell[1];
        for (size_t i = 0; i < p->ls->n; i++) {
            if (p->ls->fds[i] >= 0) /* not one a reload removed */
                keep[nkeep++] = p->ls->fds[i];
        }
    }
    for (size_t i = 0; kind == POOL_HUB && i < p->ls->nhub; i++)
        keep[nkeep++] = p->ls->hub_fds[i];
    if (p->ls->hub_ipc_open) /* the workers' end, or the hub's */
        keep[nkeep++] = p->ls->hub_ipc[kind == POOL_HUB ? 0 : 1];
    pid = proc_fork(keep, nkeep);
    if (pid == 0)
        pool_kinds[kind].child(p, slot, conn, listener, peer, accepted_ns);
    if (pid < 0) {
        sb_unclaim(p->sb, slot);
        return (int)pid;
    }
    p->pids[slot] = pid;
    p->gen[slot] = p->generation;
    p->kinds[slot] = (uint8_t)kind;
    p->killing[slot] = false;
    p->termed[slot] = false;
    p->children++;
    p->rows[kind].children++;
    pool_event(p, "worker_started", "{s:i,s:i,s:s}", "slot", slot, "pid", (int)pid, "kind",
               pool_kinds[kind].name);
    log_msg(conn >= 0 ? LOG_DEBUG : LOG_INFO, "%s started: pid %ld slot %d", pool_kinds[kind].name,
            (long)pid, slot);
    return 0;
}

static void pool_on_readable(uv_poll_t *h, int status, int events);
static void pool_accept_stop(struct pool *p);
static void pool_resize_check(struct pool *p);
static void pool_roll_reaped(struct pool *p, int slot);
static void pool_recycled(struct pool *p, int slot, pid_t pid, bool killed);
static void pool_recycle_reaped(struct pool *p);
static void pool_recycle_check(struct pool *p);
static void pool_term(struct pool *p);
static int pool_roll_start(struct pool *p, const char *why);

/* Fork mode: watches listeners first.. for connections. Returns 0 or a
 * libuv error. */
static int pool_polls_open(struct pool *p, size_t first)
{
    int rc;

    for (size_t i = first; i < p->ls->n && p->cfg->mode == MODE_FORK; i++) {
        if (p->ls->fds[i] < 0 || p->polls[i] != NULL)
            continue;
        if ((p->polls[i] = malloc(sizeof(*p->polls[i]))) == NULL)
            return UV_ENOMEM;
        if ((rc = uv_poll_init_socket(&p->loop, p->polls[i], p->ls->fds[i])) < 0) {
            free(p->polls[i]);
            p->polls[i] = NULL;
            return rc;
        }
        if (p->accepting && (rc = uv_poll_start(p->polls[i], UV_READABLE, pool_on_readable)) < 0)
            return rc;
    }
    return 0;
}

static void pool_poll_free(uv_handle_t *h)
{
    free(h);
}

/* Fork mode: stops watching listener i, before its descriptor closes. */
static void pool_poll_close(struct pool *p, size_t i)
{
    if (p->polls[i] == NULL)
        return;
    uv_close((uv_handle_t *)p->polls[i], pool_poll_free);
    p->polls[i] = NULL;
}

static void pool_accept_start(struct pool *p)
{
    if (p->accepting || p->stopping || p->cfg->mode != MODE_FORK)
        return;
    for (size_t i = 0; i < p->ls->n; i++) {
        if (p->polls[i] != NULL)
            uv_poll_start(p->polls[i], UV_READABLE, pool_on_readable);
    }
    p->accepting = true;
}

static void pool_accept_stop(struct pool *p)
{
    if (!p->accepting)
        return;
    for (size_t i = 0; i < p->ls->n; i++) {
        if (p->polls[i] != NULL)
            uv_poll_stop(p->polls[i]);
    }
    p->accepting = false;
}

/* Fork mode: accepting resumes after a pause for want of resources. */
static void pool_on_unpause(uv_timer_t *t)
{
    pool_accept_start(t->loop->data);
}

/* Fork mode: accept() failed for want of descriptors or memory. The
 * listener stays readable, so polling it would spin: pause accepting for
 * a moment, and say so once per interval. */
static void pool_accept_pause(struct pool *p, int err)
{
    unsigned missed;

    if (log_rl_allow(&p->accept_rl, clock_now_ns(), &missed))
        log_warn("accept: %s: accepting paused, retrying every %d ms (%u more since the last "
                 "report)",
                 strerror(err), POOL_ACCEPT_PAUSE_MS, missed);
    pool_accept_stop(p);
    uv_timer_start(&p->unpause, pool_on_unpause, POOL_ACCEPT_PAUSE_MS, 0);
}

/* Fork mode: a connection was accepted; if accepting had been paused, say
 * it is over. */
static void pool_accept_resumed(struct pool *p)
{
    unsigned failures;
    double secs;

    if (log_rl_end(&p->accept_rl, clock_now_ns(), &secs, &failures))
        log_info("accepting again after %.1f s paused (%u failed accepts)", secs, failures);
}

/* Fork mode: accepts from the listener after the one served last that
 * has a connection pending, whichever listener woke the loop, so that
 * listeners take turns (libuv reports them in a fixed order: the first
 * would otherwise always win when accepting resumes at the limit).
 * Returns the fd with *listener set, or -errno (-EAGAIN: none pending). */
static int pool_accept_next(struct pool *p, unsigned *listener, struct sockaddr_storage *peer)
{
    int err = -EAGAIN;

    for (size_t i = 0; i < p->ls->n; i++) {
        size_t k = (p->next_listener + i) % p->ls->n;
        socklen_t len = sizeof(*peer);
        int fd;

        if (p->ls->fds[k] < 0) /* removed by a reload */
            continue;
        fd = accept4(p->ls->fds[k], (struct sockaddr *)peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd >= 0) {
            p->next_listener = k + 1;
            *listener = (unsigned)k;
            return fd;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            err = -errno;
    }
    return err;
}

/* Fork mode: a listener is readable. Forks a child per connection until
 * none is pending or the pool is at its limit, which pauses accepting:
 * further connections wait in the kernel's backlog. */
static void pool_on_readable(uv_poll_t *h, int status, int events)
{
    struct pool *p = h->loop->data;
    unsigned listener = 0;

    (void)status;
    (void)events;
    for (int i = 0; i < POOL_ACCEPT_BATCH && p->accepting; i++) {
        struct sockaddr_storage peer;
        int fd, rc;

        if (pool_workers(p)->children >= pool_workers(p)->target) {
            log_debug("at the limit of %u children: pausing accept", pool_workers(p)->target);
            p->sb->pool.at_limit++;
            p->sb->pool.at_limit_unix = time(NULL);
            pool_accept_stop(p);
            pool_event(p, "pool_at_limit", "{s:i}", "limit", pool_workers(p)->target);
            return;
        }
        fd = pool_accept_next(p, &listener, &peer);
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            pool_accept_pause(p, -fd);
            return;
        }
        if (fd < 0) {
            if (fd != -EAGAIN && fd != -ECONNABORTED && fd != -EINTR)
                log_warn("accept: %s", strerror(-fd));
            return;
        }
        pool_accept_resumed(p);
        rc = pool_spawn(p, POOL_WORKER, fd, listener, &peer, clock_now_ns());
        close(fd); /* the child has its own copy */
        if (rc < 0) {
            log_error("cannot fork a child for a connection: %s", strerror(-rc));
            return;
        }
    }
}

/* A row's respawn timer: brings the row back to its target (the pool:
 * prefork and event mode). */
static void pool_on_respawn(uv_timer_t *t)
{
    struct pool *p = t->loop->data;
    struct pool_row *row = t->data;
    enum pool_kind kind = (enum pool_kind)(row - p->rows);

    for (unsigned batch = 0; !p->stopping && row->children < row->target; batch++) {
        int rc;

        if (batch == POOL_SPAWN_BATCH) {
            uv_timer_start(&row->respawn, pool_on_respawn, POOL_SPAWN_PAUSE_MS, 0);
            return;
        }
        rc = pool_spawn(p, kind, -1, 0, NULL, 0);
        if (rc < 0) {
            log_error("cannot start a %s: %s; retrying in 1 s", pool_kinds[kind].name,
                      strerror(-rc));
            uv_timer_start(&row->respawn, pool_on_respawn, 1000, 0);
            return;
        }
        if (p->resize.active && pool_kinds[kind].pool)
            p->resize.r.started++;
        else if (pool_kinds[kind].pool) /* the pool's figure */
            p->sb->pool.respawns += row->started;
    }
    row->started = true;
    pool_resize_check(p);
}

/* Brings the row of kind to its target now (the first start, a resize
 * up, a restart's replacement). */
static void pool_fill(struct pool *p, enum pool_kind kind)
{
    pool_on_respawn(&p->rows[kind].respawn);
}

/* Plans the replacement of a child of kind that lived lived_ns, backing
 * off while they die young. */
static void pool_plan_respawn(struct pool *p, enum pool_kind kind, int64_t lived_ns)
{
    const struct pool_kind_rules *rules = &pool_kinds[kind];
    struct pool_row *row = &p->rows[kind];
    uint64_t delay = 0;

    if (lived_ns < rules->quick_death_ns) {
        unsigned shift = row->quick_deaths < 16 ? row->quick_deaths : 16;

        row->quick_deaths++;
        delay = (uint64_t)rules->backoff_first_ms << shift;
        if (delay > rules->backoff_max_ms)
            delay = rules->backoff_max_ms;
        log_warn("%s died %.0f ms after start (%u in a row): next start in %llu ms",
                 pool_kinds[kind].name, (double)lived_ns / 1e6, row->quick_deaths,
                 (unsigned long long)delay);
    } else {
        row->quick_deaths = 0;
    }
    if (!uv_is_active((uv_handle_t *)&row->respawn) || uv_timer_get_due_in(&row->respawn) > delay)
        uv_timer_start(&row->respawn, pool_on_respawn, delay, 0);
}

static void pool_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Every child is gone during shutdown: close the handles, ending the loop. */
static void pool_finish(struct pool *p)
{
    for (size_t i = 0; i < p->ls->n; i++) /* with the callback that frees them */
        pool_poll_close(p, i);
    poolup_close(p);
    /* The socket's path is another master's too while they share, or
     * while this one, handed it, never took over: it is left for the one
     * that stays. */
    p->admin.keep_path = p->shared || (p->st->admin_fd >= 0 && !p->up.took_over);
    admin_close(&p->admin); /* its handles close with their own callbacks */
    uv_walk(&p->loop, pool_close_walk, NULL);
}

/* Returns the slot of child pid, or -1 when it is not one of ours. */
static int pool_slot_of(const struct pool *p, pid_t pid)
{
    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->pids[i] == pid)
            return (int)i;
    }
    return -1;
}

/* How a reaped child ended: a SIGKILL the master sent on purpose
 * (watchdog, shutdown or drain timeout, --now) is a kill; a retired worker
 * exited as asked; any other signal or non-zero status is a crash. */
static enum sb_exit pool_exit_kind(const struct pool *p, int slot, int wstatus)
{
    if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL && p->killing[slot])
        return SB_EXIT_KILLED;
    if (p->retiring[slot] || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0))
        return SB_EXIT_CLEAN;
    return SB_EXIT_CRASH;
}

/* Logs the exit of a reaped child (not a retired one). */
static void pool_log_exit(const struct pool *p, int slot, pid_t pid, int wstatus, enum sb_exit how)
{
    const char *name = pool_kinds[p->kinds[slot]].name;

    if (WIFSIGNALED(wstatus))
        log_msg(how == SB_EXIT_KILLED ? LOG_INFO : LOG_WARN,
                "%s exited: pid %ld slot %d killed by signal %d (%s)%s", name, (long)pid, slot,
                WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
                how == SB_EXIT_KILLED ? ", as the master asked" : "");
    else
        log_msg(how == SB_EXIT_CRASH        ? LOG_WARN
                : p->cfg->mode == MODE_FORK ? LOG_DEBUG
                                            : LOG_INFO,
                "%s exited: pid %ld slot %d status %d", name, (long)pid, slot,
                WEXITSTATUS(wstatus));
}

/* An upload stalls for --io-timeout at most before its worker cuts it: a
 * temporary file older than that (and a margin) is a dead worker's. */
static int64_t pool_sweep_age(const struct pool *p)
{
    return (int64_t)p->cfg->io_timeout + 5;
}

/* Removes what uploads of dead workers left in the served directory. */
static void pool_sweep(struct pool *p)
{
    int n = put_sweep(p->dirfd, pool_sweep_age(p), time(NULL));

    if (n > 0)
        log_info("removed %d temporary file%s of uploads cut by a worker's death", n,
                 n == 1 ? "" : "s");
    else if (n < 0)
        log_warn("cannot look for the temporary files of cut uploads: %s", strerror(-n));
}

static void pool_on_sweep(uv_timer_t *t)
{
    pool_sweep(t->loop->data);
}

/* A worker replaced for --max-requests was reaped (before its slot is
 * freed): says how many connections it served, and counts it. */
static void pool_recycled(struct pool *p, int slot, pid_t pid, bool killed)
{
    struct sb_slot w;
    unsigned long long served = sb_read(p->sb, slot, &w) == 0 ? w.c.connections : 0;

    uv_timer_stop(&p->recycle.drain);
    p->recycle.slot = -1;
    p->sb->pool.max_requests++;
    log_info("worker pid %ld slot %d served %llu connections: %s (--max-requests)", (long)pid, slot,
             served, killed ? "killed after the shutdown timeout" : "replaced");
    pool_event(p, "worker_replaced", "{s:i,s:i,s:I,s:s,s:b}", "slot", slot, "pid", (int)pid,
               "connections", (json_int_t)served, "cause", "max_requests", "killed", killed);
}

/* Logs a reaped child and frees its slot, folding its counters. A worker
 * retired by a resize is no crash, even when the drain timeout killed it. */
static void pool_reaped(struct pool *p, int slot, pid_t pid, int wstatus)
{
    enum sb_exit how = pool_exit_kind(p, slot, wstatus);
    bool retired = p->retiring[slot];

    privdrop_reaped(p->sb, slot, pid, wstatus, pool_kinds[p->kinds[slot]].name);

    if (retired && slot == p->recycle.slot) {
        p->retiring[slot] = false;
        p->nretiring--;
        pool_recycled(p, slot, pid, how == SB_EXIT_KILLED);
    } else if (retired) {
        bool killed = how == SB_EXIT_KILLED;

        p->retiring[slot] = false;
        p->nretiring--;
        if (p->resize.active) {
            p->resize.r.killed += killed;
            p->resize.r.retired += !killed;
        }
        log_info("worker %s: pid %ld slot %d",
                 killed ? "killed after the drain timeout" : "retired", (long)pid, slot);
    } else {
        pool_log_exit(p, slot, pid, wstatus, how);
    }
    /* A worker that died mid-upload left its temporary file: once it is
     * old enough to be told from a live one, it goes. */
    if (p->ls->hub_ipc_open && p->kinds[slot] == POOL_WORKER && how != SB_EXIT_CLEAN)
        uv_timer_start(&p->sweep, pool_on_sweep, (uint64_t)pool_sweep_age(p) * 1000 + 1000, 0);
    sb_release(p->sb, slot, how);
    p->pids[slot] = 0;
    p->killing[slot] = false;
    p->termed[slot] = false;
    p->children--;
    p->rows[p->kinds[slot]].children--;
    /* Guarded here, not in pool_event(): the arguments are new objects. */
    if (admin_wants_events(&p->admin))
        admin_event(
            &p->admin, "worker_exited",
            json_pack(
                "{s:i,s:i,s:o,s:o,s:b,s:b,s:b}", "slot", slot, "pid", (int)pid, "status",
                WIFEXITED(wstatus) ? json_integer(WEXITSTATUS(wstatus)) : json_null(), "signal",
                WIFSIGNALED(wstatus) ? json_integer(WTERMSIG(wstatus)) : json_null(), "crashed",
                how == SB_EXIT_CRASH, "killed", how == SB_EXIT_KILLED, "retired", retired));
}

/* Sends SIGKILL to the child in slot on purpose: its death is a kill. */
static void pool_kill(struct pool *p, int slot)
{
    if (p->pids[slot] > 0 && kill(p->pids[slot], SIGKILL) == 0)
        p->killing[slot] = true;
}

static void pool_on_sigchld(uv_signal_t *h, int signum)
{
    struct pool *p = h->loop->data;
    struct sb_slot w;
    int wstatus;
    pid_t pid;

    (void)signum;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        int slot = pool_slot_of(p, pid);
        bool retired, recycled, fork_worker;
        enum pool_kind kind;
        int64_t lived;

        if (slot < 0) { /* not a slot's: a binary upgrade's new master, maybe */
            poolup_reaped(p, pid, wstatus);
            continue;
        }
        /* Before the slot is freed; the child is gone, but reads stay
         * behind the sequence lock everywhere, as a rule. */
        lived = sb_read(p->sb, slot, &w) == 0 ? clock_now_ns() - w.started_ns : 0;
        retired = p->retiring[slot];
        recycled = retired && slot == p->recycle.slot;
        kind = (enum pool_kind)p->kinds[slot];
        pool_reaped(p, slot, pid, wstatus);
        if (kind == POOL_HUB)
            poolup_hub_reaped(p);
        if (p->stopping) {
            pool_event(p, "shutdown_progress", "{s:i}", "children_left", p->children);
            if (p->graceful)
                pool_term(p); /* the last kinds, once the workers are gone */
            continue;
        }
        if (retired)
            pool_roll_reaped(p, slot);
        if (recycled)
            pool_recycle_reaped(p);
        /* Fork mode's workers are per connection: never respawned, but
         * one leaving makes room to accept again. */
        fork_worker = p->cfg->mode == MODE_FORK && kind == POOL_WORKER;
        if (!fork_worker && !retired) {
            pool_plan_respawn(p, kind, lived);
        } else if (fork_worker && pool_workers(p)->children < pool_workers(p)->target &&
                   !p->accepting) {
            pool_accept_start(p);
            pool_event(p, "pool_below_limit", "{s:i}", "limit", pool_workers(p)->target);
        }
        pool_resize_check(p);
    }
    if (p->stopping && p->children == 0)
        pool_finish(p);
}

static void pool_kill_all(struct pool *p, int sig)
{
    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (sig == SIGKILL)
            pool_kill(p, (int)i);
        else if (p->pids[i] > 0)
            kill(p->pids[i], sig);
        p->killed |= sig == SIGKILL && p->killing[i];
    }
}

/* A graceful stop's SIGTERM: to every child, but to the kinds that stop
 * last only once no pool worker is left (pool_stop(), and each reap
 * while stopping). */
static void pool_term(struct pool *p)
{
    bool workers_gone = pool_workers(p)->children == 0;

    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->pids[i] <= 0 || p->termed[i])
            continue;
        /* Handed over, the hub goes at once: the new master's waits. */
        if (pool_kinds[p->kinds[i]].stops_last && !workers_gone && !p->up.handed_over)
            continue;
        kill(p->pids[i], SIGTERM);
        p->termed[i] = true;
    }
}

static void pool_on_deadline(uv_timer_t *t)
{
    struct pool *p = t->loop->data;

    log_warn("shutdown timeout of %u s passed: killing %u child(ren)", p->deadline_s, p->children);
    pool_event(p, "shutdown_timeout", "{s:i}", "killing", p->children);
    pool_kill_all(p, SIGKILL);
}

/* True while workers retired by a resize or a rolling restart are still
 * running (one replaced for --max-requests is routine, not a drain). */
static bool pool_draining(const struct pool *p)
{
    return p->nretiring > (p->recycle.slot >= 0 ? 1u : 0u);
}

/* Answers the resize under way (if any) with what it did. */
static void pool_resize_finish(struct pool *p)
{
    struct admin_resize_result *r = &p->resize.r;

    if (!p->resize.active)
        return;
    p->resize.active = false;
    uv_timer_stop(&p->drain);
    r->seconds = (double)(clock_now_ns() - p->resize.t0) / 1e9;
    log_info("resize %u -> %u done in %.3f s: %u started, %u retired, %u killed", r->from, r->to,
             r->seconds, r->started, r->retired, r->killed);
    pool_event(p, "resize_done", "{s:i,s:i,s:i,s:i,s:i,s:f}", "from", r->from, "to", r->to,
               "started", r->started, "retired", r->retired, "killed", r->killed, "time_s",
               round(r->seconds * 1e3) / 1e3);
    admin_resize_done(&p->admin, p->resize.token, r);
    if (p->roll_pending && !p->stopping) { /* a reload resized first */
        p->roll_pending = false;
        if (pool_roll_start(p, "reload") < 0)
            log_error("reload: out of memory: the workers keep the old configuration until "
                      "they are replaced");
    }
}

/* Finishes the resize once the pool matches its target. */
static void pool_resize_check(struct pool *p)
{
    if (!p->resize.active || pool_draining(p))
        return;
    if (p->cfg->mode != MODE_FORK && pool_workers(p)->children < pool_workers(p)->target)
        return;
    pool_resize_finish(p);
}

/* The live worker not yet retiring that holds the fewest connections (an
 * idle one first), or -1. */
static int pool_least_busy(const struct pool *p)
{
    uint32_t least = UINT32_MAX;
    int pick = -1;
    struct sb_slot w;

    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->pids[i] == 0 || p->retiring[i] || !pool_kinds[p->kinds[i]].pool)
            continue;
        if (sb_read(p->sb, (int)i, &w) < 0)
            w.conns = UINT32_MAX - 1; /* unreadable: last, but still a candidate */
        if (pick < 0 || w.conns < least) {
            least = w.conns;
            pick = (int)i;
        }
    }
    return pick;
}

/* Asks n workers to leave, the least busy first: SIGTERM makes a worker
 * close what waits for a request at once (an idle process exits), cut a
 * request still arriving, and leave once its transfers are done. */
static void pool_retire(struct pool *p, unsigned n)
{
    for (int slot; n > 0 && (slot = pool_least_busy(p)) >= 0; n--) {
        p->retiring[slot] = true;
        p->nretiring++;
        kill(p->pids[slot], SIGTERM);
    }
}

static void pool_on_drain(uv_timer_t *t)
{
    struct pool *p = t->loop->data;

    log_warn("resize: drain timeout of %u s passed: killing %u busy worker(s)", p->resize.drain_s,
             p->nretiring);
    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->retiring[i] && (int)i != p->recycle.slot) /* that one has its own timer */
            pool_kill(p, (int)i);
    }
}

/* Resizes the pool (prefork) or changes the concurrency limit (fork). */
static int pool_resize(void *ctx, unsigned to, unsigned drain_s, uint64_t token)
{
    struct pool *p = ctx;
    struct pool_row *row = pool_workers(p);
    unsigned from = row->target, live;

    if (p->stopping)
        return -ESHUTDOWN;
    if (p->resize.active || p->roll.active || poolup_busy(p))
        return -EBUSY;
    memset(&p->resize, 0, sizeof(p->resize));
    p->resize.active = true;
    p->resize.token = token;
    p->resize.t0 = clock_now_ns();
    p->resize.drain_s = drain_s;
    p->resize.r.from = from;
    p->resize.r.to = to;
    log_info("resize: %u -> %u %s", from, to,
             p->cfg->mode == MODE_FORK ? "children at most" : "workers");
    row->target = to;
    p->sb->pool.target = to;
    pool_event(p, "resize_started", "{s:i,s:i,s:i}", "from", from, "to", to, "drain_timeout_s",
               drain_s);
    if (p->cfg->mode == MODE_FORK) {
        if (row->children < row->target)
            pool_accept_start(p); /* children above a lower limit just finish */
    } else if (to > from) {
        pool_fill(p, POOL_WORKER);
    } else {
        live = row->children - p->nretiring;
        if (live > to) {
            pool_retire(p, live - to);
            uv_timer_start(&p->drain, pool_on_drain, (uint64_t)drain_s * 1000, 0);
        }
    }
    pool_resize_check(p);
    return 0;
}

/* Describes what a stuck connection was doing, with its figures, into buf. */
static void pool_stuck_phase(const struct sb_conn *r, char *buf, size_t len)
{
    if (r->state == SB_READING)
        snprintf(buf, len, "reading a request (%" PRIu32 " bytes received)", r->received);
    else if (r->state == SB_WAITING)
        snprintf(buf, len, "waiting for the client after answering \"%s\" (%" PRIu64 " bytes)",
                 r->target, r->size);
    else
        snprintf(buf, len, "sending \"%s\" (%" PRIu64 " of %" PRIu64 " bytes sent)", r->target,
                 r->sent, r->size);
}

/*
 * Reports a stuck connection. A process that holds one connection at a
 * time is blocked on it, so it is killed; an event worker is asked to close
 * that connection alone (its record's cut_ns, then the cut signal), and its
 * other connections go on.
 */
static void pool_stuck(struct pool *p, int slot, struct sb_conn *rec, const struct sb_conn *r,
                       int64_t idle_ns)
{
    char peer[ADDR_STR_MAX], phase[SB_TARGET_MAX + 96];
    bool event = p->cfg->mode == MODE_EVENT;

    addr_format(&r->peer.sa, peer);
    pool_stuck_phase(r, phase, sizeof(phase));
    log_warn("%s stuck: pid %ld slot %d peer %s %s, no progress for %.1f s (connection "
             "%.1f s old): %s",
             event ? "connection" : "worker", (long)p->pids[slot], slot, peer, phase,
             (double)idle_ns / 1e9, (double)(clock_now_ns() - r->start_ns) / 1e9,
             event ? "closing it" : "killing it");
    pool_event(p, event ? "connection_stuck" : "worker_stuck",
               "{s:i,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:f}", "slot", slot, "pid", (int)p->pids[slot],
               "peer", peer, "phase", sb_state_name(r->state), "target", r->target, "received",
               (json_int_t)r->received, "sent", (json_int_t)r->sent, "size", (json_int_t)r->size,
               "idle_s", round((double)idle_ns / 1e6) / 1e3);
    if (event) {
        atomic_store(&rec->cut_ns, r->start_ns);
        kill(p->pids[slot], WORKER_SIG_CUT);
        return;
    }
    p->reported[slot] = r->start_ns;
    pool_kill(p, slot);
}

/* An event worker whose loop made no turn for --stall-timeout is blocked
 * in a call, every connection of it with it: it is replaced. */
static void pool_loop_stuck(struct pool *p, int slot, int64_t idle_ns)
{
    log_warn("worker stuck: pid %ld slot %d: its loop made no turn for %.1f s: killing it",
             (long)p->pids[slot], slot, (double)idle_ns / 1e9);
    pool_event(p, "worker_stuck", "{s:i,s:i,s:s,s:f}", "slot", slot, "pid", (int)p->pids[slot],
               "phase", "loop", "idle_s", round((double)idle_ns / 1e6) / 1e3);
    pool_kill(p, slot);
}

/* True when connection r of slot is stuck: at work (an idle persistent
 * connection is bounded by its own timeout), no progress for limit, not
 * reported yet. */
static bool pool_conn_stuck(const struct pool *p, int slot, const struct sb_conn *rec,
                            const struct sb_conn *r, int64_t now, int64_t limit)
{
    if (!sb_state_busy(r->state) || r->state == SB_CLOSING || r->state == SB_KEEPALIVE ||
        now - r->progress_ns <= limit)
        return false;
    if (p->cfg->mode == MODE_EVENT)
        return atomic_load(&rec->cut_ns) != r->start_ns;
    return p->reported[slot] != r->start_ns;
}

/* Event mode: every worker holds all the connections it may, so new ones
 * wait in the kernel's backlog; counted once per such episode (sampled
 * once a second). */
static void pool_full_check(struct pool *p, bool all_full)
{
    if (p->cfg->mode != MODE_EVENT || all_full == p->all_full)
        return;
    p->all_full = all_full;
    if (!all_full) {
        pool_event(p, "pool_below_limit", "{s:i}", "limit",
                   p->sb->conns_per_slot * pool_workers(p)->children);
        return;
    }
    p->sb->pool.at_limit++;
    p->sb->pool.at_limit_unix = time(NULL);
    log_warn("every worker holds %u connections (--worker-connections): new ones wait",
             p->sb->conns_per_slot);
    pool_event(p, "pool_at_limit", "{s:i}", "limit",
               p->sb->conns_per_slot * pool_workers(p)->children);
}

/* Once a second: a transfer that made no progress for --stall-timeout is
 * stuck, not slow (a moving one always progresses). */
static void pool_on_watchdog(uv_timer_t *t)
{
    struct pool *p = t->loop->data;
    int64_t now = clock_now_ns(), limit = (int64_t)p->cfg->stall_timeout * 1000000000, turn;
    bool all_full = pool_workers(p)->children > 0;
    struct sb_slot w;
    struct sb_conn r;

    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        /* The pool's processes: their loops and connection records. */
        if (p->pids[i] <= 0 || !pool_kinds[p->kinds[i]].pool || sb_read(p->sb, (int)i, &w) < 0)
            continue;
        all_full = all_full && w.full;
        if (p->killing[i]) /* on its way out: nothing more to report */
            continue;
        if (limit == 0)
            continue;
        turn = atomic_load(&p->sb->slots[i].turn_ns);
        /* A worker stopped before its first turn is as stuck as one
         * stopped later: measured from its start. */
        if (turn == 0 && p->cfg->mode == MODE_EVENT)
            turn = w.started_ns;
        if (turn != 0 && now - turn > limit) {
            pool_loop_stuck(p, (int)i, now - turn);
            continue;
        }
        for (uint32_t k = 0; k < w.conn_hi && k < p->sb->conns_per_slot; k++) {
            struct sb_conn *rec = sb_rec(p->sb, (int)i, k);

            if (rec->state != SB_EMPTY && sb_read_conn(rec, &r) == 0 &&
                pool_conn_stuck(p, (int)i, rec, &r, now, limit))
                pool_stuck(p, (int)i, rec, &r, now - r.progress_ns);
        }
    }
    pool_full_check(p, all_full);
    pool_recycle_check(p);
}

/* SIGTTIN / SIGTTOU: one worker more or less (gunicorn's convention). */
static void pool_on_ttinou(uv_signal_t *h, int signum)
{
    struct pool *p = h->loop->data;
    unsigned target = pool_workers(p)->target, to = signum == SIGTTIN ? target + 1 : target - 1;
    int rc;

    if (to < 1 || to > cfg_max_workers(p->cfg)) {
        log_warn("SIG%s: %u workers is outside 1..%u: ignored", sigabbrev_np(signum), to,
                 cfg_max_workers(p->cfg));
        return;
    }
    rc = pool_resize(p, to, p->cfg->shutdown_timeout, 0);
    if (rc < 0)
        log_warn("SIG%s: %s: ignored", sigabbrev_np(signum),
                 rc == -EBUSY ? "a resize or a restart is under way" : "stopping");
}

/* The old worker of the rolling restart did not finish its transfers
 * within --shutdown-timeout: it is killed (a kill, not a crash). */
static void pool_on_roll_drain(uv_timer_t *t)
{
    struct pool *p = t->loop->data;

    if (!p->roll.active || p->roll.slot < 0)
        return;
    log_warn("rolling restart: pid %ld still busy after the shutdown timeout of %u s: killing it",
             (long)p->pids[p->roll.slot], p->cfg->shutdown_timeout);
    pool_kill(p, p->roll.slot);
}

/* Rolling restart: replaces the next old worker, or finishes. The
 * replacement starts before the old worker is told to leave, so the pool
 * never has fewer workers accepting (unless it is at --max-children). */
static void pool_roll_next(struct pool *p)
{
    int rc;

    while (p->roll.next < p->roll.n) {
        int slot = pool_slot_of(p, p->roll.old[p->roll.next++]);

        if (slot < 0 || p->retiring[slot])
            continue; /* gone meanwhile */
        if (p->children < p->cfg->max_children &&
            (rc = pool_spawn(p, POOL_WORKER, -1, 0, NULL, 0)) < 0)
            log_warn("rolling restart: cannot start a replacement first: %s; the old worker "
                     "is replaced after it leaves",
                     strerror(-rc));
        p->roll.slot = slot;
        p->retiring[slot] = true;
        p->nretiring++;
        kill(p->pids[slot], SIGTERM);
        /* Bounded as a shutdown is: an endless transfer must not hold the
         * restart (and every resize after it) for ever. */
        uv_timer_start(&p->drain, pool_on_roll_drain, (uint64_t)p->cfg->shutdown_timeout * 1000, 0);
        pool_event(p, "restart_progress", "{s:i,s:i}", "replacing", (int)p->pids[slot], "left",
                   (int)(p->roll.n - p->roll.next));
        return;
    }
    log_info("rolling restart done: %u worker(s) replaced in %.3f s", p->roll.n,
             (double)(clock_now_ns() - p->roll.t0) / 1e9);
    pool_event(p, "restart_done", "{s:i}", "replaced", p->roll.n);
    free(p->roll.old);
    memset(&p->roll, 0, sizeof(p->roll));
}

/* An old worker of the rolling restart was reaped: on to the next. */
static void pool_roll_reaped(struct pool *p, int slot)
{
    if (!p->roll.active || slot != p->roll.slot)
        return;
    uv_timer_stop(&p->drain);
    if (pool_workers(p)->children < pool_workers(p)->target) /* retired before its replacement */
        pool_fill(p, POOL_WORKER);
    pool_roll_next(p);
}

/* The worker replaced for --max-requests did not finish its transfers
 * within --shutdown-timeout: it is killed, as a rolling restart's is. */
static void pool_on_recycle_drain(uv_timer_t *t)
{
    struct pool *p = t->loop->data;

    if (p->recycle.slot < 0)
        return;
    log_warn("--max-requests: pid %ld still busy after the shutdown timeout of %u s: killing it",
             (long)p->pids[p->recycle.slot], p->cfg->shutdown_timeout);
    pool_kill(p, p->recycle.slot);
}

/* --max-requests: replaces the worker in slot the way a rolling restart
 * does, its replacement started first, so that the pool never accepts
 * with fewer workers; the old one stops accepting, finishes what it holds
 * and leaves. */
static void pool_recycle(struct pool *p, int slot)
{
    int rc;

    if (p->children < p->cfg->max_children && (rc = pool_spawn(p, POOL_WORKER, -1, 0, NULL, 0)) < 0)
        log_warn("--max-requests: cannot start a replacement first: %s; the old worker is "
                 "replaced after it leaves",
                 strerror(-rc));
    p->recycle.slot = slot;
    p->retiring[slot] = true;
    p->nretiring++;
    p->termed[slot] = true; /* a graceful stop meanwhile need not tell it again */
    kill(p->pids[slot], SIGTERM);
    uv_timer_start(&p->recycle.drain, pool_on_recycle_drain,
                   (uint64_t)p->cfg->shutdown_timeout * 1000, 0);
}

/* Replaces the next worker whose slot asks for it (--max-requests), one at
 * a time: on the worker's signal, after each such replacement, and on the
 * watchdog's tick should a signal have been missed. A worker that a resize
 * or a rolling restart retires already is left to it. */
static void pool_recycle_check(struct pool *p)
{
    struct sb_slot w;

    if (p->cfg->max_requests == 0 || p->stopping || p->recycle.slot >= 0)
        return;
    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->pids[i] <= 0 || p->retiring[i] || !pool_kinds[p->kinds[i]].pool)
            continue;
        if (sb_read(p->sb, (int)i, &w) == 0 && w.replace) {
            pool_recycle(p, (int)i);
            return;
        }
    }
}

/* The worker replaced for --max-requests was reaped: the pool back to its
 * target if the replacement could not start first, then the next. */
static void pool_recycle_reaped(struct pool *p)
{
    if (pool_workers(p)->children < pool_workers(p)->target)
        pool_fill(p, POOL_WORKER);
    pool_recycle_check(p);
}

/* A worker rang the doorbell: empty the pipe (one look serves every
 * byte), then look for flagged slots. */
static void pool_on_doorbell(uv_poll_t *h, int status, int events)
{
    struct pool *p = h->loop->data;
    char buf[64];

    (void)status, (void)events;
    while (read(p->doorbell[0], buf, sizeof(buf)) > 0) {
    }
    log_debug("the doorbell rang: a worker reached --max-requests");
    pool_recycle_check(p);
}

/* Makes the doorbell and watches it (a pool's: fork mode's children
 * live for one connection). Returns 0 or a libuv error, logged. */
static int pool_doorbell_open(struct pool *p)
{
    int rc;

    if (p->cfg->mode == MODE_FORK)
        return 0;
    if (pipe2(p->doorbell, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = uv_translate_sys_error(errno);
        p->doorbell[0] = p->doorbell[1] = -1;
    } else if ((rc = uv_poll_init(&p->loop, &p->doorbell_poll, p->doorbell[0])) == 0) {
        rc = uv_poll_start(&p->doorbell_poll, UV_READABLE, pool_on_doorbell);
    }
    if (rc < 0)
        log_error("cannot make the workers' doorbell: %s", uv_strerror(rc));
    return rc;
}

/* Rolling restart: replaces, one at a time, every pool worker that runs
 * an older configuration than the current one. Returns 0 or -ENOMEM. */
static int pool_roll_start(struct pool *p, const char *why)
{
    p->roll.old = calloc(p->sb->nslots, sizeof(pid_t));
    if (p->roll.old == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->pids[i] > 0 && !p->retiring[i] && pool_kinds[p->kinds[i]].pool &&
            p->gen[i] != p->generation)
            p->roll.old[p->roll.n++] = p->pids[i];
    }
    p->roll.active = true;
    p->roll.t0 = clock_now_ns();
    log_info("%s: rolling restart of %u worker(s)", why, p->roll.n);
    pool_event(p, "restart_started", "{s:i}", "workers", p->roll.n);
    pool_roll_next(p);
    return 0;
}

struct pool_report_log {
    const char *what;
    enum log_level level; /* of the lines that are no warnings */
};

static void pool_log_line(void *user, const char *line, size_t len, bool warning)
{
    const struct pool_report_log *l = user;

    log_msg(warning ? LOG_WARN : l->level, "%s: %.*s", l->what, (int)len, line);
}

/* Logs a report's lines: errors as errors, "warning: " ones as warnings,
 * the rest (changes) as information. */
static void pool_log_report(const char *what, const struct cfg_report *r)
{
    struct pool_report_log l = {.what = what, .level = r->errors > 0 ? LOG_ERROR : LOG_INFO};

    cfg_report_each(r, pool_log_line, &l);
}

/* Reload, first half: opens what next adds (the directory, listeners, the
 * access log), everything that may fail, before anything changes. On
 * failure closes what it opened and says why in *problems. Returns 0 or
 * -errno. */
static int pool_reload_open(struct pool *p, const struct config *next, int *dirfd,
                            struct cfg_report *problems)
{
    size_t first = p->ls->n;
    char key[LSN_KEY_MAX], where[ADDR_HOST_MAX + 32];
    int rc = 0;

    *dirfd = -1;
    if (strcmp(next->directory, p->cfg->directory) != 0 &&
        (*dirfd = open(next->directory, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = -errno;
        snprintf(problems->text, sizeof(problems->text), "cannot serve directory '%s': %s\n",
                 next->directory, strerror(-rc));
        goto fail;
    }
    /* The workers' user must reach the directory before they are asked to. */
    if ((rc = privdrop_reload_check(next, *dirfd >= 0 ? *dirfd : p->dirfd, problems)) < 0) {
        if (problems->len == 0)
            snprintf(problems->text, sizeof(problems->text),
                     "cannot check what the workers may reach: %s\n", strerror(-rc));
        goto fail;
    }
    for (unsigned i = 0; i < next->nlisten; i++) {
        const struct cfg_listen *l = &next->listen[i];
        struct lsn_options lo = cfg_lsn_options(next, l->proto);

        if (proto_home(l->proto) != PROTO_HOME_WORKERS ||
            lsn_has(p->ls, lsn_key(l->proto, l->host, l->port, key)))
            continue;
        if ((rc = lsn_open(p->ls, l->proto, l->host, l->port, &lo, where, sizeof(where))) < 0) {
            snprintf(problems->text, sizeof(problems->text), "cannot listen on %s: %s\n", where,
                     lsn_strerror(rc));
            goto fail;
        }
    }
    /* Last: access_open() replaces the log in place, so nothing may fail
     * after it. */
    if (next->access_log != NULL &&
        (p->cfg->access_log == NULL || strcmp(next->access_log, p->cfg->access_log) != 0) &&
        (rc = access_open(next->access_log)) < 0) {
        snprintf(problems->text, sizeof(problems->text), "cannot open the access log %s: %s\n",
                 next->access_log, strerror(-rc));
        goto fail;
    }
    return 0;
fail:
    problems->len = strlen(problems->text);
    problems->errors++;
    for (size_t i = first; i < p->ls->n; i++)
        lsn_remove(p->ls, i);
    p->ls->n = first; /* never used: no hole */
    if (*dirfd >= 0)
        close(*dirfd);
    return rc;
}

/* True when next has the workers' listener i of the running pool. */
static bool pool_still_listens(const struct pool *p, const struct config *next, size_t i)
{
    char key[LSN_KEY_MAX];

    for (unsigned k = 0; k < next->nlisten; k++) {
        const struct cfg_listen *l = &next->listen[k];

        if (strcmp(lsn_key(l->proto, l->host, l->port, key), p->ls->keys[i]) == 0)
            return true;
    }
    return false;
}

/* Reload, second half: nothing fails from here. The listeners next drops
 * close (their queues drain into the old workers still holding them until
 * they are replaced), next becomes the configuration, and the workers are
 * resized and replaced one at a time. */
static void pool_reload_commit(struct pool *p, struct config *next, int dirfd, size_t first_new)
{
    unsigned from = pool_workers(p)->target;

    for (size_t i = 0; i < first_new; i++) {
        if (p->ls->fds[i] >= 0 && !pool_still_listens(p, next, i)) {
            pool_poll_close(p, i);
            lsn_remove(p->ls, i);
        }
    }
    for (size_t i = first_new; i < p->ls->n; i++)
        log_info("listening on %s=%s", proto_name(p->ls->proto[i]), p->ls->names[i]);
    if (pool_polls_open(p, first_new) < 0)
        log_error("reload: fork mode cannot watch the new listeners: they wait until a restart");
    if (dirfd >= 0) {
        close(p->dirfd);
        p->dirfd = dirfd;
    }
    if (next->access_log == NULL && p->cfg->access_log != NULL)
        access_close(); /* dropped: the workers forked from now on log nothing */
    cfg_free(p->cfg);
    cfg_move(p->cfg, next);
    privdrop_reload_commit(p->cfg, p->dirfd);
    log_set_level(p->cfg->log_level);
    if (p->cfg->stall_timeout > 0 || p->cfg->mode == MODE_EVENT || p->cfg->max_requests > 0)
        uv_timer_start(&p->watchdog, pool_on_watchdog, 1000, 1000);
    else
        uv_timer_stop(&p->watchdog);
    p->generation++;
    if (p->cfg->workers != from)
        pool_resize(p, p->cfg->workers, p->cfg->shutdown_timeout, 0);
    if (p->cfg->mode == MODE_FORK) {
        log_info("reload: fork mode starts a fresh child per connection: nothing to restart");
        return;
    }
    if (p->resize.active)
        p->roll_pending = true; /* after the resize: pool_resize_finish() */
    else if (pool_roll_start(p, "reload") < 0)
        log_error("reload: out of memory: the workers keep the old configuration until they "
                  "are replaced");
}

/* pool_reload() once it may start. */
static int pool_reload_apply(struct pool *p, struct cfg_report *changes,
                             struct cfg_report *problems)
{
    static struct cfg_report warnings; /* the loop's thread alone */
    struct config next;
    size_t first_new = p->ls->n;
    int dirfd, rc;

    if ((rc = cfg_reload(p->cfg, &next, problems)) < 0) {
        pool_log_report("reload refused, the configuration is invalid", problems);
        return rc;
    }
    pool_log_report("reload", problems); /* warnings */
    warnings = *problems;
    memset(problems, 0, sizeof(*problems));
    if (cfg_compare(p->cfg, &next, changes, problems) > 0) {
        pool_log_report("reload refused", problems);
        cfg_free(&next);
        return -EPERM;
    }
    if ((rc = pool_reload_open(p, &next, &dirfd, problems)) < 0) {
        pool_log_report("reload refused", problems);
        cfg_free(&next);
        return rc;
    }
    pool_log_report("reload", changes);
    /* The answer carries the warnings after the changes, as "warning: "
     * lines (logged above already). */
    if (changes->len + warnings.len < sizeof(changes->text)) {
        memcpy(changes->text + changes->len, warnings.text, warnings.len + 1);
        changes->len += warnings.len;
        changes->warnings = warnings.warnings;
    }
    pool_event(p, "reload", "{s:i}", "changes", changes->changes);
    pool_reload_commit(p, &next, dirfd, first_new);
    return 0;
}

/* True while a reload would be refused as busy (not for stopping). */
static bool pool_reload_busy(const struct pool *p)
{
    return p->resize.active || p->roll.active || p->roll_pending || poolup_busy(p);
}

/*
 * Reads the configuration again (the file and the command line) and
 * applies it: what changes is said in *changes, what stops it in
 * *problems (nothing changed then). Returns 0; -EINVAL (the file is
 * invalid), -EPERM (it changes what cannot change live), -EBUSY (a resize
 * or restart is under way), -ESHUTDOWN, or -errno (a listener, the
 * directory or the access log could not be opened). Logs either way.
 */
static int pool_reload(void *ctx, struct cfg_report *changes, struct cfg_report *problems)
{
    struct pool *p = ctx;
    int rc;

    memset(changes, 0, sizeof(*changes));
    memset(problems, 0, sizeof(*problems));
    if (p->stopping || pool_reload_busy(p)) {
        log_warn("reload: %s: ignored",
                 p->stopping ? "stopping" : "a resize, restart or upgrade is under way");
        return p->stopping ? -ESHUTDOWN : -EBUSY;
    }
    log_info("reload: reading %s", p->cfg->config_file ? p->cfg->config_file : "the command line");
    notify_reloading();
    rc = pool_reload_apply(p, changes, problems);
    notify_ready(); /* whatever the outcome: a refused reload leaves the old one running */
    return rc;
}

/* A signal's reload: no one to answer, the outcome is logged. */
static void pool_reload_signalled(struct pool *p)
{
    static struct cfg_report changes, problems; /* the loop's thread alone */

    pool_reload(p, &changes, &problems);
}

/* A SIGHUP that found the pool busy, tried again. */
static void pool_on_hup_retry(uv_timer_t *t)
{
    struct pool *p = t->loop->data;

    if (p->stopping) {
        uv_timer_stop(t);
    } else if (!pool_reload_busy(p)) {
        uv_timer_stop(t);
        pool_reload_signalled(p);
    }
}

/* SIGHUP: a reload (without a configuration file, the command line read
 * again changes nothing: a rolling restart). A signal has no one to answer
 * "busy" to (systemctl reload twice in a row, an edit made during a
 * restart), so one that finds a resize, restart or upgrade under way is
 * not dropped but carried out once that is over. */
static void pool_on_hup(uv_signal_t *h, int signum)
{
    struct pool *p = h->loop->data;

    (void)signum;
    if (p->stopping || !pool_reload_busy(p)) {
        pool_reload_signalled(p);
        return;
    }
    if (!uv_is_active((uv_handle_t *)&p->hup_retry))
        log_info("SIGHUP: a resize, restart or upgrade is under way: the reload follows it");
    uv_timer_start(&p->hup_retry, pool_on_hup_retry, 1000, 1000);
}

/*
 * Stops the pool: gracefully (no new connections, children finish what
 * they hold, SIGKILL after timeout_s) or now (SIGKILL at once). A graceful
 * request while already stopping changes nothing. why names the cause.
 */
static void pool_stop(struct pool *p, bool graceful, unsigned timeout_s, const char *why)
{
    if (p->stopping && graceful)
        return;
    p->graceful = graceful;
    if (!p->stopping) {
        p->stopping = true;
        poolup_stopping(p);         /* an upgrade under way is given up */
        if (poolup_owns_service(p)) /* else the service goes on, in the other master */
            notify_stopping();
        p->roll_pending = false;
        pool_resize_finish(p);
        free(p->roll.old);
        memset(&p->roll, 0, sizeof(p->roll));
        pool_accept_stop(p);
        for (int k = 0; k < POOL_KINDS; k++)
            uv_timer_stop(&p->rows[k].respawn);
        uv_timer_stop(&p->unpause);
        uv_timer_stop(&p->recycle.drain); /* the shutdown's deadline bounds it now */
        uv_timer_stop(&p->hup_retry);
    }
    pool_event(p, "shutdown_started", "{s:b,s:i,s:i,s:s}", "graceful", graceful, "timeout_s",
               timeout_s, "children", p->children, "cause", why);
    if (graceful) {
        p->deadline_s = timeout_s;
        /* Children finish the transfer in hand; one still reading its
         * request cuts it. The signal goes first, so that a worker woken by
         * the listeners' shutdown below already knows why. */
        pool_term(p);
        uv_timer_start(&p->deadline, pool_on_deadline, (uint64_t)timeout_s * 1000, 0);
    } else {
        pool_kill_all(p, SIGKILL);
    }
    /* New connections are refused at once, in every process holding the
     * listeners, instead of waiting in a backlog nobody will accept from.
     * Fork mode's poll handles close before lsn_close(): none may outlive
     * its descriptor.
     * The log line comes after: once it is written, clients are refused. */
    if (!p->shared) /* else they are another master's too: closed below, for this one */
        lsn_shutdown(p->ls->fds, p->ls->n);
    if (graceful)
        log_info("%s: stopping gracefully; %u child(ren) to finish, deadline %u s", why,
                 p->children, timeout_s);
    else
        log_warn("%s: stopping now, killing %u child(ren)", why, p->children);
    for (size_t i = 0; i < p->ls->n; i++)
        pool_poll_close(p, i);
    lsn_close(p->ls);
    if (p->children == 0)
        pool_finish(p);
}

/* SIGTERM/SIGINT: the first stops gracefully, the second stops now. */
static void pool_on_stop(uv_signal_t *h, int signum)
{
    struct pool *p = h->loop->data;
    char why[32];

    snprintf(why, sizeof(why), "%sSIG%s", p->stopping ? "second " : "", sigabbrev_np(signum));
    pool_stop(p, !p->stopping, p->cfg->shutdown_timeout, why);
}

static enum admin_state pool_admin_state(void *ctx)
{
    struct pool *p = ctx;

    if (p->stopping)
        return ADMIN_STOPPING;
    return pool_draining(p) || p->roll.active ? ADMIN_DRAINING : ADMIN_RUNNING;
}

/* Reopens the master's log file and asks every worker to do the same
 * (between connections). Returns as log_reopen(). */
static int pool_reopen_logs(void *ctx)
{
    struct pool *p = ctx;
    int rc = worker_logs_reopen();

    if (rc <= 0)
        return rc;
    privdrop_logs_reopened(); /* theirs, before they reopen them */
    log_info("log file reopened");
    /* Fork mode's workers are short-lived: they open the new file as they
     * come. The other kinds live as long as the master. */
    for (uint32_t i = 0; i < p->sb->nslots; i++) {
        if (p->pids[i] > 0 && (p->cfg->mode != MODE_FORK || p->kinds[i] != POOL_WORKER))
            kill(p->pids[i], SIGUSR1);
    }
    return rc;
}

static void pool_on_usr1(uv_signal_t *h, int signum)
{
    int rc = pool_reopen_logs(h->loop->data);

    (void)signum;
    if (rc < 0)
        log_error("SIGUSR1: cannot reopen the log file: %s", strerror(-rc));
}

/* SIGUSR2: a binary upgrade, as nginx's (the outcome is logged). */
static void pool_on_usr2(uv_signal_t *h, int signum)
{
    int rc = poolup_start(h->loop->data, 0);

    (void)signum;
    if (rc == -EBUSY || rc == -ESHUTDOWN)
        log_warn("SIGUSR2: %s: ignored",
                 rc == -EBUSY ? "an upgrade, reload, resize or restart is under way" : "stopping");
}

static unsigned pool_admin_target(void *ctx)
{
    return pool_workers(ctx)->target;
}

static void pool_admin_shutdown(void *ctx, bool graceful, int timeout_s)
{
    struct pool *p = ctx;

    pool_stop(p, graceful, timeout_s >= 0 ? (unsigned)timeout_s : p->cfg->shutdown_timeout,
              "admin shutdown");
}

static unsigned pool_admin_stop_timeout(void *ctx)
{
    return ((struct pool *)ctx)->deadline_s;
}

static const struct admin_ops pool_admin_ops = {
    .state = pool_admin_state,
    .shutdown = pool_admin_shutdown,
    .stop_timeout = pool_admin_stop_timeout,
    .reopen_logs = pool_reopen_logs,
    .target = pool_admin_target,
    .resize = pool_resize,
    .reload = pool_reload,
    .upgrade = poolup_start,
};

/* Sets up the handles on p->loop (initialised). Returns 0 or a libuv
 * error; the handles made so far close with pool_finish(). */
static int pool_init(struct pool *p)
{
    int rc;

    p->loop.data = p;
    uv_signal_init(&p->loop, &p->sig_term);
    uv_signal_init(&p->loop, &p->sig_int);
    uv_signal_init(&p->loop, &p->sig_chld);
    for (int k = 0; k < POOL_KINDS; k++) {
        uv_timer_init(&p->loop, &p->rows[k].respawn);
        p->rows[k].respawn.data = &p->rows[k];
    }
    uv_timer_init(&p->loop, &p->deadline);
    uv_timer_init(&p->loop, &p->drain);
    uv_timer_init(&p->loop, &p->watchdog);
    uv_timer_init(&p->loop, &p->unpause);
    uv_timer_init(&p->loop, &p->sweep);
    uv_timer_init(&p->loop, &p->recycle.drain);
    uv_timer_init(&p->loop, &p->hup_retry);
    if (p->ls->hub_ipc_open)
        pool_sweep(p); /* left by a previous run */
    if (p->cfg->stall_timeout > 0 || p->cfg->mode == MODE_EVENT || p->cfg->max_requests > 0)
        uv_timer_start(&p->watchdog, pool_on_watchdog, 1000, 1000);
    uv_signal_init(&p->loop, &p->sig_ttin);
    uv_signal_init(&p->loop, &p->sig_ttou);
    uv_signal_init(&p->loop, &p->sig_usr1);
    uv_signal_init(&p->loop, &p->sig_usr2);
    uv_signal_init(&p->loop, &p->sig_hup);
    if ((rc = uv_signal_start(&p->sig_term, pool_on_stop, SIGTERM)) < 0 ||
        (rc = uv_signal_start(&p->sig_int, pool_on_stop, SIGINT)) < 0 ||
        (rc = uv_signal_start(&p->sig_chld, pool_on_sigchld, SIGCHLD)) < 0 ||
        (rc = uv_signal_start(&p->sig_ttin, pool_on_ttinou, SIGTTIN)) < 0 ||
        (rc = uv_signal_start(&p->sig_ttou, pool_on_ttinou, SIGTTOU)) < 0 ||
        (rc = uv_signal_start(&p->sig_usr1, pool_on_usr1, SIGUSR1)) < 0 ||
        (rc = uv_signal_start(&p->sig_usr2, pool_on_usr2, SIGUSR2)) < 0 ||
        (rc = uv_signal_start(&p->sig_hup, pool_on_hup, SIGHUP)) < 0 ||
        (rc = pool_doorbell_open(p)) < 0)
        return rc;
    if (p->cfg->mode == MODE_FORK) {
        p->accepting = true;
        if ((rc = pool_polls_open(p, 0)) < 0)
            return rc;
    }
    proc_unblock_signals(); /* the loop's handlers exist: a stop sent meanwhile acts now */
    rc = admin_open_fd(&p->admin, &p->loop, p->st->admin_path, p->st->admin_fd, p->st->admin_group,
                       p->cfg, p->sb, p->ls, &pool_admin_ops, p);
    if (rc < 0) {
        log_error("cannot open the admin socket %s: %s", p->st->admin_path, admin_strerror(rc));
        return rc;
    }
    log_info("admin socket %s%s", p->st->admin_path, p->st->admin_fd >= 0 ? " (handed down)" : "");
    rc = poolup_init(p, p->st->upgrade_fd, p->st->dropped, p->st->ndropped);
    if (rc < 0)
        log_error("upgrade: cannot watch the channel to the master before: %s", uv_strerror(rc));
    return rc;
}

/* The per-slot arrays; false when out of memory. */
static bool pool_alloc(struct pool *p, uint32_t nslots)
{
    p->pids = calloc(nslots, sizeof(pid_t));
    p->retiring = calloc(nslots, sizeof(bool));
    p->killing = calloc(nslots, sizeof(bool));
    p->termed = calloc(nslots, sizeof(bool));
    p->reported = calloc(nslots, sizeof(int64_t));
    p->kinds = calloc(nslots, sizeof(uint8_t));
    p->gen = calloc(nslots, sizeof(uint32_t));
    return p->gen != NULL && p->pids != NULL && p->retiring != NULL && p->killing != NULL &&
           p->termed != NULL && p->reported != NULL && p->kinds != NULL;
}

static void pool_free(struct pool *p)
{
    free(p->pids);
    free(p->retiring);
    free(p->killing);
    free(p->termed);
    free(p->reported);
    free(p->kinds);
    free(p->gen);
}

static const struct pool_hooks pool_hooks = {
    .event = pool_event,
    .workers = pool_workers,
    .fill = pool_fill,
    .stop = pool_stop,
};

int pool_run(struct config *cfg, struct scoreboard *sb, struct listeners *ls, struct pool_start *st)
{
    struct pool p = {
        .hooks = &pool_hooks,
        .cfg = cfg,
        .sb = sb,
        .ls = ls,
        .dirfd = st->dirfd,
        .st = st,
        .recycle.slot = -1,
        .doorbell = {-1, -1},
    };
    int rc = UV_ENOMEM;

    if (!pool_alloc(&p, sb->nslots) || (rc = uv_loop_init(&p.loop)) < 0) {
        log_error("cannot set up the pool: %s", uv_strerror(rc));
        pool_free(&p);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    sb->pool.target = cfg->workers;
    pool_workers(&p)->target = cfg->workers;
    p.rows[POOL_HUB].target = ls->nhub > 0 ? 1 : 0;
    rc = pool_init(&p);
    if (rc < 0) {
        pool_finish(&p);
    } else {
        if (cfg->mode != MODE_FORK) /* fork mode's workers come per connection */
            pool_fill(&p, POOL_WORKER);
        if (!poolup_hub_waits(&p))
            pool_fill(&p, POOL_HUB);
        /* Every listener is bound and the pool started: connections are
         * accepted or wait in the backlog. A binary upgrade's new master
         * says so once it took over (master/poolup.c). */
        if (!p.up.successor)
            notify_ready();
    }
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    pool_free(&p);
    for (int i = 0; i < 2; i++) {
        if (p.doorbell[i] >= 0)
            close(p.doorbell[i]);
    }
    st->dirfd = p.dirfd;
    if (rc < 0)
        return -1; /* never started: said why already */
    return p.killed ? 1 : 0;
}
