/*
 * proto: the protocols a listener may speak, as facts both the master and
 * the workers need: the name an operator writes (`--listen http=...`) and
 * the listener options that follow from the protocol. The handlers
 * themselves live in worker/; the master never parses a client's bytes.
 */
#ifndef FERRY_PROTO_H
#define FERRY_PROTO_H

#include <stdbool.h>

/* Listeners one pool may have: --listen options times the addresses a
 * host name brings. */
#define PROTO_LISTENERS_MAX 16

enum proto {
    PROTO_NATIVE,  /* the native file protocol (docs/PROTOCOL.md) */
    PROTO_HTTP,    /* HTTP/1.1 (docs/HTTP.md) */
    PROTO_METRICS, /* the master's monitoring endpoint: /metrics, /status */
    PROTO_ECHO,    /* RFC 862 echo (docs/SERVICES.md) */
    PROTO_UPCASE,  /* echo, ASCII letters upper-cased */
    PROTO_DAYTIME, /* RFC 867 daytime */
    PROTO_LOTTERY, /* six numbers of 1-45 drawn per connection */
    PROTO_HUB,     /* the publish/subscribe hub, UDP (docs/HUB.md) */
    PROTO_COUNT
};

/* Returns the protocol's name ("http"), or "unknown". */
const char *proto_name(unsigned proto);

/* Finds a protocol by name. Returns it, or -1 when there is none. */
int proto_find(const char *name);

/* True when the client speaks first, so that the kernel may hold a
 * connection until its first bytes arrive (TCP_DEFER_ACCEPT). */
bool proto_client_first(enum proto proto);

/* Who serves a protocol's listeners: the pool's workers, the master
 * itself (metrics), or the hub's process. */
enum proto_home { PROTO_HOME_WORKERS, PROTO_HOME_MASTER, PROTO_HOME_HUB };

/* Where proto is served. */
enum proto_home proto_home(enum proto proto);

/* True when workers serve the protocol; false for the master's own
 * (metrics) and the hub's, whose listeners no worker ever sees. */
bool proto_served_by_workers(enum proto proto);

/* True when the protocol is datagrams (UDP), not a stream (TCP). */
bool proto_datagram(enum proto proto);

/* True when the protocol's connections start corked (TCP_CORK set on the
 * listener, which accept() inherits): its usual answer is one response
 * that ends the connection, so the response, the content and the FIN
 * leave together at close without a system call of their own. A
 * connection that lives on after a response uncorks once (worker/conn.c). */
bool proto_cork_at_accept(enum proto proto);

#endif
