/*
 * worker: the accept loop of an iterative server. See worker.h.
 *
 * Stopping without a race: SIGTERM's handler sets worker_quit and writes to
 * an eventfd that sits in the worker's epoll set, so a worker about to wait
 * for connections wakes at once however the signal and the wait interleave.
 * The loop tries accept() first and waits only when nothing is pending:
 * under load a connection costs one accept4() and no epoll_wait().
 * Listeners are registered with EPOLLEXCLUSIVE so one connection wakes one
 * idle worker, not the whole pool. The same eventfd interrupts a wait for
 * a request's bytes, so a stop cuts a connection that is still sending
 * its request (serve.h).
 */
#include "worker/worker.h"

#include "common/addr.h"
#include "common/log.h"
#include "common/text.h"
#include "worker/access.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define WORKER_PAUSE_MS  100 /* after EMFILE and friends, before accepting again */
#define WORKER_DRAIN_MAX 64  /* leaving: pending connections served, at most */

static volatile sig_atomic_t worker_quit;
static volatile sig_atomic_t worker_abort;
static volatile sig_atomic_t worker_reopen; /* SIGUSR1: reopen the log file */
static volatile sig_atomic_t worker_cut;    /* WORKER_SIG_CUT: close stuck connections */
static int worker_wake_fd = -1;
static bool worker_standalone;
/* Written by the admin thread, read by the signal handler: lock-free. */
static _Atomic unsigned worker_deadline;
static const int *worker_lfds; /* standalone: the listeners, shut on a stop */
static size_t worker_nlfds;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free atomic");

/* Wakes the accept loop (an idle worker sleeps in epoll_wait). */
static void worker_wake(void)
{
    uint64_t one = 1;

    if (worker_wake_fd >= 0 && write(worker_wake_fd, &one, sizeof(one)) < 0) {
        /* already non-zero: the loop will wake anyway */
    }
}

static void worker_on_usr1(int sig)
{
    int saved = errno;

    if (sig == WORKER_SIG_CUT)
        worker_cut = 1;
    else
        worker_reopen = 1;
    worker_wake();
    errno = saved;
}

/*
 * Standalone, on the first stop: refuse new clients at once. shutdown()
 * is async-signal-safe and, unlike close(), frees no descriptor number
 * that the interrupted code could be about to reuse.
 */
static void worker_stop_listening(void)
{
    for (size_t i = 0; i < worker_nlfds; i++) {
        if (worker_lfds[i] >= 0)
            shutdown(worker_lfds[i], SHUT_RDWR);
    }
}

/*
 * SIGTERM/SIGINT: stop after the connection in hand. Standalone, the first
 * one stops the listeners and arms the shutdown deadline; the second one,
 * or the deadline (SIGALRM), sets worker_abort, which turns the next EINTR
 * into the end of the transfer; SIGALRM re-arms itself so a call that
 * slipped past the signal is interrupted again a second later.
 * WORKER_SIG_ADMIN_STOP is the admin socket's graceful stop: a first stop
 * like SIGTERM, but never a second one, however it races an operator's
 * signal.
 */
static void worker_on_signal(int sig)
{
    int saved = errno;
    unsigned deadline = atomic_load(&worker_deadline);

    if (sig == WORKER_SIG_ADMIN_STOP && worker_quit) {
        /* already stopping: nothing changes */
    } else if (sig == SIGALRM || (worker_quit && worker_standalone)) {
        worker_abort = 1;
        alarm(1);
    } else if (!worker_quit && worker_standalone) {
        worker_stop_listening();
        if (deadline > 0) {
            alarm(deadline);
        } else { /* --shutdown-timeout 0: stop now, as the pool does */
            worker_abort = 1;
            alarm(1);
        }
    }
    worker_quit = 1;
    worker_wake();
    errno = saved;
}

