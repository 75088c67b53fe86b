/*
 * config: option table, parsing and usage for ferryd. See config.h.
 */
#include "master/config.h"

#include "common/addr.h"
#include "common/duration.h"
#include "common/size.h"
#include "worker/tree.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum cfg_type {
    CFG_UINT,
    CFG_SIZE,    /* bytes, with K/KiB/KB... suffixes (common/size.h) */
    CFG_SECONDS, /* a duration, stored in whole seconds (common/duration.h) */
    CFG_STRING,
    CFG_FLAG,     /* a bool, set by the option's presence */
    CFG_LISTEN,   /* PROTO=ADDR:PORT, repeatable */
    CFG_REDIRECT, /* /from=/to, repeatable */
    CFG_ALLOW,    /* CIDR, repeatable, in order with CFG_DENY */
    CFG_DENY,
    CFG_MODE,
    CFG_LEVEL,
    CFG_HELP,
    CFG_VERSION
};

struct cfg_option {
    const char *name;
    enum cfg_type type;
    size_t offset; /* into struct config */
    unsigned long long min, max;
    const char *arg, *defval, *help;
};

#define CFG_AT(field) offsetof(struct config, field)

/* Scoreboard connection records at most (max-children x worker-connections):
 * 4M records of 384 bytes map 1.5 GiB, touched only as far as used. */
#define CFG_RECORDS_MAX (1u << 22)

