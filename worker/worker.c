/*
 * worker: the accept loop of an iterative server. See worker.h.
 *
 * Stopping without a race: SIGTERM's handler sets worker_quit and writes to
 * an eventfd that sits in the worker's epoll set, so a worker about to wait
 * for connections wakes at once however the signal and the wait interleave.
 * The loop tries accept() first and waits only when nothing is pending:
 * under load a connection costs one accept4() and no epoll_wait().
 * Listeners are registered with EPOLLEXCLUSIVE so one connection wakes one
 * idle worker, not the whole pool.
 */
#include "worker/worker.h"

#include "common/addr.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define WORKER_PAUSE_MS 100 /* after EMFILE and friends */

static volatile sig_atomic_t worker_quit;
static volatile sig_atomic_t worker_abort;
static volatile sig_atomic_t worker_reopen; /* SIGUSR1: reopen the log file */
static int worker_wake_fd = -1;
static bool worker_standalone;
static volatile unsigned worker_deadline; /* written by another thread before kill() */

/*
 * SIGTERM/SIGINT: stop after the connection in hand. Standalone, the first
 * one arms the shutdown deadline; the second one, or the deadline
 * (SIGALRM), sets worker_abort, which turns the next EINTR into the end of
 * the transfer; SIGALRM re-arms itself so a call that slipped past the
 * signal is interrupted again a second later.
 */
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

    (void)sig;
    worker_reopen = 1;
    worker_wake();
    errno = saved;
}

static void worker_on_signal(int sig)
{
    int saved = errno;

    if (sig == SIGALRM || (worker_quit && worker_standalone)) {
        worker_abort = 1;
        alarm(1);
    } else if (!worker_quit && worker_standalone) {
        if (worker_deadline > 0) {
            alarm(worker_deadline);
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
    worker_deadline = cfg->shutdown_timeout;
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
        sigaction(SIGALRM, &sa, NULL) < 0)
        return -errno;
    sa.sa_handler = worker_on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* restarts are the master's business, not a hangup's */
    return 0;
}

void worker_request_stop(bool graceful, int timeout_s)
{
    /* Through the signal handler, so that a blocking call in the serving
     * thread is interrupted exactly as by an operator's signal. */
    if (graceful && timeout_s >= 0)
        worker_deadline = (unsigned)timeout_s;
    kill(getpid(), graceful ? SIGTERM : SIGALRM);
}

bool worker_stop_requested(void)
{
    return worker_quit != 0;
}

const volatile sig_atomic_t *worker_abort_flag(void)
{
    return &worker_abort;
}

void worker_serve_one(const struct serve_ctx *ctx, int fd, const struct sockaddr *peer)
{
    char addr[ADDR_STR_MAX], problem[160] = "";
    struct serve_result res;
    int64_t t0 = clock_now_ns();
    enum log_level level;

    serve_conn(ctx, fd, peer, &res);
    level = res.server_fault ? LOG_WARN : LOG_INFO;
    if (level > log_get_level())
        return; /* nothing to format: the common case under load */
    addr_format(peer, addr);
    if (res.problem != NULL)
        snprintf(problem, sizeof(problem), " problem=\"%s%s%s\" during=%s", res.problem,
                 res.err ? ": " : "", res.err ? strerror(res.err) : "", res.phase);
    log_msg(level, "conn %s file=\"%s\" status=%s bytes=%llu/%llu time=%.3fms%s%s", addr, res.name,
            res.answered ? wire_status_name(res.status) : "-", (unsigned long long)res.sent,
            (unsigned long long)res.size, (double)(clock_now_ns() - t0) / 1e6,
            res.refused ? " refused" : "", problem);
}

/* Accepts from the next listener with a pending connection. Returns the
 * fd, or -EAGAIN when none is pending, or another -errno. */
static int worker_accept(const struct worker_config *cfg, size_t *next, struct sockaddr *peer)
{
    int err = -EAGAIN;

    for (size_t i = 0; i < cfg->nlfds; i++) {
        size_t k = (*next + i) % cfg->nlfds;
        socklen_t len = sizeof(struct sockaddr_storage);
        int fd = accept4(cfg->lfds[k], peer, &len, SOCK_CLOEXEC);

        if (fd >= 0) {
            *next = k + 1; /* round-robin across listeners */
            return fd;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            err = -errno;
    }
    return err;
}

static int worker_epoll(const struct worker_config *cfg)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep < 0)
        return -errno;
    ev.data.fd = worker_wake_fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, worker_wake_fd, &ev) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->nlfds; i++) {
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
    uint64_t v;
    int rc;

    worker_reopen = 0;
    /* Reset the wake-up, or an idle worker would spin in epoll_wait. */
    if (read(worker_wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_warn("worker: eventfd: %s", strerror(errno));
    if ((rc = log_reopen()) < 0)
        log_error("cannot reopen the log file: %s", strerror(-rc));
}

int worker_run(const struct worker_config *cfg)
{
    struct sockaddr_storage peer;
    struct epoll_event evs[8];
    size_t next = 0;
    int ep, rc = 0;

    ep = worker_epoll(cfg);
    if (ep < 0) {
        log_error("worker: epoll: %s", strerror(-ep));
        return 1;
    }
    sb_worker_start(cfg->serve.slot, getpid());
    while (!worker_quit) {
        int fd;

        if (worker_reopen) /* between connections: never mid-line */
            worker_reopen_log();
        fd = worker_accept(cfg, &next, (struct sockaddr *)&peer);

        if (fd >= 0) {
            worker_serve_one(&cfg->serve, fd, (struct sockaddr *)&peer);
            sb_set_state(cfg->serve.slot, SB_IDLE);
        } else if (fd == -EAGAIN) {
            epoll_wait(ep, evs, 8, -1); /* EINTR: the loop re-checks */
        } else if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            struct pollfd wake = {.fd = worker_wake_fd, .events = POLLIN};

            /* The listener stays readable: wait on the wake fd alone. */
            log_warn("accept: %s; pausing %d ms", strerror(-fd), WORKER_PAUSE_MS);
            poll(&wake, 1, WORKER_PAUSE_MS);
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
    sb_set_state(cfg->serve.slot, SB_EXITING);
    close(ep);
    return rc;
}