int worker_signals_init(const struct worker_config *cfg)
{
    struct sigaction sa;

    worker_standalone = cfg->standalone;
    atomic_store(&worker_deadline, cfg->shutdown_timeout);
    worker_lfds = cfg->lfds;
    worker_nlfds = cfg->standalone ? cfg->nlfds : 0;
    if (worker_wake_fd < 0) {
        worker_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (worker_wake_fd < 0)
            return -errno;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = worker_on_signal;
    sigfillset(&sa.sa_mask);
    /* No SA_RESTART: blocking calls return EINTR and the loops decide. */
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
        sigaction(SIGALRM, &sa, NULL) < 0 || sigaction(WORKER_SIG_ADMIN_STOP, &sa, NULL) < 0)
        return -errno;
    sa.sa_handler = worker_on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        return -errno;
    /* Only an event worker answers the watchdog's cut; elsewhere SIGWINCH
     * (a terminal's resize, sent to its whole process group) stays ignored. */
    if (sigaction(WORKER_SIG_CUT, cfg->event ? &sa : &(struct sigaction){.sa_handler = SIG_IGN},
                  NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* restarts are the master's business, not a hangup's */
    /* An upgrade is the master's too (pkill -USR2 reaches workers); in
     * iterative mode, which cannot upgrade, it is ignored (docs/UPGRADE.md). */
    signal(SIGUSR2, SIG_IGN);
    return 0;
}

void worker_request_stop(bool graceful, int timeout_s)
{
    /* A graceful stop while stopping changes nothing (a second SIGTERM
     * would mean "now"; this one never does, even if a SIGTERM races it). */
    if (graceful && worker_quit)
        return;
    if (graceful && timeout_s >= 0)
        atomic_store(&worker_deadline, (unsigned)timeout_s);
    /* Through the signal handler, so that a blocking call in the serving
     * thread is interrupted exactly as by an operator's signal. */
    kill(getpid(), graceful ? WORKER_SIG_ADMIN_STOP : SIGALRM);
}

bool worker_stop_requested(void)
{
    return worker_quit != 0;
}

unsigned worker_stop_timeout(void)
{
    return atomic_load(&worker_deadline);
}

const volatile sig_atomic_t *worker_stop_flag(void)
{
    return &worker_quit;
}

int worker_wake_fd_get(void)
{
    return worker_wake_fd;
}

const volatile sig_atomic_t *worker_abort_flag(void)
{
    return &worker_abort;
}

/* Logs how a request (or a connection) ended: `conn PEER proto=native
 * file="NAME" status=OK bytes=SENT/SIZE time=MS [refused] [problem="..."
 * during=PHASE]`. Built with text_* and written with log_text(): this line
 * is on every request's path, and printf would be most of its cost. */
static void worker_log_conn(enum log_level level, const struct conn *c)
{
    int64_t now = clock_now_ns(); /* not the event's: the request is over now */
    const struct conn_req *r = &c->req;
    int64_t start = r->start_ns ? r->start_ns : c->accepted_ns, us = (now - start) / 1000;
    char addr[ADDR_STR_MAX], line[LOG_LINE_MAX];
    struct text t;

    text_init(&t, line, sizeof(line));
    text_str(&t, "conn ");
    text_str(&t, addr_format(&c->peer.sa, addr));
    text_str(&t, " proto=");
    text_str(&t, proto_name(c->h->proto));
    text_str(&t, " file=\"");
    text_str(&t, r->target);
    text_str(&t, "\" status=");
    text_str(&t, r->answered ? r->status : "-");
    text_str(&t, " bytes=");
    text_u64(&t, r->sent);
    text_str(&t, "/");
    text_u64(&t, r->size);
    text_str(&t, " time=");
    text_milli(&t, us > 0 ? (uint64_t)us : 0);
    text_str(&t, r->refused ? "ms refused" : "ms");
    if (c->problem != NULL) {
        text_str(&t, " problem=\"");
        text_str(&t, c->problem);
        if (c->about != NULL) {
            text_str(&t, ": ");
            text_str(&t, c->about);
        }
        if (c->err != 0) {
            text_str(&t, ": ");
            text_str(&t, strerror(c->err));
        }
        text_str(&t, "\" during=");
        text_str(&t, c->phase);
    }
    log_text(level, line, t.len);
}

void worker_report(const struct conn *c, int64_t now)
{
    enum log_level level = c->server_fault ? LOG_WARN : LOG_INFO;

    access_write(c);
    /* --max-conn-per-ip and --allow/--deny refusals: a line a second per
     * address, pool-wide, so that a client hammering the server cannot
     * flood the log. */
    if ((c->busy || c->denied) && c->env->sb != NULL && sb_quiet(c->env->sb, &c->peer.sa, now))
        return;
    if (level <= log_get_level()) /* else nothing to format: the common case under load */
        worker_log_conn(level, c);
}

void worker_serve_one(const struct serve_ctx *ctx, enum proto proto, unsigned listener, int fd,
                      const struct sockaddr *peer, int64_t accepted_ns)
{
    if (serve_conn(ctx, proto, listener, fd, peer, accepted_ns) < 0)
        log_error("cannot serve a connection: %s", strerror(ENOMEM));
}

_Static_assert(PROTO_LISTENERS_MAX <= 32, "the ready mask is 32 bits");

/* Listener k was shut down: dropped. Returns -EINVAL when it was the
 * last (the master stops: every listener is shut at once), else -EAGAIN
 * (the others serve on: a reload removed it). */
static int worker_listener_shut(const struct worker_config *cfg, struct worker_ready *r, size_t k)
{
    r->dead |= 1u << k;
    r->mask &= ~(1u << k);
    if (r->ep >= 0)
        epoll_ctl(r->ep, EPOLL_CTL_DEL, cfg->lfds[k], NULL);
    for (size_t i = 0; i < cfg->nlfds; i++) {
        if (cfg->lfds[i] >= 0 && !(r->dead & (1u << i)))
            return -EAGAIN;
    }
    return -EINVAL;
}

int worker_accept(const struct worker_config *cfg, struct worker_ready *r, struct sockaddr *peer,
                  size_t *which)
{
    int err = -EAGAIN;

    for (size_t i = 0; i < cfg->nlfds; i++) {
        size_t k = (r->next + i) % cfg->nlfds;
        socklen_t len = sizeof(struct sockaddr_storage);
        int fd;

        if (!(r->mask & (1u << k)) || (r->dead & (1u << k)))
            continue;
        if (cfg->lfds[k] < 0) { /* a listener a reload removed */
            r->mask &= ~(1u << k);
            continue;
        }
        fd = accept4(cfg->lfds[k], peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            r->next = k + 1;
            *which = k;
            return fd;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            r->mask &= ~(1u << k);
        else if (errno == EINVAL)
            err = worker_listener_shut(cfg, r, k);
        else
            err = -errno;
    }
    return err;
}

void worker_count_conn(const struct worker_config *cfg, uint64_t *n)
{
    if (cfg->max_conns == 0 || ++*n != cfg->max_conns)
        return;
    sb_set_replace(cfg->serve.env.slot);
    log_info("worker pid %ld slot %u reached its limit of %llu connections (--max-requests): "
             "asking to be replaced",
             (long)getpid(), cfg->serve.rank, (unsigned long long)*n);
    /* A full pipe means the bell rang already: EAGAIN is as good. */
    if (cfg->doorbell >= 0 && write(cfg->doorbell, "r", 1) < 0 && errno != EAGAIN)
        log_warn("worker pid %ld: cannot ring the master's doorbell: %s", (long)getpid(),
                 strerror(errno));
}

bool worker_relieved(const struct worker_config *cfg, uint64_t n)
{
    const struct scoreboard *sb = cfg->serve.env.sb;
    struct sb_slot w;

    if (cfg->max_conns == 0 || n < cfg->max_conns || sb == NULL)
        return false;
    for (uint32_t i = 0; i < sb->nslots; i++) {
        if (&sb->slots[i] == cfg->serve.env.slot || sb_read(sb, (int)i, &w) < 0)
            continue;
        if (w.kind == SB_KIND_WORKER && !w.replace && (w.state == SB_IDLE || w.state == SB_BUSY))
            return true;
    }
    return false;
}

/* epoll said which listeners are readable: they may be tried again. */
void worker_mark_ready(const struct worker_config *cfg, struct worker_ready *r,
                       const struct epoll_event *evs, int n)
{
    for (int e = 0; e < n; e++) {
        for (size_t i = 0; i < cfg->nlfds; i++) {
            if (evs[e].data.fd == cfg->lfds[i])
                r->mask |= 1u << i;
        }
    }
}

/* After a connection: with several listeners and some marked empty, asks
 * epoll, without waiting, which are readable now. */
static void worker_refresh_ready(const struct worker_config *cfg, struct worker_ready *r, int ep)
{
    struct epoll_event evs[8];
    int n;

    if (cfg->nlfds < 2 || r->mask == (uint32_t)((1ULL << cfg->nlfds) - 1))
        return;
    n = epoll_wait(ep, evs, 8, 0);
    worker_mark_ready(cfg, r, evs, n);
}

int worker_epoll(const struct worker_config *cfg)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep < 0)
        return -errno;
    ev.data.fd = worker_wake_fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, worker_wake_fd, &ev) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->nlfds; i++) {
        if (cfg->lfds[i] < 0) /* a listener a reload removed */
            continue;
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ev.data.fd = cfg->lfds[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cfg->lfds[i], &ev) < 0)
            goto fail;
    }
    return ep;
