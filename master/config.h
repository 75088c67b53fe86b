/*
 * config: ferryd's settings, from the command line and a configuration
 * file (-c FILE, docs/CONFIG.md) whose keys are the long options. One
 * table drives getopt_long, the file's keys, the bounds checks, --help,
 * the effective configuration (ferryctl config) and what a reload may
 * change, so they cannot disagree.
 *
 * Precedence: the defaults, then the file, then the command line; an
 * option of a list (--listen, --redirect, --allow/--deny) given on the
 * command line replaces the file's list instead of adding to it.
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include "common/acl.h"
#include "common/addr.h"
#include "common/log.h"
#include "common/proto.h"
#include "master/listen.h"
#include "worker/conn.h"
#include "worker/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pool_mode { MODE_ITERATIVE, MODE_FORK, MODE_PREFORK, MODE_EVENT };

#define CFG_LISTEN_MAX PROTO_LISTENERS_MAX

struct cfg_string; /* config.c */

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
    unsigned stall_timeout;   /* 0: no watchdog */
    unsigned upgrade_timeout; /* a new master must serve within this (master/poolup.h) */
    unsigned backlog;
    unsigned sndbuf;          /* SO_SNDBUF; 0: the kernel's autotuning */
    unsigned min_rate;        /* bytes/s; 0: off */
    unsigned max_conn_per_ip; /* 0: off */
    /* A pool worker asks to be replaced after this many connections plus
     * its own random 0..jitter (0: never). */
    unsigned max_requests, max_requests_jitter;
    struct acl acl; /* --allow/--deny or [access], in order (owned: cfg_free) */
    /* [access PROTO]: the rules of that protocol's listeners, instead. */
    struct acl proto_acl[PROTO_COUNT];
    bool has_proto_acl[PROTO_COUNT];
    unsigned echo_max_bytes; /* echo, upcase: bytes echoed per connection */
    enum log_level log_level;
    const char *admin_socket; /* NULL: derived from the port */
    const char *admin_group;  /* NULL: none */
    /* As root: who the serving processes become (NULL: the default,
     * master/privdrop.h), and whether they run under the seccomp
     * allow-list. */
    const char *user, *group;
    bool no_seccomp;
    const char *log_file; /* NULL: stderr */
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
    /* Where it came from: a reload reads the same file and command line. */
    const char *config_file; /* -c FILE; NULL: none */
    bool test_only;          /* -t: check, report, exit */
    int argc;
    char **argv;
    struct cfg_string *strings; /* the file's values that the fields point to */
};

/* What reading a configuration had to say, one line per problem
 * ("FILE:LINE: workers: not a number: 'x'"; a warning's line starts
 * "warning: "), in order. */
struct cfg_report {
    char text[4096];
    size_t len;
    unsigned errors, warnings, changes;
};

/*
 * Fills cfg from argv (options anywhere on the line) and the file that -c
 * names. Returns 0 to run, 1 when --help or --version was printed (exit
 * 0), or -EINVAL with the problems in *rep. argv must outlive cfg (a
 * reload reads it again). Only after 0 does cfg hold anything to free
 * (cfg_free). Warnings come in *rep with 0 too.
 */
int cfg_load(int argc, char **argv, struct config *cfg, struct cfg_report *rep);

/* Calls fn for each line of r, without its newline; warning says the
 * line was a warning, its "warning: " left out of line. */
typedef void (*cfg_line_fn)(void *user, const char *line, size_t len, bool warning);
void cfg_report_each(const struct cfg_report *r, cfg_line_fn fn, void *user);

/* cfg_load() for main(): the report goes to stderr, "ferryd: " first. */
int cfg_parse(int argc, char **argv, struct config *cfg);

/* Frees what cfg_load() allocated (rules, the file's strings). */
void cfg_free(struct config *cfg);

/* Reads cur's file and command line again into next (a reload). Returns
 * 0 or -EINVAL, as cfg_load(). */
int cfg_reload(const struct config *cur, struct config *next, struct cfg_report *rep);

/*
 * What changing cur into next would change, one line each into *changes
 * ("workers: 2 -> 4", "listen: + http=[::1]:8080"), and what a running
 * ferryd cannot change (max-children, user...) added to *refused. Returns
 * the number of refusals added.
 */
unsigned cfg_compare(const struct config *cur, const struct config *next,
                     struct cfg_report *changes, struct cfg_report *refused);

/* Moves src into dst (whose old content the caller freed): the fields
 * that point into the structure itself follow it. src is then spent. */
void cfg_move(struct config *dst, struct config *src);

/* The effective configuration, in the file's shape: fn gets each setting
 * (section "" for the top level, "listen", "redirect", "access" or
 * "access PROTO") as text that cfg_load() reads back the same. */
typedef void (*cfg_emit_fn)(void *user, const char *section, const char *key, const char *value);
void cfg_dump(const struct config *cfg, cfg_emit_fn fn, void *user);

/* The rules a listener of proto applies: its [access PROTO], else the
 * general ones; NULL when there are none. */
const struct acl *cfg_acl_for(const struct config *cfg, enum proto proto);

/* What cfg says of how every connection is served (chunk, timeouts,
 * limits, HTTP, and the rules of each of the n listeners, whose protocols
 * protos gives): the conn_env a serving process starts from; the caller
 * adds the process's own (directory, scoreboard, slot, report). The
 * result points into cfg. */
struct conn_env cfg_conn_env(const struct config *cfg, const uint8_t *protos, size_t n);

/* The options of a listener for proto. */
struct lsn_options cfg_lsn_options(const struct config *cfg, enum proto proto);

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
