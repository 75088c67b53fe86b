/*
 * listen: the master's listening sockets. A listener is a protocol and an
 * address; the options a protocol needs follow from it (common/proto.h)
 * and are set here once, on the listener, to be inherited by accept():
 * TCP_NODELAY and a cap on unsent data (TCP_NOTSENT_LOWAT) for all, and
 * TCP_DEFER_ACCEPT where the client speaks first, so that a connection
 * reaches a worker only once its first bytes arrived (a client that
 * connects and says nothing reaches a worker only after the request
 * timeout, to be cut at once). "::" serves IPv4 too (dual-stack) unless
 * ipv6_only; any other IPv6 address is IPv6 only.
 */
#ifndef FERRY_LISTEN_H
#define FERRY_LISTEN_H

#include "common/addr.h"
#include "common/proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LSN_MAX PROTO_LISTENERS_MAX /* every --listen, every address it brings */

struct lsn_options {
    unsigned backlog;
    unsigned defer_accept; /* seconds a silent connection waits in the kernel */
    bool ipv6_only;        /* "::" serves IPv6 only */
    unsigned sndbuf;       /* SO_SNDBUF of every connection (0: the kernel's autotuning) */
};

/* What a listener was opened for: its protocol, host and port as the
 * configuration gave them (a reload keeps a listener whose key it still
 * names, port 0 included). */
#define LSN_KEY_MAX (ADDR_HOST_MAX + 24)

/* The listening sockets; names stay valid after lsn_close(), for reports.
 * A listener's index is its identity in the scoreboard's rows: one that a
 * reload removes leaves a hole (fd -1, name ""), never reused, so that its
 * figures are never taken for another's. */
struct listeners {
    int fds[LSN_MAX];                  /* -1 once closed */
    uint8_t proto[LSN_MAX];            /* enum proto */
    char names[LSN_MAX][ADDR_STR_MAX]; /* "127.0.0.1:4242", "[::]:8080"; "": removed */
    char keys[LSN_MAX][LSN_KEY_MAX];   /* what it was opened for (lsn_key()) */
    size_t n;
    /* The master's own (metrics): served by its admin loop, never handed
     * to a worker, and left open while the pool drains. */
    int web_fds[LSN_MAX];
    char web_names[LSN_MAX][ADDR_STR_MAX];
    char web_keys[LSN_MAX][LSN_KEY_MAX];
    size_t nweb;
    /* The hub's (UDP): handed to the hub's process alone. */
    int hub_fds[LSN_MAX];
    char hub_names[LSN_MAX][ADDR_STR_MAX];
    char hub_keys[LSN_MAX][LSN_KEY_MAX];
    size_t nhub;
    /* Between the workers and the hub, for uploads (common/hubipc.h): the
     * hub reads hub_ipc[0], every worker writes hub_ipc[1]. */
    int hub_ipc[2];
    bool hub_ipc_open;
};

/*
 * Resolves host and port and adds a listener speaking proto on every
 * address (non-blocking, close-on-exec) to ls. With port 0 the first
 * address picks a free port and the others reuse it. Returns 0, or -errno
 * (-EADDRINUSE...; -EMFILE beyond LSN_MAX), or -EHOSTUNREACH when the name
 * does not resolve; *where names the address that failed. On failure the
 * listeners already in ls stay open: the caller closes them all.
 */
int lsn_open(struct listeners *ls, enum proto proto, const char *host, const char *port,
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

/* Says why lsn_open() failed with rc. */
const char *lsn_strerror(int rc);

/* The key of a listener for proto on host and port, into buf
 * (LSN_KEY_MAX). */
const char *lsn_key(enum proto proto, const char *host, const char *port, char *buf);

/* True when a workers' listener is open for key. */
bool lsn_has(const struct listeners *ls, const char *key);

/* Adds fd, a listening socket for proto opened by another process (the
 * master this one replaces) for key, as lsn_open() adds its own. Returns
 * 0, or -EMFILE beyond LSN_MAX. */
int lsn_adopt(struct listeners *ls, enum proto proto, int fd, const char *key);

/* Every open listener of every group, for a hand-down: fds[i] is named
 * keys[i]. Returns how many (at most max). */
size_t lsn_all(const struct listeners *ls, int *fds, const char **keys, size_t max);

/* Closes workers' listener i for good (a reload removed it): shut down
 * for every process that holds it, and a hole. */
void lsn_remove(struct listeners *ls, size_t i);

/* True when a reload removed workers' listener i (its figures are no
 * longer reported). */
static inline bool lsn_removed(const struct listeners *ls, size_t i)
{
    return ls->names[i][0] == '\0';
}

/* Closes the workers' listeners (fds become -1; the names stay).
 * Idempotent. */
void lsn_close(struct listeners *ls);

/* Closes the master's own listeners (once nothing polls them). */
void lsn_close_web(struct listeners *ls);

/* Makes the workers' channel to the hub (hub_ipc), once there is a hub
 * listener. Returns 0 or -errno. */
int lsn_open_hub_ipc(struct listeners *ls);

/* Closes the hub's (the master's copies; the hub's process has its own),
 * and the channel to it. */
void lsn_close_hub(struct listeners *ls);

#endif
