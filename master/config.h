/*
 * config: ferryd's command line. One table drives getopt_long, the bounds
 * checks and --help, so they cannot disagree.
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include "common/acl.h"
#include "common/addr.h"
#include "common/log.h"
#include "common/proto.h"
#include "worker/conn.h"
#include "worker/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pool_mode { MODE_ITERATIVE, MODE_FORK, MODE_PREFORK, MODE_EVENT };

#define CFG_LISTEN_MAX PROTO_LISTENERS_MAX

/* One --listen PROTO=ADDR:PORT (or the positional ADDRESS PORT). */
struct cfg_listen {
    enum proto proto;
    char host[ADDR_HOST_MAX]; /* brackets removed */
    char port[12];            /* "0".."65535" */
};

struct config {
    enum pool_mode mode;
    unsigned workers; /* prefork, event: pool size; fork: concurrency limit */
    unsigned max_children;
    unsigned worker_connections; /* event: connections per worker */
    unsigned chunk_size;
    unsigned io_timeout;      /* each write */
    unsigned request_timeout; /* the whole request; READY after the response */
    unsigned shutdown_timeout;
    unsigned stall_timeout; /* 0: no watchdog */
    unsigned backlog;
    unsigned sndbuf;          /* SO_SNDBUF; 0: the kernel's autotuning */
    unsigned min_rate;        /* bytes/s; 0: off */
    unsigned max_conn_per_ip; /* 0: off */
    /* A pool worker asks to be replaced after this many connections plus
     * its own random 0..jitter (0: never). */
    unsigned max_requests, max_requests_jitter;
    struct acl acl;          /* --allow/--deny, in command-line order (owned: cfg_free) */
    unsigned echo_max_bytes; /* echo, upcase: bytes echoed per connection */
    enum log_level log_level;
    const char *admin_socket; /* NULL: derived from the port */
    const char *admin_group;  /* NULL: none */
    /* As root: who the serving processes become (NULL: the default,
     * master/privdrop.h), and whether they run under the seccomp
     * allow-list. */
    const char *user, *group;
    bool no_seccomp;
    const char *log_file;     /* NULL: stderr */
    struct cfg_listen listen[CFG_LISTEN_MAX];
    unsigned nlisten;
    bool ipv6_only; /* "::" serves IPv6 only */
    const char *directory;
    bool serve_hidden;      /* names beginning with '.' are served and listed */
    const char *access_log; /* NULL: none; "-": stdout */
    /* HTTP: the timeouts in seconds as given, and what workers use. */
    unsigned header_timeout, keepalive_timeout;
    struct http_config http;
    struct http_redirect redirects[HTTP_REDIRECTS_MAX];
    /* The hub (--listen hub=...). */
    const char *hub_db;                          /* its SQLite file; required with a hub listener */
    unsigned hub_session_timeout;                /* seconds of silence that end a session */
    bool hub_test_hooks;                         /* answer 0x7F (the course's grading hooks) */
    const char *hub_wire;                        /* "secure" (NULL: the default) or "plain" */
    bool hub_plain;                              /* hub_wire is "plain" */
    bool hub_allow_plain;                        /* the plain wire on a non-loopback address */
    unsigned hub_max_upload;                     /* bytes a native PUT may upload, at most */
    char redirect_from[HTTP_REDIRECTS_MAX][256]; /* storage for redirects[].from */
};

/*
 * Fills cfg from argv (options anywhere on the line). Returns 0 to run, 1 when --help or --version
 * was printed (exit 0), or -EINVAL after printing the problem (exit 2). Only after 0 does cfg
 * hold anything to free (cfg_free).
 */
int cfg_parse(int argc, char **argv, struct config *cfg);

/* Frees what cfg_parse() allocated (the --allow/--deny rules). */
void cfg_free(struct config *cfg);

/* What cfg says of how every connection is served (chunk, timeouts,
 * limits, HTTP): the conn_env a serving process starts from; the caller
 * adds the process's own (directory, scoreboard, slot, report). The
 * result points into cfg. */
struct conn_env cfg_conn_env(const struct config *cfg);

/* The pool's size at most: --max-children less the slots other kinds of
 * process hold (the hub's). */
unsigned cfg_max_workers(const struct config *cfg);

/* A pool worker's --max-requests limit, in connections accepted: n plus
 * r's share of the jitter (r: a random draw, taken once per worker), so
 * that workers started together do not all leave together. 0: no limit. */
uint64_t cfg_max_requests_limit(const struct config *cfg, uint32_t r);

/* Returns the mode's name ("prefork"), or "unknown". */
const char *cfg_mode_name(enum pool_mode mode);

#endif