static const struct cfg_option cfg_options[] = {
    {"listen", CFG_LISTEN, 0, 0, 0, "PROTO=ADDR:PORT", NULL,
     "listen for PROTO (native, http; echo, upcase, daytime, lottery: docs/SERVICES.md; "
     "metrics: the master's /metrics and /status) on ADDR:PORT "
     "([::]:PORT for IPv6; a name means every "
     "address it resolves to); repeatable"},
    {"ipv6-only", CFG_FLAG, CFG_AT(ipv6_only), 0, 0, NULL, "off",
     "an IPv6 listener on :: serves IPv6 only (default: IPv4 too)"},
    {"mode", CFG_MODE, CFG_AT(mode), 0, 0, "MODE", "event", "iterative | fork | prefork | event"},
    {"workers", CFG_UINT, CFG_AT(workers), 1, 65536, "N", "CPUs / max-children",
     "prefork and event pool size; in fork mode the concurrency limit"},
    {"max-children", CFG_UINT, CFG_AT(max_children), 1, 65536, "M", "64",
     "hard ceiling on child processes (scoreboard slots), fixed at start"},
    {"worker-connections", CFG_UINT, CFG_AT(worker_connections), 1, 65536, "N", "1024",
     "event mode: connections one worker holds at most"},
    {"chunk-size", CFG_SIZE, CFG_AT(chunk_size), 4096, 1u << 30, "BYTES", "64K",
     "bytes per sendfile() call (K/M suffixes)"},
    {"request-timeout", CFG_SECONDS, CFG_AT(request_timeout), 1, 3600, "SECONDS", "10",
     "the whole request must arrive within this of accept, READY within this of the response"},
    {"io-timeout", CFG_SECONDS, CFG_AT(io_timeout), 1, 86400, "SECONDS", "30",
     "each write must make progress within this; a service (echo, lottery...) closes a client "
     "silent for this long"},
    {"shutdown-timeout", CFG_SECONDS, CFG_AT(shutdown_timeout), 0, 86400, "SECONDS", "30",
     "graceful stop: SIGKILL what is still running after this"},
    {"min-rate", CFG_SIZE, CFG_AT(min_rate), 0, 1u << 30, "BYTES/s", "1K",
     "close a client that takes less than this per second, over 10 s windows, while a "
     "response is sent (0: off)"},
    {"max-conn-per-ip", CFG_UINT, CFG_AT(max_conn_per_ip), 0, 1000000, "N", "0",
     "connections from one address, pool-wide, at most; over it: native BUSY, HTTP 503, a "
     "service closes (0: no limit)"},
    {"max-requests", CFG_UINT, CFG_AT(max_requests), 0, 1000000000, "N", "0",
     "prefork, event: a worker is replaced, without a gap in accepting, after N connections "
     "(0: never)"},
    {"max-requests-jitter", CFG_UINT, CFG_AT(max_requests_jitter), 0, 1000000000, "J", "0",
     "with --max-requests: each worker's limit is N plus a random 0..J, drawn at its start"},
    {"allow", CFG_ALLOW, 0, 0, 0, "CIDR", NULL,
     "let clients from CIDR (10.0.0.0/8, 2001:db8::/32, ::1, all) connect; repeatable, the "
     "first --allow or --deny that matches decides, no match allows"},
    {"deny", CFG_DENY, 0, 0, 0, "CIDR", NULL,
     "refuse clients from CIDR: native and the services closed (reset) unread, HTTP 403; "
     "repeatable, as --allow"},
    {"stall-timeout", CFG_SECONDS, CFG_AT(stall_timeout), 0, 86400, "SECONDS", "120",
     "a transfer without progress for this long is stuck: event mode closes it (and kills a "
     "worker whose loop stops turning), the other modes kill its worker (0: never)"},
    {"echo-max-bytes", CFG_SIZE, CFG_AT(echo_max_bytes), 1, 1u << 30, "BYTES", "1M",
     "echo, upcase: bytes echoed per connection; one more closes it"},
    {"header-timeout", CFG_SECONDS, CFG_AT(header_timeout), 1, 3600, "SECONDS", "10",
     "HTTP: a request head must arrive whole within this (of accept, or of its first byte)"},
    {"keepalive-timeout", CFG_SECONDS, CFG_AT(keepalive_timeout), 0, 3600, "SECONDS", "5",
     "HTTP: an idle persistent connection is closed after this (0: no keep-alive)"},
    {"keepalive-requests", CFG_UINT, CFG_AT(http.keepalive_requests), 1, 1000000, "N", "1000",
     "HTTP: requests on one connection, at most"},
    {"autoindex", CFG_FLAG, CFG_AT(http.autoindex), 0, 0, NULL, "off",
     "HTTP: list a directory that has no index.html"},
    {"serve-hidden", CFG_FLAG, CFG_AT(serve_hidden), 0, 0, NULL, "off",
     "serve and list names beginning with '.' (.env, .git/), by every protocol"},
    {"redirect", CFG_REDIRECT, 0, 0, 0, "/FROM=TO", NULL,
     "HTTP: answer 301 with Location: TO for the path /FROM; repeatable"},
    {"access-log", CFG_STRING, CFG_AT(access_log), 0, 0, "PATH|-", "none",
     "one line per request (Combined Log Format); reopened on SIGUSR1 or reopen-logs"},
    {"hub-db", CFG_STRING, CFG_AT(hub_db), 0, 0, "PATH", "none",
     "the hub's accounts, subscriptions and posts (SQLite); required with --listen hub="},
    {"hub-session-timeout", CFG_SECONDS, CFG_AT(hub_session_timeout), 1, 86400, "SECONDS", "60",
     "the hub ends a session silent for this long"},
    {"hub-test-hooks", CFG_FLAG, CFG_AT(hub_test_hooks), 0, 0, NULL, "off",
     "the hub answers the test opcode 0x7F (the course's grading hooks)"},
    {"hub-wire", CFG_STRING, CFG_AT(hub_wire), 0, 0, "secure|plain", "secure",
     "the hub's wire: secure (signed login, sealed datagrams) or plain (the course protocol, "
     "passwords in clear)"},
    {"hub-allow-plain", CFG_FLAG, CFG_AT(hub_allow_plain), 0, 0, NULL, "off",
     "the hub's plain wire (passwords in clear) on an address other than loopback"},
    {"hub-max-upload", CFG_SIZE, CFG_AT(hub_max_upload), 1, UINT32_MAX, "BYTES", "64M",
     "the largest file a hub user may upload (a native PUT, announced by the hub)"},
    {"backlog", CFG_UINT, CFG_AT(backlog), 1, 65535, "N", "511", "listen(2) backlog"},
    {"sndbuf", CFG_SIZE, CFG_AT(sndbuf), 0, 64u << 20, "BYTES", "0",
     "SO_SNDBUF of every connection (the kernel doubles it; 0: its autotuning)"},
    {"admin-socket", CFG_STRING, CFG_AT(admin_socket), 0, 0, "PATH",
     "/run/ferry/ferryd-PORT.sock as root, else $XDG_RUNTIME_DIR/ferryd-PORT.sock, "
     "else /tmp/ferryd-UID-PORT.sock",
     "the JSON admin socket (docs/ADMIN.md)"},
    {"admin-group", CFG_STRING, CFG_AT(admin_group), 0, 0, "GROUP", "none",
     "a group whose members may use the read-only admin commands"},
    {"user", CFG_STRING, CFG_AT(user), 0, 0, "USER", "ferry, else nobody",
     "started as root: the user the workers and the hub run as, once the master has bound "
     "the listeners and opened the logs (root keeps root, with a warning)"},
    {"group", CFG_STRING, CFG_AT(group), 0, 0, "GROUP", "the user's",
     "started as root: the group the workers and the hub run as"},
    {"no-seccomp", CFG_FLAG, CFG_AT(no_seccomp), 0, 0, NULL, "off",
     "run the serving processes without the seccomp allow-list (docs/SECURITY.md)"},
    {"log-file", CFG_STRING, CFG_AT(log_file), 0, 0, "PATH", "stderr",
     "append logs to PATH; reopened on SIGUSR1 or reopen-logs"},
    {"log-level", CFG_LEVEL, CFG_AT(log_level), 0, 0, "LEVEL", "info",
     "error | warn | info | debug"},
    {"help", CFG_HELP, 0, 0, 0, NULL, NULL, "show this help"},
    {"version", CFG_VERSION, 0, 0, 0, NULL, NULL, "show the version"},
};

