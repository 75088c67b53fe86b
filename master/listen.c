/*
 * listen: opening the listening sockets. See listen.h.
 */
#include "master/listen.h"

#include "common/addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Unsent bytes a connection may queue: more only adds latency and, on a
 * single fast stream, measurably lowers throughput (docs/BENCHMARKS.md).
 */
#define LSN_NOTSENT_LOWAT (256 * 1024)

/* True when sa is the IPv6 unspecified address, "::". */
static bool lsn_any6(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int lsn_setopts(int fd, const struct sockaddr *sa, enum proto proto,
                       const struct lsn_options *opt)
{
    /* "::" is dual-stack unless --ipv6-only; any other v6 address is v6 only
     * (so "::1" and "127.0.0.1" can both be bound on one port). */
    int one = 1, lowat = LSN_NOTSENT_LOWAT, defer = (int)opt->defer_accept;
    int v6only = opt->ipv6_only || !lsn_any6(sa);

    /* Not for UDP: there SO_REUSEADDR lets any local user bind the same
     * port beside us and take its datagrams (plain logins among them). */
    if ((!proto_datagram(proto) &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0))
        return -errno;
    if (proto_datagram(proto)) /* UDP: none of TCP's options */
        return 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) < 0)
        return -errno;
    /* Deferred accept only where the client speaks first: a protocol where
     * the server speaks first would never see its connection. */
    if (proto_client_first(proto) && defer > 0 &&
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)) < 0)
        return -errno;
    if (proto_cork_at_accept(proto) && setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) < 0)
        return -errno;
    /* Accepted connections inherit it, and with it lose autotuning: for
     * experiments with flow control (contrib/bench/slow-receiver.sh). */
    if (opt->sndbuf > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){(int)opt->sndbuf}, sizeof(int)) < 0)
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
static int lsn_open_one(const struct addrinfo *ai, enum proto proto, const struct lsn_options *opt)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int err;

    if (fd < 0)
        return -errno;
    if ((err = lsn_setopts(fd, ai->ai_addr, proto, opt)) < 0)
        goto fail;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        (!proto_datagram(proto) && listen(fd, (int)opt->backlog) < 0)) {
        err = -errno;
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return err;
}

/* Listeners of all three groups. */
static size_t lsn_count(const struct listeners *ls)
{
    return ls->n + ls->nweb + ls->nhub;
}

/* Records a new listener in its protocol's group (the workers', the
 * master's own, the hub's); the first one's port is the one the others
 * of the name reuse. */
static void lsn_add(struct listeners *ls, enum proto proto, int fd, const char *key,
                    unsigned *chosen)
{
    enum proto_home home = proto_home(proto);
    size_t i;
    char *name;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (home == PROTO_HOME_MASTER) {
        i = ls->nweb++;
        ls->web_fds[i] = fd;
        snprintf(ls->web_keys[i], LSN_KEY_MAX, "%s", key);
        name = ls->web_names[i];
    } else if (home == PROTO_HOME_HUB) {
        i = ls->nhub++;
        ls->hub_fds[i] = fd;
        snprintf(ls->hub_keys[i], LSN_KEY_MAX, "%s", key);
        name = ls->hub_names[i];
    } else {
        i = ls->n++;
        ls->fds[i] = fd;
        ls->proto[i] = (uint8_t)proto;
        snprintf(ls->keys[i], LSN_KEY_MAX, "%s", key);
        name = ls->names[i];
    }
    snprintf(name, ADDR_STR_MAX, "?");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        *chosen = addr_port((struct sockaddr *)&ss);
        addr_format((struct sockaddr *)&ss, name);
    }
}

