/*
 * net: connecting, whole reads and writes, paced receiving. See net.h.
 */
#include "contrib/client/net.h"

#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NET_RCVBUF_MIN 4096
#define NET_RCVBUF_MAX (4 << 20)
#define NET_BURST_MAX  (1 << 20) /* the client's receive buffer */

int net_rcvbuf_for(uint64_t rate)
{
    /* The window must cover rate x RTT: Linux doubles the value, so 0.2 s
     * of the rate is a 0.4 s window, ample on any sane path, yet small
     * enough that the server's sends wait for our reads. */
    uint64_t want = rate / 5;

    if (want < NET_RCVBUF_MIN)
        return NET_RCVBUF_MIN;
    return want > NET_RCVBUF_MAX ? NET_RCVBUF_MAX : (int)want;
}

/* One attempt on one address. Returns the connected socket, or -1 with
 * errno set. */
static int net_try(const struct addrinfo *ai, const struct client_opts *o)
{
    struct timeval tv = {.tv_sec = (time_t)(o->timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(o->timeout_ms % 1000 * 1000)};
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

    if (fd < 0)
        return -1;
    /* Before connect(): the window scale is chosen at the handshake. */
    if (o->rate > 0) {
        int rcv = net_rcvbuf_for(o->rate);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    }
    /* SO_SNDTIMEO also bounds connect() on Linux. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    err = errno == EINPROGRESS ? ETIMEDOUT : errno;
    close(fd);
    errno = err;
    return -1;
}

int net_connect(const struct client_opts *o, struct client_err *e)
{
    struct addrinfo *res, *ai;
    char where[ADDR_STR_MAX];
    int fd = -1, err = 0, tried = 0, rc;

    rc = addr_resolve(o->host, o->port, false, &res);
    if (rc != 0) {
        client_fail(e, EX_CONNECT, "cannot resolve %s: %s", o->host,
                    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    /* In the resolver's order: it already sorts by RFC 6724 preference. */
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        tried++;
        fd = net_try(ai, o);
        err = fd < 0 ? errno : 0;
        if (o->verbose)
            fprintf(stderr, "* connect %s: %s\n", addr_format(ai->ai_addr, where),
                    fd < 0 ? strerror(err) : "ok");
    }
    freeaddrinfo(res);
    if (fd >= 0)
        return fd;
    if (tried > 1)
        client_fail(e, EX_CONNECT, "cannot connect to %s port %s: %s (%d addresses tried)", o->host,
                    o->port, strerror(err), tried);
    else
        client_fail(e, EX_CONNECT, "cannot connect to %s port %s: %s", o->host, o->port,
                    strerror(err));
    return -1;
}

ssize_t net_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* SIGPIPE is ignored by main(): a closed peer is EPIPE. */
int net_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void net_rate_init(struct net_rate *r, uint64_t bytes_per_s)
{
    /* A tenth of a second per read: smooth enough for the server's live
     * rate, few enough wake-ups for the client. */
    double burst = (double)bytes_per_s / 10;

    r->rate = bytes_per_s;
    r->burst = burst < 1 ? 1 : burst > NET_BURST_MAX ? NET_BURST_MAX : burst;
    r->tokens = r->burst;
    r->last_ns = clock_now_ns();
}

/* Adds the tokens earned since the last top-up, up to the bucket's size. */
static void net_rate_refill(struct net_rate *r, int64_t now)
{
    r->tokens += (double)(now - r->last_ns) * (double)r->rate / 1e9;
    if (r->tokens > r->burst)
        r->tokens = r->burst;
    r->last_ns = now;
}

/* Sleeps until the bucket holds want tokens. Pacing, not synchronisation:
 * nothing else is waited for. */
static void net_rate_wait(struct net_rate *r, double want)
{
    int64_t now = clock_now_ns();

    net_rate_refill(r, now);
    while (r->tokens < want) {
        int64_t at = now + (int64_t)((want - r->tokens) * 1e9 / (double)r->rate) + 1;
        struct timespec ts = {.tv_sec = at / 1000000000, .tv_nsec = at % 1000000000};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        now = clock_now_ns();
        net_rate_refill(r, now);
    }
}

ssize_t net_recv(int fd, void *buf, size_t len, struct net_rate *r)
{
    ssize_t n;

    if (r == NULL || r->rate == 0)
        return recv(fd, buf, len, 0);
    net_rate_wait(r, (double)len < r->burst ? (double)len : r->burst);
    if ((double)len > r->tokens)
        len = (size_t)r->tokens;
    n = recv(fd, buf, len, 0);
    if (n > 0)
        r->tokens -= (double)n;
    return n;
}
