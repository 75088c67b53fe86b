/*
 * serve: one connection of protocol v1, from request to close.
 *
 * Every wait is bounded, so a slow client costs a bounded time, never a
 * worker:
 *  - the whole request must arrive within --request-timeout of accept
 *    (read against that deadline with poll(); bytes trickling in do not
 *    extend it), and the READY byte within --request-timeout of the
 *    response (SO_RCVTIMEO, inherited from the listener);
 *  - each write must make progress within --io-timeout (SO_SNDTIMEO, or
 *    poll() while sending a large body non-blocking).
 * A stop request (*stop, with wake_fd to interrupt the wait) cuts a
 * connection still sending its request at once; a transfer in flight
 * (answered, waiting for READY or sending) runs to its end unless *abort
 * is set. Nothing a client does can end the process: every outcome is
 * returned in a serve_result for the caller to log.
 */
#ifndef FERRY_SERVE_H
#define FERRY_SERVE_H

#include "common/scoreboard.h"
#include "common/wire.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What every connection of a process shares. */
struct serve_ctx {
    int dirfd;              /* the served directory, O_DIRECTORY|O_PATH */
    size_t chunk;           /* bytes per sendfile() call */
    int io_timeout_ms;      /* bound on waiting for room to send */
    int request_timeout_ms; /* bound on the request, and on READY */
    struct sb_slot *slot;   /* this process's scoreboard slot */
    /* Readable when the process is asked to stop: wakes a wait for request
     * bytes (-1: none). serve drains it; the flags are the truth. */
    int wake_fd;
    /* When set and non-zero: the process is stopping; a connection that
     * has not sent its whole request is cut. */
    const volatile sig_atomic_t *stop;
    /* When set and non-zero, a system call interrupted by a signal ends
     * the connection ("cut by shutdown") instead of resuming. */
    const volatile sig_atomic_t *abort;
};

/* How a connection ended. */
struct serve_result {
    bool answered;                    /* a FILE_RESPONSE went out */
    enum wire_status status;          /* valid when answered */
    bool refused;                     /* the client sent REFUSE */
    uint64_t size;                    /* announced content size */
    uint64_t sent;                    /* content bytes sent */
    char name[WIRE_NAME_MAX * 4 + 4]; /* requested name, escaped for logs */
    const char *problem;              /* connection-level trouble, or NULL */
    const char *phase;                /* when: "request", "response", "ready", "content" */
    int err;                          /* errno behind problem, or 0 */
    bool server_fault;                /* problem was ours, not the client's */
};

/* Serves the connection on fd (which it closes) from peer, accepted at
 * accepted_ns (CLOCK_MONOTONIC): the request deadline counts from there. */
void serve_conn(const struct serve_ctx *ctx, int fd, const struct sockaddr *peer,
                int64_t accepted_ns, struct serve_result *res);

#endif