#define CFG_NOPTIONS (sizeof(cfg_options) / sizeof(cfg_options[0]))

static const char *const cfg_modes[] = {"iterative", "fork", "prefork", "event"};

struct conn_env cfg_conn_env(const struct config *cfg)
{
    struct conn_env env = {
        .chunk = cfg->chunk_size,
        .io_timeout_ms = (int)cfg->io_timeout * 1000,
        .request_timeout_ms = (int)cfg->request_timeout * 1000,
        .min_rate = cfg->min_rate,
        .echo_max_bytes = cfg->echo_max_bytes,
        .max_per_ip = cfg->max_conn_per_ip,
        .http = &cfg->http,
        .dirfd = -1,
        .tree_flags = cfg->serve_hidden ? TREE_HIDDEN : 0,
        .hub_fd = -1, /* the caller's, when a hub runs (master/pool.c) */
        .hub_max_upload = cfg->hub_max_upload,
    };

    for (int i = 0; i < PROTO_LISTENERS_MAX; i++) /* listeners have no rules of their own yet */
        env.acl[i] = cfg->acl.n > 0 ? &cfg->acl : NULL;
    return env;
}

const char *cfg_mode_name(enum pool_mode mode)
{
    return (unsigned)mode < sizeof(cfg_modes) / sizeof(cfg_modes[0]) ? cfg_modes[mode] : "unknown";
}

static void cfg_usage(FILE *out)
{
    fprintf(out, "usage: ferryd [options] --listen PROTO=ADDR:PORT [--listen ...] DIRECTORY\n"
                 "       ferryd [options] ADDRESS PORT DIRECTORY\n"
                 "       ferryd [options] ADDRESS:PORT DIRECTORY   ([::1]:PORT for IPv6)\n\n"
                 "Serves DIRECTORY over ferry's native protocol and HTTP/1.1, and small\n"
                 "TCP services (echo, upcase, daytime, lottery) where asked. The short\n"
                 "forms mean one native listener on ADDRESS (IPv4/IPv6 literal or host\n"
                 "name) and PORT. Port 0 picks a free port and logs it.\n\n"
                 "options (default in brackets):\n");
    for (size_t i = 0; i < CFG_NOPTIONS; i++) {
        const struct cfg_option *o = &cfg_options[i];
        char left[40];

        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s%s%s", left, strlen(left) > 26 ? "\n  " : " ",
                strlen(left) > 26 ? "                           " : "");
        fprintf(out, "%s", o->help);
        if (o->defval)
            fprintf(out, " [%s]", o->defval);
        fputc('\n', out);
    }
    fprintf(out, "\nSignals: SIGTERM/SIGINT stop gracefully (a second one stops now).\n"
                 "Exit: 0 clean stop, 1 runtime error or children killed to stop, 2 usage.\n");
}

