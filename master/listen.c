/*
 * listen: opening the listening sockets. See listen.h.
 */
#include "master/listen.h"

#include "common/addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Unsent bytes a connection may queue: more only adds latency and, on a
 * single fast stream, measurably lowers throughput (docs/BENCHMARKS.md).
 */
#define LSN_NOTSENT_LOWAT (256 * 1024)

static int lsn_setopts(int fd, int family, const struct lsn_options *opt)
{
    struct timeval snd = {.tv_sec = opt->io_timeout}, rcv = {.tv_sec = opt->request_timeout};
    int one = 1, lowat = LSN_NOTSENT_LOWAT, defer = (int)opt->request_timeout;

    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)) < 0)
        return -errno;
    return 0;
}

static void lsn_set_port(struct sockaddr *sa, unsigned port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* Opens one listener on ai. Returns the fd or -errno. */
static int lsn_open_one(const struct addrinfo *ai, const struct lsn_options *opt)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int err;

    if (fd < 0)
        return -errno;
    if ((err = lsn_setopts(fd, ai->ai_family, opt)) < 0)
        goto fail;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, (int)opt->backlog) < 0) {
        err = -errno;
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return err;
}

int lsn_open(struct listeners *ls, const char *host, const char *port,
             const struct lsn_options *opt, char *where, size_t wherelen)
{
    struct addrinfo *res = NULL;
    unsigned chosen = 0;
    int rc = 0, fd;

    ls->n = 0;
    snprintf(where, wherelen, "%s port %s", host, port);
    if (addr_resolve(host, port, true, &res) != 0)
        return -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai != NULL && ls->n < LSN_MAX; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (chosen != 0)
            lsn_set_port(ai->ai_addr, chosen);
        fd = lsn_open_one(ai, opt);
        if (fd < 0) {
            /* A name may bring a family this host lacks; the rest serve. */
            if ((fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) && (ai->ai_next || ls->n > 0))
                continue;
            char addr[ADDR_STR_MAX];
            snprintf(where, wherelen, "%s", addr_format(ai->ai_addr, addr));
            rc = fd;
            break;
        }
        ls->fds[ls->n] = fd;
        snprintf(ls->names[ls->n], sizeof(ls->names[0]), "?");
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
            chosen = addr_port((struct sockaddr *)&ss);
            addr_format((struct sockaddr *)&ss, ls->names[ls->n]);
        }
        ls->n++;
    }
    freeaddrinfo(res);
    if (rc == 0 && ls->n == 0)
        rc = -EADDRNOTAVAIL;
    if (rc < 0) {
        lsn_close(ls);
        ls->n = 0;
    }
    return rc;
}

int lsn_queue(const struct listeners *ls, size_t i, struct lsn_queue *q)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (i >= ls->n || ls->fds[i] < 0)
        return -EBADF;
    if (getsockopt(ls->fds[i], IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -errno;
    /* For a listening socket the kernel reports the accept queue's length
     * in tcpi_unacked and its limit in tcpi_sacked. */
    q->queued = ti.tcpi_unacked;
    q->backlog = ti.tcpi_sacked;
    return 0;
}

void lsn_shutdown(const int *fds, size_t n)
{
    /* On a listening TCP socket, shutdown(SHUT_RD) moves it to CLOSE: the
     * kernel stops answering SYNs for every process holding it. */
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0)
            shutdown(fds[i], SHUT_RDWR);
    }
}

void lsn_close(struct listeners *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->fds[i] >= 0)
            close(ls->fds[i]);
        ls->fds[i] = -1;
    }
}
