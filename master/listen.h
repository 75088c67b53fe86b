/*
 * listen: the master's listening sockets. Every socket option a worker's
 * connections need is set here once, on the listener, and inherited by
 * accept(), so serving a connection costs few setsockopt() calls:
 * SO_SNDTIMEO (--io-timeout) bounds each blocking write; SO_RCVTIMEO
 * (--request-timeout) bounds the one blocking read, of the client's READY
 * byte after the response (the request itself is read against a deadline
 * with poll(), so trickling bytes cannot stretch it); TCP_NODELAY and a cap
 * on unsent data (TCP_NOTSENT_LOWAT). TCP_DEFER_ACCEPT hands a connection
 * to accept() only once request bytes have arrived, so a worker rarely
 * waits for its first read; a client that connects and says nothing
 * reaches a worker only after --request-timeout, to be cut after one more.
 */
#ifndef FERRY_LISTEN_H
#define FERRY_LISTEN_H

#include "common/addr.h"

#include <stddef.h>

#define LSN_MAX 8 /* addresses a host name may bring */

struct lsn_options {
    unsigned backlog;
    unsigned io_timeout;      /* seconds */
    unsigned request_timeout; /* seconds */
};

/* The listening sockets; names stay valid after lsn_close(), for reports. */
struct listeners {
    int fds[LSN_MAX];                  /* -1 once closed */
    char names[LSN_MAX][ADDR_STR_MAX]; /* "127.0.0.1:4242" */
    size_t n;
};

/*
 * Resolves host and port and listens on every address (non-blocking,
 * close-on-exec). With port 0 the first address picks a free port and the
 * others reuse it. Returns 0, or -errno (-EADDRINUSE...), or -EHOSTUNREACH
 * when the name does not resolve; *where names the address that failed.
 */
int lsn_open(struct listeners *ls, const char *host, const char *port,
             const struct lsn_options *opt, char *where, size_t wherelen);

/*
 * Stops every listener for every process that shares it: new connections
 * are refused and those still in the accept queue are reset, while the
 * descriptors stay open (a worker's copy is unaffected as a descriptor,
 * but its accept() fails with EINVAL). Async-signal-safe.
 */
void lsn_shutdown(const int *fds, size_t n);

/* A listener's accept queue. */
struct lsn_queue {
    unsigned queued;  /* connections waiting for accept() */
    unsigned backlog; /* the most that may wait */
};

/* Reads listener i's queue (TCP_INFO). Returns 0, or -EBADF once closed,
 * or -errno. */
int lsn_queue(const struct listeners *ls, size_t i, struct lsn_queue *q);

/* Closes them all (fds become -1; the names stay). Idempotent. */
void lsn_close(struct listeners *ls);

#endif