int lsn_open(struct listeners *ls, enum proto proto, const char *host, const char *port,
             const struct lsn_options *opt, char *where, size_t wherelen)
{
    struct addrinfo *res = NULL;
    size_t first = lsn_count(ls);
    unsigned chosen = 0;
    int rc = 0, fd;
    char key[LSN_KEY_MAX];

    snprintf(where, wherelen, "%s=%s port %s", proto_name(proto), host, port);
    if (addr_resolve_type(host, port, true, proto_datagram(proto) ? SOCK_DGRAM : SOCK_STREAM,
                          &res) != 0)
        return -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (lsn_count(ls) == LSN_MAX) {
            rc = -EMFILE; /* more addresses than listeners allowed */
            break;
        }
        if (chosen != 0)
            lsn_set_port(ai->ai_addr, chosen);
        fd = lsn_open_one(ai, proto, opt);
        if (fd < 0) {
            /* A name may bring a family this host lacks; the rest serve. */
            if ((fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) &&
                (ai->ai_next || lsn_count(ls) > first))
                continue;
            char addr[ADDR_STR_MAX];
            snprintf(where, wherelen, "%s=%s", proto_name(proto), addr_format(ai->ai_addr, addr));
            rc = fd;
            break;
        }
        lsn_add(ls, proto, fd, lsn_key(proto, host, port, key), &chosen);
    }
    freeaddrinfo(res);
    if (rc == 0 && lsn_count(ls) == first)
        rc = -EADDRNOTAVAIL;
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

int lsn_adopt(struct listeners *ls, enum proto proto, int fd, const char *key)
{
    unsigned chosen;

    if (lsn_count(ls) == LSN_MAX)
        return -EMFILE;
    lsn_add(ls, proto, fd, key, &chosen);
    return 0;
}

size_t lsn_all(const struct listeners *ls, int *fds, const char **keys, size_t max)
{
    size_t k = 0;

    for (size_t i = 0; i < ls->n && k < max; i++) {
        if (ls->fds[i] >= 0) {
            fds[k] = ls->fds[i];
            keys[k++] = ls->keys[i];
        }
    }
    for (size_t i = 0; i < ls->nweb && k < max; i++) {
        if (ls->web_fds[i] >= 0) {
            fds[k] = ls->web_fds[i];
            keys[k++] = ls->web_keys[i];
        }
    }
    for (size_t i = 0; i < ls->nhub && k < max; i++) {
        if (ls->hub_fds[i] >= 0) {
            fds[k] = ls->hub_fds[i];
            keys[k++] = ls->hub_keys[i];
        }
    }
    return k;
}

const char *lsn_strerror(int rc)
{
    return rc == -EHOSTUNREACH ? "cannot resolve the address"
           : rc == -EADDRINUSE ? "address already in use"
           : rc == -EMFILE     ? "too many listeners (16 over ferryd's life)"
                               : strerror(-rc);
}

const char *lsn_key(enum proto proto, const char *host, const char *port, char *buf)
{
    snprintf(buf, LSN_KEY_MAX, "%s=%s %s", proto_name(proto), host, port);
    return buf;
}

bool lsn_has(const struct listeners *ls, const char *key)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->fds[i] >= 0 && strcmp(ls->keys[i], key) == 0)
            return true;
    }
    return false;
}

void lsn_remove(struct listeners *ls, size_t i)
{
    if (ls->fds[i] >= 0) {
        /* Shut for every process that holds it (the old workers, fork
         * mode's children): a new client is refused at once rather than
         * queued where nobody will accept it. */
        shutdown(ls->fds[i], SHUT_RDWR);
        close(ls->fds[i]);
    }
    ls->fds[i] = -1;
    ls->names[i][0] = '\0';
    ls->keys[i][0] = '\0';
}

void lsn_close(struct listeners *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->fds[i] >= 0)
            close(ls->fds[i]);
        ls->fds[i] = -1;
    }
}

void lsn_close_web(struct listeners *ls)
{
    for (size_t i = 0; i < ls->nweb; i++) {
        if (ls->web_fds[i] >= 0)
            close(ls->web_fds[i]);
        ls->web_fds[i] = -1;
    }
}

int lsn_open_hub_ipc(struct listeners *ls)
{
    /* A pair, not a named socket: only ferryd's own processes reach it. */
    if (ls->hub_ipc_open || ls->nhub == 0)
        return 0;
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ls->hub_ipc) < 0)
        return -errno;
    ls->hub_ipc_open = true;
    return 0;
}

void lsn_close_hub(struct listeners *ls)
{
    if (ls->hub_ipc_open) {
        close(ls->hub_ipc[0]);
        close(ls->hub_ipc[1]);
        ls->hub_ipc_open = false;
    }
    for (size_t i = 0; i < ls->nhub; i++) {
        if (ls->hub_fds[i] >= 0)
            close(ls->hub_fds[i]);
        ls->hub_fds[i] = -1;
    }
}
