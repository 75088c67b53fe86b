/*
 * worker: an iterative server, one connection at a time, on the listening
 * sockets it inherited. Runs in prefork workers and, standalone, as the
 * whole of ferryd in iterative mode.
 */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include "worker/serve.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* The master's request to an event worker: close the connections whose
 * records carry a cut_ns (the watchdog found them stuck). */
#define WORKER_SIG_CUT SIGWINCH

/* The admin socket's graceful stop, in iterative mode: the admin thread
 * signals the serving one, so that a blocking call is interrupted as by an
 * operator's SIGTERM. A signal no operator sends (SIGUSR2 is the binary
 * upgrade's, docs/UPGRADE.md). */
#define WORKER_SIG_ADMIN_STOP (SIGRTMIN + 1)

struct worker_config {
    const int *lfds;       /* non-blocking listening sockets */
    const uint8_t *protos; /* what each speaks (enum proto) */
    size_t nlfds;
    struct serve_ctx serve;
    bool standalone;           /* no master above: handle shutdown itself */
    bool event;                /* an event worker (it answers WORKER_SIG_CUT) */
    unsigned shutdown_timeout; /* standalone: seconds before giving up */
    /* --max-requests: connections to accept before asking to be replaced
     * (its jitter drawn already); 0: never. */
    uint64_t max_conns;
    /* The master's doorbell (a pipe's write end, non-blocking; -1: none): a
     * byte written says "look at the slots" (worker_count_conn()). Not a
     * signal: a worker that dropped root may not signal its root master. */
    int doorbell;
};

/*
 * Installs the serving processes' signal handling: SIGTERM/SIGINT ask to
 * stop after the connection in hand (a connection still sending its
 * request is cut; standalone, the listeners are shut down at once and a
 * second signal exits 1 at once), SIGPIPE is ignored. Returns 0 or -errno.
 */
int worker_signals_init(const struct worker_config *cfg);

/*
 * Accepts and serves until asked to stop. Returns the process exit code:
 * 0 after a clean stop, 1 when the accept loop could not go on.
 */
int worker_run(const struct worker_config *cfg);

/* Returns the flag that, once set by a second signal or the shutdown
 * deadline (standalone only), makes a transfer in progress end. */
const volatile sig_atomic_t *worker_abort_flag(void);

/* Standalone: asks the serving thread to stop, as SIGTERM would (graceful;
 * timeout_s >= 0 replaces the deadline) or at once. Safe from any thread. */
void worker_request_stop(bool graceful, int timeout_s);

/* True once a stop was asked for. */
bool worker_stop_requested(void);

/* Standalone, while stopping: the shutdown timeout in force (seconds). */
unsigned worker_stop_timeout(void);

/* The flag a stop sets, and the eventfd it writes to: for serve_ctx's
 * stop and wake_fd. Valid after worker_signals_init(). */
const volatile sig_atomic_t *worker_stop_flag(void);
int worker_wake_fd_get(void);

/* Serves one connection accepted on listener (speaking proto) at
 * accepted_ns (CLOCK_MONOTONIC) and logs its outcome (fork mode's child;
 * the accept loop). */
void worker_serve_one(const struct serve_ctx *ctx, enum proto proto, unsigned listener, int fd,
                      const struct sockaddr *peer, int64_t accepted_ns);

/*
 * Shared by the accept loops (this one and the event driver's).
 */

/* Which listeners may have a connection pending, and where the next
 * accept starts. A listener found empty (EAGAIN) is not tried again until
 * epoll says it is readable, so a busy listener beside idle ones costs no
 * failed accept per connection; and after each connection, when some
 * listener is marked empty, one epoll_wait() without waiting refreshes
 * the marks, so that clients queued on two listeners are taken in turns
 * (one system call per connection, and only with several listeners). */
struct worker_ready {
    uint32_t mask; /* bit i: listener i may have a connection */
    size_t next;
    /* Bit i: listener i was shut down (a reload removed it; accept() says
     * EINVAL), and left the epoll set ep (-1: none), where a shut socket
     * would be readable for ever. */
    uint32_t dead;
    int ep;
};

/* An epoll set of the wake eventfd and every listener, the listeners with
 * EPOLLEXCLUSIVE (one connection wakes one waiting worker). Returns the
 * epoll fd or -errno. */
int worker_epoll(const struct worker_config *cfg);

/* Accepts from the next listener that may have a pending connection,
 * round-robin, so no listener starves another. Returns the fd
 * (non-blocking) with *which set, or -EAGAIN when none has one, -EINVAL
 * once every listener was shut down (the master stops), or another
 * -errno. A listener shut down while others are not is dropped. */
int worker_accept(const struct worker_config *cfg, struct worker_ready *r, struct sockaddr *peer,
                  size_t *which);

/* Removes the listeners from the epoll set ep (worker_epoll()): the
 * process is leaving, so that wake-ups go to the workers that stay.
 * Returns 0 or -errno. */
int worker_unlisten(const struct worker_config *cfg, int ep);

/* epoll said which listeners are readable (evs): they may be tried again. */
void worker_mark_ready(const struct worker_config *cfg, struct worker_ready *r,
                       const struct epoll_event *evs, int n);

/* A connection was accepted: counts it (*n) against cfg->max_conns, and
 * at the limit asks, once, to be replaced: the slot's flag, then a byte
 * on the master's doorbell. The worker serves on meanwhile, so
 * the pool never accepts with fewer workers; the master's SIGTERM ends it
 * as a rolling restart does. */
void worker_count_conn(const struct worker_config *cfg, uint64_t *n);

/* True when the worker, having accepted n connections, is at its
 * --max-requests limit and another pool worker is up to accept (read from
 * the scoreboard): it may stop accepting at once, without a gap, while the
 * master's stop is on its way. */
bool worker_relieved(const struct worker_config *cfg, uint64_t n);

/* Empties the wake eventfd (the flags are the truth). */
void worker_wake_drain(void);

/* Reopens the logs if SIGUSR1 asked for it. */
void worker_reopen_check(void);

/* True once after WORKER_SIG_CUT arrived. */
bool worker_cut_take(void);

/* Reopens the log file and the access log after rotation. Returns 0 when
 * there is neither, 1 when reopened, or -errno. */
int worker_logs_reopen(void);

/* The conn_env report: logs a request's outcome, one line (conn.h). */
void worker_report(const struct conn *c, int64_t now);

#endif