/* Says what is wrong in one line, then how to get the usage. Returns -EINVAL. */
static int cfg_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int cfg_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ferryd: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'ferryd --help'\n");
    return -EINVAL;
}

static int cfg_number(const struct cfg_option *o, const char *arg, unsigned *out)
{
    uint64_t v = 0;
    char *end;

    if (o->type == CFG_SIZE) {
        char text[32];
        size_t n = strlen(arg);

        /* A rate may say so: "1K/s". */
        if (n < sizeof(text) && n > 2 && strcmp(arg + n - 2, "/s") == 0 && o->arg != NULL &&
            strstr(o->arg, "/s") != NULL) {
            memcpy(text, arg, n - 2);
            text[n - 2] = '\0';
            arg = text;
        }
        if (size_parse(arg, &v) < 0)
            return cfg_fail("--%s: not a size: '%s'", o->name, arg);
    } else if (o->type == CFG_SECONDS) {
        if (dur_parse_s(arg, &v) < 0)
            return cfg_fail("--%s: not a whole number of seconds: '%s' (e.g. 30, 30s, 5m)", o->name,
                            arg);
    } else {
        errno = 0;
        v = strtoull(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-')
            return cfg_fail("--%s: not a number: '%s'", o->name, arg);
    }
    if (v < o->min || v > o->max)
        return cfg_fail("--%s: '%s' is out of range (%llu..%llu)", o->name, arg, o->min, o->max);
    *out = (unsigned)v;
    return 0;
}

/* Adds a listener for proto on host (brackets removed) and port. */
static int cfg_add_listen(struct config *cfg, enum proto proto, const char *host, int port)
{
    struct cfg_listen *l = &cfg->listen[cfg->nlisten];

    if (cfg->nlisten == CFG_LISTEN_MAX)
        return cfg_fail("at most %d listeners", CFG_LISTEN_MAX);
    l->proto = proto;
    snprintf(l->host, sizeof(l->host), "%s", host);
    snprintf(l->port, sizeof(l->port), "%d", port);
    cfg->nlisten++;
    return 0;
}

/* Says why text is no ADDR:PORT. Returns -EINVAL. */
static int cfg_bad_address(const char *what, const char *text, bool no_port)
{
    const char *colon = strrchr(text, ':');

    if (!no_port && colon != NULL && colon[1] >= '0' && colon[1] <= '9' &&
        strspn(colon + 1, "0123456789") == strlen(colon + 1) && strlen(colon + 1) > 0 &&
        addr_port_parse(colon + 1) < 0)
        return cfg_fail("%sthe port in '%s' is not 0..65535", what, text);
    if (!no_port)
        return cfg_fail("%s'%s' is not an address (a host name, IPv4, IPv6 or [IPv6], with :PORT)",
                        what, text);
    return cfg_fail("%sno port in '%s'%s", what, text,
                    text[0] != '[' && strchr(text, ':') != strrchr(text, ':')
                        ? " (an IPv6 address with a port takes brackets: [::1]:PORT)"
                        : "");
}

/* --listen PROTO=ADDR:PORT */
static int cfg_listen_option(struct config *cfg, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[16], host[ADDR_HOST_MAX];
    int proto, port = -1, rc;

    if (eq == NULL || (size_t)(eq - arg) >= sizeof(name))
        return cfg_fail("--listen: expected PROTO=ADDR:PORT (native=0.0.0.0:12345, "
                        "http=[::]:8080), got '%s'",
                        arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    if ((proto = proto_find(name)) < 0)
        return cfg_fail("--listen: unknown protocol '%s' (native, http, echo, upcase, daytime, "
                        "lottery, hub, metrics)",
                        name);
    rc = addr_split(eq + 1, host, sizeof(host), &port);
    if (rc < 0 || port < 0)
        return cfg_bad_address("--listen: ", eq + 1, rc == 0);
    for (unsigned i = 0; i < cfg->nlisten; i++) {
        /* UDP and TCP ports are apart: the hub may share its native
         * listener's address, which is where its clients upload. */
        if (port != 0 && strcmp(cfg->listen[i].host, host) == 0 &&
            addr_port_parse(cfg->listen[i].port) == port &&
            proto_datagram(cfg->listen[i].proto) == proto_datagram((enum proto)proto))
            return cfg_fail("--listen: %s is given twice", arg);
    }
    return cfg_add_listen(cfg, (enum proto)proto, host, port);
}

/* --redirect /FROM=TO: FROM a decoded path, TO what Location says. */
static int cfg_redirect_option(struct config *cfg, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t n = cfg->http.nredirects;

    if (n == HTTP_REDIRECTS_MAX)
        return cfg_fail("--redirect: at most %d", HTTP_REDIRECTS_MAX);
    if (arg[0] != '/' || eq == NULL || eq[1] == '\0' ||
        (size_t)(eq - arg) >= sizeof(cfg->redirect_from[0]))
        return cfg_fail("--redirect: expected /FROM=TO (/old.txt=/new.txt), got '%s'", arg);
    for (const char *p = eq + 1; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) /* no header injection */
            return cfg_fail("--redirect: TO must be printable ASCII without spaces: '%s'", eq + 1);
    }
    memcpy(cfg->redirect_from[n], arg, (size_t)(eq - arg));
    cfg->redirect_from[n][eq - arg] = '\0';
    cfg->redirects[n] = (struct http_redirect){.from = cfg->redirect_from[n], .to = eq + 1};
    cfg->http.redirects = cfg->redirects;
    cfg->http.nredirects = n + 1;
    return 0;
}

/* --allow CIDR, --deny CIDR: one more rule, in command-line order. */
static int cfg_acl_option(struct config *cfg, const char *name, bool allow, const char *arg)
{
    struct acl_rule r;
    int rc = acl_parse(&r, allow, arg);

    if (rc == -ERANGE)
        return cfg_fail("--%s %s: the prefix is beyond /%d", name, arg,
                        r.family == AF_INET ? 32 : 128);
    if (rc == -EDOM) /* refused, not masked: acl.h says why */
        return cfg_fail("--%s %s: bits are set beyond the prefix: write the network, %s, or "
                        "the host alone, %.*s",
                        name, arg, strchr(r.text, ' ') + 1, (int)strcspn(arg, "/"), arg);
    if (rc < 0)
        return cfg_fail("--%s: '%s' is not an address or network (10.0.0.0/8, 192.0.2.7, "
                        "2001:db8::/32, ::1, all)",
                        name, arg);
    if (acl_add(&cfg->acl, &r) < 0)
        return cfg_fail("--%s: out of memory", name);
    return 0;
}

/* Applies one option. Returns 0, 1 (help/version printed) or -EINVAL. */
static int cfg_apply(const struct cfg_option *o, const char *arg, struct config *cfg)
{
    switch (o->type) {
    case CFG_UINT:
    case CFG_SIZE:
    case CFG_SECONDS:
        return cfg_number(o, arg, (unsigned *)((char *)cfg + o->offset));
    case CFG_STRING:
        *(const char **)((char *)cfg + o->offset) = arg;
        return 0;
    case CFG_FLAG:
        *(bool *)((char *)cfg + o->offset) = true;
        return 0;
    case CFG_LISTEN:
        return cfg_listen_option(cfg, arg);
    case CFG_REDIRECT:
        return cfg_redirect_option(cfg, arg);
    case CFG_ALLOW:
    case CFG_DENY:
        return cfg_acl_option(cfg, o->name, o->type == CFG_ALLOW, arg);
    case CFG_MODE:
        for (int m = MODE_ITERATIVE; m <= MODE_EVENT; m++) {
            if (strcmp(arg, cfg_modes[m]) == 0) {
                cfg->mode = (enum pool_mode)m;
                return 0;
            }
        }
        return cfg_fail("--%s: unknown mode '%s' (iterative, fork, prefork, event)", o->name, arg);
    case CFG_LEVEL:
        if (log_parse_level(arg, &cfg->log_level) < 0)
            return cfg_fail("--%s: unknown level '%s' (error, warn, info, debug)", o->name, arg);
        return 0;
    case CFG_HELP:
        cfg_usage(stdout);
        return 1;
    case CFG_VERSION:
        printf("ferryd %s (protocol v1)\n", FERRY_VERSION);
        return 1;
    }
    return -EINVAL;
}

static void cfg_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = MODE_EVENT;
    cfg->max_children = 64;
    cfg->worker_connections = 1024;
    cfg->chunk_size = 64 * 1024;
    cfg->io_timeout = 30;
    cfg->request_timeout = 10;
    cfg->shutdown_timeout = 30;
    cfg->stall_timeout = 120;
    cfg->backlog = 511;
    cfg->min_rate = 1024;
    cfg->echo_max_bytes = 1024 * 1024;
    cfg->hub_session_timeout = 60;
    cfg->hub_max_upload = 64u << 20;
    cfg->header_timeout = 10;
    cfg->keepalive_timeout = 5;
    cfg->http.keepalive_requests = 1000;
    cfg->log_level = LOG_INFO;
}

