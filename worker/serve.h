/*
 * serve: one connection of protocol v1, from request to close.
 *
 * The socket is blocking; its I/O timeout (SO_RCVTIMEO/SO_SNDTIMEO) was set
 * on the listener and inherited by accept, so a stalled client costs one
 * timeout, never a worker. Nothing a client does can end the process: every
 * outcome is returned in a serve_result for the caller to log.
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
    int dirfd;            /* the served directory, O_DIRECTORY|O_PATH */
    size_t chunk;         /* bytes per sendfile() call */
    int io_timeout_ms;    /* bound on waiting for room to send */
    struct sb_slot *slot; /* this process's scoreboard slot */
    /* When set and *abort is non-zero, a system call interrupted by a
     * signal ends the connection ("cut by shutdown") instead of resuming. */
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
    const char *phase;                /* when it happened: "request", "ready", ... */
    int err;                          /* errno behind problem, or 0 */
    bool server_fault;                /* problem was ours, not the client's */
};

/* Serves the connection on fd (which it closes) from peer. */
void serve_conn(const struct serve_ctx *ctx, int fd, const struct sockaddr *peer,
                struct serve_result *res);

#endif
