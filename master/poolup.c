/*
 * poolup: the pool's side of a binary upgrade. See poolup.h.
 */
#include "master/poolup.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/scoreboard.h"
#include "master/pool_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Logs a step and keeps it for the operator's answer. */
static void poolup_step(struct pool *p, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void poolup_step(struct pool *p, enum log_level level, const char *fmt, ...)
{
    struct poolup *u = &p->up;
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_msg(level, "upgrade: %s", line);
    n = snprintf(u->steps + u->nsteps, sizeof(u->steps) - u->nsteps, "%s\n", line);
    if (n > 0 && u->nsteps + (size_t)n < sizeof(u->steps))
        u->nsteps += (size_t)n;
}

/* The steps as a JSON array. */
static json_t *poolup_steps(const struct poolup *u)
{
    json_t *a = json_array();
    const char *line = u->steps;

    for (const char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
        json_array_append_new(a, json_stringn(line, (size_t)(nl - line)));
    return a;
}

/* Predecessor: a successor given up on is still there after its grace. */
static void poolup_on_reap(uv_timer_t *t)
{
    struct pool *p = t->data;

    if (p->up.given_up > 0) {
        log_warn("upgrade: pid %ld, given up on, is still there: killing it", (long)p->up.given_up);
        kill(p->up.given_up, SIGKILL);
    }
}

/* Predecessor: the successor failed (or this master gave up on it); this
 * master serves on as before. The successor is told to stop. */
static void poolup_failed(struct pool *p, const char *why)
{
    struct poolup *u = &p->up;
    pid_t pid = u->down.pid;

    poolup_step(p, LOG_ERROR, "%s; this master (pid %ld) %s", why, (long)getpid(),
                p->stopping ? "stops as asked" : "serves on");
    admin_answer(&p->admin, u->token,
                 json_pack("{s:i,s:o}", "new_pid", (int)pid, "steps", poolup_steps(u)),
                 "upgrade_failed", why);
    p->hooks->event(p, "upgrade_failed", "{s:i,s:s}", "pid", (int)pid, "reason", why);
    /* It stops as gracefully as a SIGTERM would, leaving the shared
     * sockets alone; one that cannot hear it (stopped, stuck) is killed
     * after the grace a stop has. A signal now would be its second: a stop
     * that cuts transfers. */
    upgrade_send(&u->down, "ABORT");
    upgrade_close(&u->down);
    if (pid > 0) {
        u->given_up = pid;
        uv_timer_start(&u->reap, poolup_on_reap, (uint64_t)p->cfg->shutdown_timeout * 1000 + 5000,
                       0);
    }
    u->predecessor = false;
    u->token = 0;
    p->shared = false;
}

/* Predecessor: tells the successor its hub may start, once this master
 * has none left. */
static void poolup_hub_check(struct pool *p)
{
    struct poolup *u = &p->up;

    if (!u->handed_over || u->hub_gone || p->rows[POOL_HUB].children > 0)
        return;
    u->hub_gone = true;
    upgrade_send(&u->down, "HUB_GONE");
}

/* Predecessor: the successor serves. Answers the operator, gives up the
 * admin socket and the metrics listeners, and stops as gracefully as
 * SIGTERM, the workers' listeners left open for the successor. */
static void poolup_handover(struct pool *p, pid_t pid)
{
    struct poolup *u = &p->up;

    poolup_step(p, LOG_INFO,
                "pid %ld is serving; this master (pid %ld) stops accepting, finishes its "
                "transfers and exits",
                (long)pid, (long)getpid());
    upgrade_send(&u->down, "HANDED_OVER");
    u->predecessor = false;
    u->handed_over = true;
    admin_answer(&p->admin, u->token,
                 json_pack("{s:i,s:i,s:s,s:o,s:f}", "old_pid", (int)getpid(), "new_pid", (int)pid,
                           "exe", upgrade_exe(), "steps", poolup_steps(u), "time_s",
                           (double)(clock_now_ns() - u->t0) / 1e9),
                 NULL, NULL);
    u->token = 0;
    p->hooks->event(p, "upgrade_done", "{s:i,s:i}", "old_pid", (int)getpid(), "new_pid", (int)pid);
    admin_release(&p->admin); /* the metrics listeners too: one scoreboard answers */
    lsn_close_web(p->ls);
    p->hooks->stop(p, true, p->cfg->shutdown_timeout, "upgrade");
    poolup_hub_check(p);
}

/* Successor: the predecessor leaves (or died): the sockets are this
 * master's alone, the admin socket answers here, the listeners its
 * configuration dropped are shut, and its hub may start once the other's
 * is gone. */
static void poolup_took_over(struct pool *p, bool hub_free)
{
    struct poolup *u = &p->up;

    if (u->successor) {
        u->successor = false;
        u->took_over = true;
        p->shared = false;
        uv_timer_stop(&u->ready);
        admin_hold(&p->admin, false);
        lsn_shutdown(u->dropped, u->ndropped);
        for (size_t i = 0; i < u->ndropped; i++)
            close(u->dropped[i]);
        u->ndropped = 0;
        log_info("upgrade: this master (pid %ld) took over", (long)getpid());
        notify_mainpid(getpid()); /* systemd: the service's main process is this one now */
        notify_ready();
    }
    if (hub_free && u->hub_wait && !p->stopping) {
        u->hub_wait = false;
        p->hooks->fill(p, POOL_HUB);
    }
}

/* The channel to the predecessor. */
static void poolup_on_up(struct upgrade *c, enum upgrade_event ev, long arg)
{
    struct pool *p = c->data;

    (void)arg;
    switch (ev) {
    case UPGRADE_HANDED_OVER:
        poolup_took_over(p, false);
        break;
    case UPGRADE_HUB_GONE:
        poolup_took_over(p, true);
        break;
    case UPGRADE_ABORT: /* it failed us (too slow, told to stop): stop too */
        p->up.aborted = true;
        log_warn("upgrade: the master before gave up on this one: stopping");
        p->hooks->stop(p, true, p->cfg->shutdown_timeout, "upgrade aborted");
        break;
    case UPGRADE_CLOSED:
        /* Without HANDED_OVER or ABORT first, the predecessor died: the
         * service is this master's. After HANDED_OVER, it exited. */
        if (p->up.aborted)
            break;
        if (p->up.successor)
            log_warn("upgrade: the master before is gone without handing over: taking over");
        poolup_took_over(p, true);
        break;
    default:
        break;
    }
}

/* The channel to the successor. */
static void poolup_on_down(struct upgrade *c, enum upgrade_event ev, long arg)
{
    struct pool *p = c->data;
    char why[PATH_MAX + 96];

    if (!p->up.predecessor) /* failed already, or handed over */
        return;
    switch (ev) {
    case UPGRADE_READY:
        poolup_handover(p, (pid_t)arg);
        break;
    case UPGRADE_EXEC_FAILED:
        snprintf(why, sizeof(why), "cannot execute %s: %s", upgrade_exe(), strerror((int)arg));
        poolup_failed(p, why);
        break;
    case UPGRADE_TIMEOUT:
        snprintf(why, sizeof(why), "pid %ld was not serving within %u s: stopped it", (long)c->pid,
                 p->cfg->upgrade_timeout);
        poolup_failed(p, why);
        break;
    default: /* CLOSED: its death is judged when it is reaped */
        break;
    }
}

/* Successor: once every worker it started is up (its slot idle or busy),
 * says READY. Fork mode has none to wait for. */
static void poolup_on_ready_check(uv_timer_t *t)
{
    struct pool *p = t->data;
    unsigned up = 0;
    struct sb_slot w;
    char msg[32];

    for (uint32_t i = 0; i < p->sb->nslots && p->cfg->mode != MODE_FORK; i++) {
        if (p->pids[i] > 0 && p->kinds[i] == POOL_WORKER && sb_read(p->sb, (int)i, &w) == 0 &&
            (w.state == SB_IDLE || w.state == SB_BUSY))
            up++;
    }
    if (p->cfg->mode != MODE_FORK && up < p->hooks->workers(p)->target)
        return;
    uv_timer_stop(t);
    snprintf(msg, sizeof(msg), "READY %ld", (long)getpid());
    log_info("upgrade: %u worker(s) serving: telling the master before", up);
    upgrade_send(&p->up.up, msg); /* if it is gone, CLOSED says so */
}

int poolup_init(struct pool *p, int upgrade_fd, const int *dropped, size_t n)
{
    struct poolup *u = &p->up;
    int rc;

    uv_timer_init(&p->loop, &u->ready);
    u->ready.data = p;
    uv_timer_init(&p->loop, &u->reap);
    u->reap.data = p;
    u->up = (struct upgrade){.fd = -1, .on_event = poolup_on_up, .data = p};
    u->down = (struct upgrade){.fd = -1, .on_event = poolup_on_down, .data = p};
    if (n > 0)
        memcpy(u->dropped, dropped, n * sizeof(int));
    u->ndropped = n;
    if (upgrade_fd < 0)
        return 0;
    if ((rc = upgrade_attach(&u->up, &p->loop, upgrade_fd)) < 0)
        return rc;
    u->successor = true;
    u->hub_wait = p->ls->nhub > 0;
    p->shared = true;
    admin_hold(&p->admin, true); /* one master answers: the one that serves */
    log_info("upgrade: started by the master before; serving beside it until it hands over");
    uv_timer_start(&u->ready, poolup_on_ready_check, 20, 20);
    return 0;
}

bool poolup_hub_waits(const struct pool *p)
{
    return p->up.hub_wait;
}

bool poolup_busy(const struct pool *p)
{
    return p->up.predecessor || p->up.successor || p->up.handed_over || p->up.up.active;
}

bool poolup_owns_service(const struct pool *p)
{
    return !p->up.successor && !p->up.handed_over && !p->up.aborted;
}

void poolup_stopping(struct pool *p)
{
    if (p->up.predecessor)
        poolup_failed(p, "this master was told to stop: the new one is stopped too");
}

int poolup_start(void *ctx, uint64_t token)
{
    struct pool *p = ctx;
    struct poolup *u = &p->up;
    struct upgrade_fd fds[UPGRADE_FDS_MAX];
    int lfds[UPGRADE_FDS_MAX];
    const char *keys[UPGRADE_FDS_MAX];
    size_t n;
    pid_t pid;

    if (p->stopping)
        return -ESHUTDOWN;
    if (poolup_busy(p) || p->resize.active || p->roll.active || p->roll_pending)
        return -EBUSY;
    n = lsn_all(p->ls, lfds, keys, UPGRADE_FDS_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        fds[i].fd = lfds[i];
        snprintf(fds[i].name, sizeof(fds[i].name), "%s", keys[i]);
    }
    fds[n].fd = p->admin.fd;
    snprintf(fds[n].name, sizeof(fds[n].name), "%s", UPGRADE_ADMIN_NAME);
    u->nsteps = 0;
    u->steps[0] = '\0';
    u->t0 = clock_now_ns();
    pid =
        upgrade_start(&u->down, &p->loop, p->cfg->argv, fds, n + 1, p->cfg->upgrade_timeout * 1000);
    if (pid < 0) {
        log_error("upgrade: cannot start %s: %s", upgrade_exe(), strerror(-pid));
        return pid;
    }
    u->predecessor = true;
    u->token = token;
    p->shared = true;
    poolup_step(p, LOG_INFO, "started %s as pid %ld, handing it %zu listening socket(s)",
                upgrade_exe(), (long)pid, n + 1);
    p->hooks->event(p, "upgrade_started", "{s:i,s:s}", "pid", (int)pid, "exe", upgrade_exe());
    return 0;
}

void poolup_reaped(struct pool *p, pid_t pid, int wstatus)
{
    struct poolup *u = &p->up;
    char why[128];

    if (pid > 0 && pid == u->given_up) { /* gone as told */
        u->given_up = 0;
        uv_timer_stop(&u->reap);
    }
    if (pid != u->down.pid || pid <= 0)
        return;
    upgrade_flush(&u->down); /* "EXEC errno", said before it exited, says more */
    if (!u->predecessor) {   /* failed already, or handed over: its own master now */
        u->down.pid = 0;
        return;
    }
    if (WIFEXITED(wstatus))
        snprintf(why, sizeof(why), "pid %ld exited with status %d before it was serving", (long)pid,
                 WEXITSTATUS(wstatus));
    else
        snprintf(why, sizeof(why), "pid %ld died of SIG%s before it was serving", (long)pid,
                 sigabbrev_np(WTERMSIG(wstatus)));
    poolup_failed(p, why);
    u->given_up = 0; /* reaped already: nothing left to kill */
    uv_timer_stop(&u->reap);
    u->down.pid = 0;
}

void poolup_hub_reaped(struct pool *p)
{
    poolup_hub_check(p);
}

void poolup_close(struct pool *p)
{
    struct poolup *u = &p->up;

    upgrade_close(&u->up);
    upgrade_close(&u->down);
    uv_timer_stop(&u->ready);
    uv_timer_stop(&u->reap);
    for (size_t i = 0; i < u->ndropped; i++) /* never taken over: close, not shut */
        close(u->dropped[i]);
    u->ndropped = 0;
}