/* Checks what no single option can: the pool against the slots. */
/* The watchdog takes a transfer without progress for --stall-timeout for
 * stuck: a wait a client may legitimately make should be shorter, or the
 * watchdog kills a worker whose client was only slow. Said, not refused:
 * a short watchdog is how a test or an operator catches stalls early. */
static void cfg_check_stall(const struct config *cfg)
{
    static const struct {
        const char *name;
        size_t offset;
    } waits[] = {
        {"request-timeout", CFG_AT(request_timeout)},
        {"header-timeout", CFG_AT(header_timeout)},
        {"io-timeout", CFG_AT(io_timeout)},
    };

    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]) && cfg->stall_timeout > 0; i++) {
        unsigned v = *(const unsigned *)((const char *)cfg + waits[i].offset);

        if (v >= cfg->stall_timeout)
            fprintf(stderr,
                    "ferryd: warning: --stall-timeout %u is not above --%s %u: the watchdog "
                    "may take a client that is only slow for stuck\n",
                    cfg->stall_timeout, waits[i].name, v);
    }
}

/* --max-requests replaces pool workers: fork mode's children serve one
 * connection each and iterative mode has no worker to replace, so there
 * the option could only mislead. */
static int cfg_check_max_requests(const struct config *cfg)
{
    if (cfg->max_requests_jitter > 0 && cfg->max_requests == 0)
        return cfg_fail("--max-requests-jitter %u without --max-requests: nothing to jitter",
                        cfg->max_requests_jitter);
    if (cfg->max_requests == 0 || cfg->mode == MODE_PREFORK || cfg->mode == MODE_EVENT)
        return 0;
    return cfg_fail("--max-requests applies to prefork and event workers: %s",
                    cfg->mode == MODE_FORK ? "fork mode's children serve one connection each"
                                           : "iterative mode has no worker to replace");
}

