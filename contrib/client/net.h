/*
 * net: the client's side of a connection: connect to the first address of
 * a host that answers, read and write whole buffers, and receive at a
 * limited rate (--rate) so that the server sees a slow reader.
 */
#ifndef FERRY_CLIENT_NET_H
#define FERRY_CLIENT_NET_H

#include "contrib/client/client.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A token bucket: bytes may be received as fast as tokens accrue. */
struct net_rate {
    uint64_t rate; /* bytes per second; 0: unlimited */
    double burst;  /* the bucket's size, and the most one recv() takes */
    double tokens;
    int64_t last_ns; /* when tokens was last topped up */
};

/*
 * Connects to o->host port o->port, trying every address the name
 * resolves to, in order, each bounded by o->timeout_ms (which also bounds
 * every later read and write). With o->rate the receive buffer is sized to
 * the rate, so the kernel does not read far ahead of the pacing. Returns
 * the socket, or -1 with e set (EX_CONNECT).
 */
int net_connect(const struct client_opts *o, struct client_err *e);

/* Reads exactly len bytes. Returns len, the count read before EOF, or -1
 * with errno set (EAGAIN: the timeout passed). */
ssize_t net_read_full(int fd, void *buf, size_t len);

/* Writes all len bytes to a file or a socket. Returns 0 or -1 with errno. */
int net_write_all(int fd, const void *buf, size_t len);

/* Starts a bucket for bytes_per_s (0: unlimited), full. */
void net_rate_init(struct net_rate *r, uint64_t bytes_per_s);

/* recv() of at most len bytes, first sleeping until the bucket allows at
 * least min(len, burst) of them. Returns as recv() does. */
ssize_t net_recv(int fd, void *buf, size_t len, struct net_rate *r);

/* The receive buffer that suits a rate: about 0.2 s of it, 4 KiB at least. */
int net_rcvbuf_for(uint64_t rate);

#endif
