/*
 * serve: the blocking driver. One connection at a time per process (the
 * iterative, fork and prefork modes): the socket is non-blocking, and the
 * driver polls that one socket for what the handler waits for, with the
 * handler's deadline as the poll timeout (conn.h). Nothing a client does
 * can end the process: every outcome is reported through env.report.
 *
 * A stop request (*stop, with wake_fd to interrupt the wait) cuts a
 * connection that is waiting for a request at once; a transfer in flight
 * (answered, waiting for READY or sending) runs to its end unless *abort
 * is set.
 */
#ifndef FERRY_SERVE_H
#define FERRY_SERVE_H

#include "worker/conn.h"

#include <signal.h>

/* What every connection of a process shares. */
struct serve_ctx {
    struct conn_env env;
    /* Readable when the process is asked to stop: wakes a wait for request
     * bytes (-1: none). serve drains it; the flags are the truth. */
    int wake_fd;
    /* When set and non-zero: the process is stopping; a connection that
     * is waiting for a request is cut. */
    const volatile sig_atomic_t *stop;
    /* When set and non-zero: a transfer in progress ends ("cut by shutdown"). */
    const volatile sig_atomic_t *abort;
    /* The listeners: while this process holds an idle persistent
     * connection, a client left waiting on one of them for a moment (no
     * idle process took it: the pool is full) makes it close the idle one
     * and go to accept. The moment is SERVE_YIELD_MS times 1 + rank % 8, so
     * that a full pool yields one connection at a time. NULL: never. */
    const int *lfds;
    size_t nlfds;
    unsigned rank; /* the process's slot */
};

#define SERVE_YIELD_MS 10

/* Returns the handler of a protocol. */
const struct conn_handler *serve_handler(enum proto proto);

/*
 * Serves the non-blocking socket fd (which it closes), accepted on
 * listener (speaking proto) from peer at accepted_ns (CLOCK_MONOTONIC),
 * to its end. Returns 0, or -ENOMEM when the process could not hold a
 * connection (fd is closed all the same).
 */
int serve_conn(const struct serve_ctx *ctx, enum proto proto, unsigned listener, int fd,
               const struct sockaddr *peer, int64_t accepted_ns);

#endif