uint64_t cfg_max_requests_limit(const struct config *cfg, uint32_t r)
{
    if (cfg->max_requests == 0)
        return 0;
    return (uint64_t)cfg->max_requests + r % ((uint64_t)cfg->max_requests_jitter + 1);
}

/* True when cfg has a listener for proto. */
static bool cfg_listens(const struct config *cfg, enum proto proto)
{
    for (unsigned i = 0; i < cfg->nlisten; i++) {
        if (cfg->listen[i].proto == proto)
            return true;
    }
    return false;
}

unsigned cfg_max_workers(const struct config *cfg)
{
    unsigned others = cfg_listens(cfg, PROTO_HUB) ? 1 : 0;

    return cfg->max_children > others ? cfg->max_children - others : 0;
}

/* True when host is a loopback literal. */
static bool cfg_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* The hub's process needs a supervisor, a slot beside the workers and its
 * database; its plain wire carries passwords in clear, so it stays on
 * loopback unless the operator says otherwise. */
static int cfg_check_hub(struct config *cfg)
{
    if (cfg->hub_wire != NULL && strcmp(cfg->hub_wire, "plain") != 0 &&
        strcmp(cfg->hub_wire, "secure") != 0)
        return cfg_fail("--hub-wire %s: secure or plain", cfg->hub_wire);
    cfg->hub_plain = cfg->hub_wire != NULL && strcmp(cfg->hub_wire, "plain") == 0;
    if (!cfg_listens(cfg, PROTO_HUB))
        return cfg->hub_db == NULL ? 0
                                   : cfg_fail("--hub-db without a hub: add --listen hub=ADDR:PORT");
    if (cfg->mode == MODE_ITERATIVE)
        return cfg_fail("--listen hub=: the hub runs as a process of its own, which the "
                        "iterative mode does not have (use fork, prefork or event)");
    if (cfg->hub_db == NULL)
        return cfg_fail("--listen hub=: the hub keeps its accounts and posts in --hub-db PATH");
    if (cfg->workers + 1 > cfg->max_children)
        return cfg_fail("--workers %u and the hub need %u child slots: raise --max-children "
                        "above %u",
                        cfg->workers, cfg->workers + 1, cfg->max_children);
    for (unsigned i = 0; i < cfg->nlisten && cfg->hub_plain && !cfg->hub_allow_plain; i++) {
        if (cfg->listen[i].proto == PROTO_HUB && !cfg_loopback(cfg->listen[i].host))
            return cfg_fail("--listen hub=%s: the plain wire carries passwords in clear: "
                            "loopback only, unless --hub-allow-plain",
                            cfg->listen[i].host);
    }
    return 0;
}