fail:
    close(ep);
    return -errno;
}

/* SIGUSR1 arrived: reopen the log file after rotation. */
static void worker_reopen_log(void)
{
    int rc;

    worker_reopen = 0;
    worker_wake_drain(); /* or an idle worker would spin in epoll_wait */
    if ((rc = worker_logs_reopen()) < 0)
        log_error("cannot reopen the log files: %s", strerror(-rc));
}

void worker_wake_drain(void)
{
    uint64_t v;

    if (read(worker_wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_warn("worker: eventfd: %s", strerror(errno));
}

void worker_reopen_check(void)
{
    if (worker_reopen)
        worker_reopen_log();
}

bool worker_cut_take(void)
{
    bool cut = worker_cut != 0;

    worker_cut = 0;
    return cut;
}

int worker_logs_reopen(void)
{
    int a = log_reopen(), b = access_reopen();

    if (a < 0 || b < 0)
        return a < 0 ? a : b;
    return a > 0 || b > 0;
}

static bool worker_out_of_resources(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* accept() failed for want of resources: report (once per interval) and
 * wait a little, waking at once for a stop. The listener stays readable,
 * so only the wake fd is watched. */
static void worker_pause(struct log_rl *rl, int err)
{
    struct pollfd wake = {.fd = worker_wake_fd, .events = POLLIN};
    unsigned missed;

    if (log_rl_allow(rl, clock_now_ns(), &missed))
        log_warn("accept: %s: accepting paused, retrying every %d ms (%u failed so far)",
                 strerror(-err), WORKER_PAUSE_MS, rl->failures);
    poll(&wake, 1, WORKER_PAUSE_MS);
}

/* A connection was accepted: if accepting had been paused, say it is over. */
static void worker_resume(struct log_rl *rl)
{
    unsigned failures;
    double secs;

    if (log_rl_end(rl, clock_now_ns(), &secs, &failures))
        log_info("accepting again after %.1f s paused (%u failed accepts)", secs, failures);
}

int worker_unlisten(const struct worker_config *cfg, int ep)
{
    for (size_t i = 0; i < cfg->nlfds; i++) {
        if (cfg->lfds[i] >= 0 && epoll_ctl(ep, EPOLL_CTL_DEL, cfg->lfds[i], NULL) < 0 &&
            errno != ENOENT)
            return -errno;
    }
    return 0;
}

/*
 * Leaving while the pool goes on (a rolling restart, a resize, --max-requests):
 * with EPOLLEXCLUSIVE, a connection that arrived since this worker last
 * waited may have woken this worker alone, and nobody else would hear of
 * it until the next one came. So the listeners leave the epoll set first
 * (from then on every wake-up goes to a worker that stays), then what is
 * already pending is served here, up to a batch. A shutdown has shut the
 * listeners: accept() fails at once.
 */
static void worker_drain(const struct worker_config *cfg, int ep)
{
    struct worker_ready ready = {.mask = (uint32_t)((1ULL << cfg->nlfds) - 1), .ep = -1};
    struct sockaddr_storage peer;
    size_t which = 0;
    int fd;

    if (worker_unlisten(cfg, ep) < 0)
        return;
    for (int i = 0; i < WORKER_DRAIN_MAX && !worker_abort; i++) {
        fd = worker_accept(cfg, &ready, (struct sockaddr *)&peer, &which);
        if (fd < 0)
            return;
        worker_serve_one(&cfg->serve, cfg->protos[which], (unsigned)which, fd,
                         (struct sockaddr *)&peer, clock_now_ns());
    }
}

int worker_run(const struct worker_config *cfg)
{
    struct log_rl pause = {.interval_ns = 0}; /* accept failing for want of resources */
    struct sockaddr_storage peer;
    struct epoll_event evs[8];
    struct worker_ready ready = {.mask = (uint32_t)((1ULL << cfg->nlfds) - 1), .ep = -1};
    size_t which = 0;
    uint64_t accepted = 0; /* --max-requests */
    bool relieved = false; /* ...and another worker accepts: waiting for the stop */
    int ep, rc = 0;

    ep = worker_epoll(cfg);
    if (ep < 0) {
        log_error("worker: epoll: %s", strerror(-ep));
        return 1;
    }
    ready.ep = ep;
    sb_worker_start(cfg->serve.env.slot, getpid());
    while (!worker_quit) {
        int fd;

        if (worker_reopen) /* between connections: never mid-line */
            worker_reopen_log();
        if (!relieved && worker_relieved(cfg, accepted))
            relieved = worker_unlisten(cfg, ep) == 0;
        fd = relieved ? -EAGAIN : worker_accept(cfg, &ready, (struct sockaddr *)&peer, &which);

        if (fd >= 0) {
            worker_resume(&pause);
            worker_count_conn(cfg, &accepted);
            worker_serve_one(&cfg->serve, cfg->protos[which], (unsigned)which, fd,
                             (struct sockaddr *)&peer, clock_now_ns());
            sb_set_state(cfg->serve.env.slot, SB_IDLE);
            worker_refresh_ready(cfg, &ready, ep);
        } else if (fd == -EAGAIN) {
            int n = epoll_wait(ep, evs, 8, -1); /* EINTR: the loop re-checks */

            for (int i = 0; i < n; i++) { /* the flags are the truth: never spin on it */
                if (evs[i].data.fd == worker_wake_fd)
                    worker_wake_drain();
            }
            worker_mark_ready(cfg, &ready, evs, n);
        } else if (worker_out_of_resources(fd)) {
            worker_pause(&pause, fd);
        } else if (fd == -EINVAL) {
            /* The master shut the listeners down: it is stopping. */
            log_debug("listening sockets shut down: leaving");
            break;
        } else if (fd != -ECONNABORTED && fd != -EINTR && fd != -EPROTO && fd != -EPERM) {
            log_error("accept: %s", strerror(-fd));
            rc = 1;
            break;
        }
        if (worker_abort) {
            rc = 1;
            break;
        }
    }
    if (rc == 0)
        worker_drain(cfg, ep);
    sb_set_state(cfg->serve.env.slot, SB_EXITING);
    close(ep);
    return rc;
}
