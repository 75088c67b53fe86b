/*
 * listen: the master's listening sockets. Every socket option a worker's
 * connections need is set here once, on the listener, and inherited by
 * accept(): the I/O timeout (SO_RCVTIMEO/SO_SNDTIMEO), TCP_NODELAY and a
 * cap on unsent data (TCP_NOTSENT_LOWAT), so serving a connection costs no
 * setsockopt() at all. TCP_DEFER_ACCEPT hands a connection to accept() only
 * once its request bytes have arrived, so a worker never sleeps in its
 * first read; a client that connects and says nothing reaches a worker only
 * after that many seconds (the I/O timeout), to be dropped after one more.
 */
#ifndef FERRY_LISTEN_H
#define FERRY_LISTEN_H

#include <stddef.h>

#define LSN_MAX 8 /* addresses a host name may bring */

struct lsn_options {
    unsigned backlog;
    unsigned io_timeout; /* seconds */
};

struct listeners {
    int fds[LSN_MAX];
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

/* Closes them all. */
void lsn_close(struct listeners *ls);

#endif