/* Rules that cannot do what they say: one after "all" never matches, and
 * the hub's datagrams are not subject to any (README). Said, not refused. */
static void cfg_check_acl(const struct config *cfg)
{
    long dead = acl_unreachable(&cfg->acl);

    if (dead >= 0)
        fprintf(stderr,
                "ferryd: warning: '%s' comes after '%s': the first rule that matches decides, "
                "so it never matches\n",
                cfg->acl.rules[dead].text, cfg->acl.rules[dead - 1].text);
    if (cfg->acl.n > 0 && cfg_listens(cfg, PROTO_HUB))
        fprintf(stderr, "ferryd: warning: --allow/--deny do not apply to the hub (UDP): its "
                        "login is its gate\n");
}

static int cfg_check(struct config *cfg, bool workers_set)
{
    cfg->http.header_timeout_ms = (int)cfg->header_timeout * 1000;
    cfg->http.keepalive_timeout_ms = (int)cfg->keepalive_timeout * 1000;
    if (cfg->keepalive_timeout == 0) /* no keep-alive: one request per connection */
        cfg->http.keepalive_requests = 1;
    if (!workers_set) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = cfg->mode == MODE_FORK ? cfg->max_children : (unsigned)(cpus > 0 ? cpus : 1);
        if (cfg->workers > cfg_max_workers(cfg)) /* the hub's slot is not theirs */
            cfg->workers = cfg_max_workers(cfg);
        if (cfg->workers == 0)
            return cfg_fail("--max-children %u leaves no slot for a worker beside the hub",
                            cfg->max_children);
    }
    if (cfg->workers > cfg->max_children)
        return cfg_fail("--workers %u exceeds --max-children %u (the number of child slots); "
                        "raise --max-children or lower --workers",
                        cfg->workers, cfg->max_children);
    /* The scoreboard maps a record per connection any child may hold: a
     * bound on that product keeps a typo from asking for terabytes. */
    if (cfg->mode == MODE_EVENT &&
        (uint64_t)cfg->max_children * cfg->worker_connections > CFG_RECORDS_MAX)
        return cfg_fail("--max-children %u x --worker-connections %u exceeds %u connection "
                        "records; lower one of them",
                        cfg->max_children, cfg->worker_connections, CFG_RECORDS_MAX);
    if (cfg_check_max_requests(cfg) < 0)
        return -EINVAL;
    cfg_check_stall(cfg);
    cfg_check_acl(cfg);
    return cfg_check_hub(cfg);
}

/* The option of the given type (help, version): found by what it is, not
 * by where it sits in the table. */
static size_t cfg_index_of(enum cfg_type type)
{
    size_t i = 0;

    while (i < CFG_NOPTIONS - 1 && cfg_options[i].type != type)
        i++;
    return i;
}

/* The operands: DIRECTORY alone after --listen; else ADDRESS PORT
 * DIRECTORY, or ADDRESS:PORT DIRECTORY with the port inside the address
 * ("[::1]:4242"): one native listener. */
static int cfg_operands(int n, char **v, struct config *cfg)
{
    char host[ADDR_HOST_MAX];
    int port = -1;

    if (cfg->nlisten > 0 && n == 0)
        return cfg_fail("the DIRECTORY to serve is missing");
    if (cfg->nlisten > 0 && n != 1)
        return cfg_fail("with --listen, the DIRECTORY is the only argument (got %d)", n);
    if (cfg->nlisten > 0) {
        cfg->directory = v[0];
        return 0;
    }
    if (n < 2 || n > 3)
        return cfg_fail("expected ADDRESS PORT DIRECTORY or --listen PROTO=ADDR:PORT DIRECTORY, "
                        "got %d argument(s)",
                        n);
    if (addr_split(v[0], host, sizeof(host), &port) < 0)
        return cfg_fail("'%s' is not an address (a host name, IPv4, IPv6 or [IPv6], "
                        "optionally with :PORT)",
                        v[0]);
    if (n == 2 && port < 0 && addr_port_parse(v[1]) >= 0)
        return cfg_fail("expected ADDRESS PORT DIRECTORY: the DIRECTORY is missing");
    if (n == 2 && port < 0)
        return cfg_bad_address("expected ADDRESS PORT DIRECTORY: ", v[0], true);
    if (n == 3 && port >= 0)
        return cfg_fail("'%s' carries a port already: expected ADDRESS:PORT DIRECTORY", v[0]);
    if (n == 3 && (port = addr_port_parse(v[1])) < 0)
        return cfg_fail("PORT must be 0..65535, got '%s'", v[1]);
    cfg->directory = v[n - 1];
    return cfg_add_listen(cfg, PROTO_NATIVE, host, port);
}

void cfg_free(struct config *cfg)
{
    acl_free(&cfg->acl);
}

/* cfg_parse() without the freeing on failure. */
static int cfg_parse_argv(int argc, char **argv, struct config *cfg)
{
    struct option longopts[CFG_NOPTIONS + 1];
    bool workers_set = false;
    int c, idx, rc;

    cfg_defaults(cfg);
    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < CFG_NOPTIONS; i++) {
        longopts[i].name = cfg_options[i].name;
        longopts[i].has_arg = cfg_options[i].arg ? required_argument : no_argument;
        longopts[i].val = 256 + (int)i;
    }
    opterr = 0;
    optind = 0; /* glibc: a full restart, should this argv not be the first parsed */
    /* Options may come anywhere ("ferryd ADDR PORT DIR --mode fork"). */
    while ((c = getopt_long(argc, argv, "hV", longopts, &idx)) != -1) {
        if (c == 'h')
            c = 256 + (int)cfg_index_of(CFG_HELP);
        else if (c == 'V')
            c = 256 + (int)cfg_index_of(CFG_VERSION);
        if (c < 256)
            return cfg_fail("unknown or incomplete option '%s'", argv[optind - 1]);
        rc = cfg_apply(&cfg_options[c - 256], optarg, cfg);
        if (rc != 0)
            return rc;
        workers_set |= strcmp(cfg_options[c - 256].name, "workers") == 0;
    }
    if ((rc = cfg_operands(argc - optind, argv + optind, cfg)) < 0)
        return rc;
    return cfg_check(cfg, workers_set);
}

int cfg_parse(int argc, char **argv, struct config *cfg)
{
    int rc = cfg_parse_argv(argc, argv, cfg);

    if (rc != 0)
        cfg_free(cfg);
    return rc;
}
