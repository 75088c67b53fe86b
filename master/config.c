/*
 * config: option table, parsing and usage for ferryd. See config.h.
 */
#include "master/config.h"

#include "common/addr.h"
#include "common/duration.h"
#include "common/size.h"
#include "master/cfgfile.h"
#include "worker/tree.h"

#include <ctype.h>
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
    CFG_VERSION,
    CFG_FILE, /* -c FILE: read on the command line only */
    CFG_TEST  /* -t */
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
    {"directory", CFG_STRING, CFG_AT(directory), 0, 0, "DIR", NULL,
     "the directory to serve (usually the last argument; in a configuration file, this key)"},
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
    {"upgrade-timeout", CFG_SECONDS, CFG_AT(upgrade_timeout), 1, 3600, "SECONDS", "60",
     "binary upgrade (SIGUSR2, ferryctl upgrade): the new master must serve within this, or it "
     "is stopped and this one serves on"},
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
    {"config", CFG_FILE, 0, 0, 0, "FILE", "none",
     "read settings from FILE (docs/CONFIG.md); the command line overrides it; -c FILE"},
    {"test-config", CFG_TEST, 0, 0, 0, NULL, NULL,
     "check the configuration, say what is wrong (with file and line), exit 0 or 1; -t"},
    {"help", CFG_HELP, 0, 0, 0, NULL, NULL, "show this help"},
    {"version", CFG_VERSION, 0, 0, 0, NULL, NULL, "show the version"},
};

#define CFG_NOPTIONS (sizeof(cfg_options) / sizeof(cfg_options[0]))

static const char *const cfg_modes[] = {"iterative", "fork", "prefork", "event"};
static const char *const cfg_levels[] = {"error", "warn", "info", "debug"}; /* enum log_level */

/* What a running ferryd cannot take from a reload, and why: a reload
 * that would change one is refused whole (the old configuration runs on). */
static const struct {
    const char *name, *why;
} cfg_fixed[] = {
    {"mode", "the pool is built for it"},
    {"max-children", "the scoreboard is sized by it"},
    {"worker-connections", "the scoreboard is sized by it"},
    {"user", "the master gave up the right to choose"},
    {"group", "the master gave up the right to choose"},
    {"no-seccomp", "a filter, once on, stays on"},
    {"admin-socket", "it is the socket this reload may come through"},
    {"admin-group", "the admin socket is open"},
    {"log-file", "reopen-logs reopens the same path"},
    {"ipv6-only", "it is a property of open listeners"},
    {"backlog", "it is a property of open listeners"},
    {"sndbuf", "it is a property of open listeners"},
    {"hub-db", "the hub process runs on"},
    {"hub-session-timeout", "the hub process runs on"},
    {"hub-test-hooks", "the hub process runs on"},
    {"hub-wire", "the hub process runs on"},
    {"hub-allow-plain", "the hub process runs on"},
    {"hub-max-upload", "the hub process runs on"},
};

/* A value read from the file, owned by the configuration it is in. */
struct cfg_string {
    struct cfg_string *next;
    char s[];
};

/* One reading of a configuration: the file, then the command line. */
struct cfg_ctx {
    struct config *cfg;
    struct cfg_report *rep;
    const char *file; /* while reading it: "FILE:LINE: " heads each message */
    unsigned line;
    unsigned set_at[CFG_NOPTIONS];      /* the file's line that set an option */
    char bad_section[CFGFILE_LINE_MAX]; /* the unknown section reported last */
    bool workers_set;
    /* The command line gave the list: the file's is replaced. */
    bool cli_listen, cli_redirect, cli_acl;
};

struct conn_env cfg_conn_env(const struct config *cfg, const uint8_t *protos, size_t n)
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

    for (size_t i = 0; i < n && i < PROTO_LISTENERS_MAX; i++)
        env.acl[i] = cfg_acl_for(cfg, (enum proto)protos[i]);
    return env;
}

struct lsn_options cfg_lsn_options(const struct config *cfg, enum proto proto)
{
    return (struct lsn_options){
        .backlog = cfg->backlog,
        /* A silent connection waits in the kernel for as long as its first
         * request may take. */
        .defer_accept = proto == PROTO_HTTP ? cfg->header_timeout : cfg->request_timeout,
        .ipv6_only = cfg->ipv6_only,
        .sndbuf = cfg->sndbuf,
    };
}

const struct acl *cfg_acl_for(const struct config *cfg, enum proto proto)
{
    const struct acl *a = &cfg->acl;

    if ((unsigned)proto < PROTO_COUNT && cfg->has_proto_acl[proto])
        a = &cfg->proto_acl[proto];
    return a->n > 0 ? a : NULL;
}

const char *cfg_mode_name(enum pool_mode mode)
{
    return (unsigned)mode < sizeof(cfg_modes) / sizeof(cfg_modes[0]) ? cfg_modes[mode] : "unknown";
}

static void cfg_usage(FILE *out)
{
    fprintf(out, "usage: ferryd [options] --listen PROTO=ADDR:PORT [--listen ...] DIRECTORY\n"
                 "       ferryd [options] ADDRESS PORT DIRECTORY\n"
                 "       ferryd [options] ADDRESS:PORT DIRECTORY   ([::1]:PORT for IPv6)\n"
                 "       ferryd [options] -c FILE [DIRECTORY]\n\n"
                 "Serves DIRECTORY over ferry's native protocol and HTTP/1.1, and small\n"
                 "TCP services (echo, upcase, daytime, lottery) where asked. The short\n"
                 "forms mean one native listener on ADDRESS (IPv4/IPv6 literal or host\n"
                 "name) and PORT. Port 0 picks a free port and logs it. A configuration\n"
                 "file's keys are these long options (docs/CONFIG.md).\n\n"
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
    fprintf(out, "\nSignals: SIGTERM/SIGINT stop gracefully (a second one stops now); SIGHUP\n"
                 "reads the configuration file again and replaces the workers one at a time.\n"
                 "Exit: 0 clean stop, 1 runtime error or children killed to stop, 2 usage\n"
                 "(with -t: 0 valid, 1 not).\n");
}

/* Adds one line to the report: "FILE:LINE: " first while reading the file,
 * where an option is named without its dashes, as the file names it. */
enum cfg_note_kind { CFG_ERROR, CFG_WARNING, CFG_CHANGE };

static void cfg_note(struct cfg_ctx *x, enum cfg_note_kind kind, const char *fmt, va_list ap)
{
    const char *head = kind == CFG_WARNING ? "warning: " : "";
    struct cfg_report *r = x->rep;
    char msg[512];
    const char *m = msg;
    int n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (x->file != NULL && strncmp(m, "--", 2) == 0)
        m += 2;
    kind == CFG_ERROR ? r->errors++ : kind == CFG_WARNING ? r->warnings++ : r->changes++;
    if (r->len >= sizeof(r->text) - 1)
        return; /* full: the counts still say how many */
    if (x->file != NULL && x->line > 0)
        n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "%s:%u: %s%s\n", x->file, x->line,
                     head, m);
    else if (x->file != NULL)
        n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "%s: %s%s\n", x->file, head, m);
    else
        n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "%s%s\n", head, m);
    r->len = n < 0                                  ? r->len
             : r->len + (size_t)n < sizeof(r->text) ? r->len + (size_t)n
                                                    : sizeof(r->text) - 1;
}

/* Records what is wrong. Returns -EINVAL. */
static int cfg_fail(struct cfg_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cfg_fail(struct cfg_ctx *x, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cfg_note(x, CFG_ERROR, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Records what is allowed but probably not meant. */
static void cfg_warn(struct cfg_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cfg_warn(struct cfg_ctx *x, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cfg_note(x, CFG_WARNING, fmt, ap);
    va_end(ap);
}

/* Records what a reload changes. */
static void cfg_change(struct cfg_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cfg_change(struct cfg_ctx *x, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cfg_note(x, CFG_CHANGE, fmt, ap);
    va_end(ap);
}

/* A copy of s that lives as long as the configuration. NULL: no memory. */
static const char *cfg_strdup(struct config *cfg, const char *s)
{
    size_t n = strlen(s) + 1;
    struct cfg_string *c = malloc(sizeof(*c) + n);

    if (c == NULL)
        return NULL;
    memcpy(c->s, s, n);
    c->next = cfg->strings;
    cfg->strings = c;
    return c->s;
}

static int cfg_number(struct cfg_ctx *x, const struct cfg_option *o, const char *arg, unsigned *out)
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
            return cfg_fail(x, "--%s: not a size: '%s'", o->name, arg);
    } else if (o->type == CFG_SECONDS) {
        if (dur_parse_s(arg, &v) < 0)
            return cfg_fail(x, "--%s: not a whole number of seconds: '%s' (e.g. 30, 30s, 5m)",
                            o->name, arg);
    } else {
        errno = 0;
        v = strtoull(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-')
            return cfg_fail(x, "--%s: not a number: '%s'", o->name, arg);
    }
    if (v < o->min || v > o->max)
        return cfg_fail(x, "--%s: '%s' is out of range (%llu..%llu)", o->name, arg, o->min, o->max);
    *out = (unsigned)v;
    return 0;
}

/* Adds a listener for proto on host (brackets removed) and port. */
static int cfg_add_listen(struct cfg_ctx *x, enum proto proto, const char *host, int port)
{
    struct config *cfg = x->cfg;
    struct cfg_listen *l = &cfg->listen[cfg->nlisten];

    if (cfg->nlisten == CFG_LISTEN_MAX)
        return cfg_fail(x, "at most %d listeners", CFG_LISTEN_MAX);
    l->proto = proto;
    snprintf(l->host, sizeof(l->host), "%s", host);
    snprintf(l->port, sizeof(l->port), "%d", port);
    cfg->nlisten++;
    return 0;
}

/* Says why text is no ADDR:PORT. Returns -EINVAL. */
static int cfg_bad_address(struct cfg_ctx *x, const char *what, const char *text, bool no_port)
{
    const char *colon = strrchr(text, ':');

    if (!no_port && colon != NULL && colon[1] >= '0' && colon[1] <= '9' &&
        strspn(colon + 1, "0123456789") == strlen(colon + 1) && strlen(colon + 1) > 0 &&
        addr_port_parse(colon + 1) < 0)
        return cfg_fail(x, "%sthe port in '%s' is not 0..65535", what, text);
    if (!no_port)
        return cfg_fail(x,
                        "%s'%s' is not an address (a host name, IPv4, IPv6 or [IPv6], with :PORT)",
                        what, text);
    return cfg_fail(x, "%sno port in '%s'%s", what, text,
                    text[0] != '[' && strchr(text, ':') != strrchr(text, ':')
                        ? " (an IPv6 address with a port takes brackets: [::1]:PORT)"
                        : "");
}

/* --listen PROTO=ADDR:PORT */
static int cfg_listen_option(struct cfg_ctx *x, const char *arg)
{
    struct config *cfg = x->cfg;
    const char *eq = strchr(arg, '=');
    char name[16], host[ADDR_HOST_MAX];
    int proto, port = -1, rc;

    if (eq == NULL || (size_t)(eq - arg) >= sizeof(name))
        return cfg_fail(x,
                        "--listen: expected PROTO=ADDR:PORT (native=0.0.0.0:12345, "
                        "http=[::]:8080), got '%s'",
                        arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    if ((proto = proto_find(name)) < 0)
        return cfg_fail(x,
                        "--listen: unknown protocol '%s' (native, http, echo, upcase, daytime, "
                        "lottery, hub, metrics)",
                        name);
    rc = addr_split(eq + 1, host, sizeof(host), &port);
    if (rc < 0 || port < 0)
        return cfg_bad_address(x, "--listen: ", eq + 1, rc == 0);
    for (unsigned i = 0; i < cfg->nlisten; i++) {
        /* UDP and TCP ports are apart: the hub may share its native
         * listener's address, which is where its clients upload. */
        if (port != 0 && strcmp(cfg->listen[i].host, host) == 0 &&
            addr_port_parse(cfg->listen[i].port) == port &&
            proto_datagram(cfg->listen[i].proto) == proto_datagram((enum proto)proto))
            return cfg_fail(x, "--listen: %s is given twice", arg);
    }
    return cfg_add_listen(x, (enum proto)proto, host, port);
}

/* One more redirect: from (len bytes, a decoded path) to to (what
 * Location says; it lives as long as cfg). */
static int cfg_add_redirect(struct cfg_ctx *x, const char *from, size_t len, const char *to,
                            const char *arg)
{
    struct config *cfg = x->cfg;
    size_t n = cfg->http.nredirects;

    if (n == HTTP_REDIRECTS_MAX)
        return cfg_fail(x, "--redirect: at most %d", HTTP_REDIRECTS_MAX);
    if (len == 0 || from[0] != '/')
        return cfg_fail(x, "--redirect: FROM must be a path beginning with '/', got '%s'", arg);
    if (to[0] == '\0' || len >= sizeof(cfg->redirect_from[0]) || memchr(from, '\0', len) != NULL)
        return cfg_fail(x, "--redirect: expected /FROM=TO (/old.txt=/new.txt), got '%s'", arg);
    for (const char *p = to; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) /* no header injection */
            return cfg_fail(x, "--redirect: TO must be printable ASCII without spaces: '%s'", to);
    }
    memcpy(cfg->redirect_from[n], from, len);
    cfg->redirect_from[n][len] = '\0';
    cfg->redirects[n] = (struct http_redirect){.from = cfg->redirect_from[n], .to = to};
    cfg->http.redirects = cfg->redirects;
    cfg->http.nredirects = n + 1;
    return 0;
}

/* --redirect /FROM=TO: split at the first '='. arg lives as long as cfg. */
static int cfg_redirect_option(struct cfg_ctx *x, const char *arg)
{
    const char *eq = strchr(arg, '=');

    if (eq == NULL)
        return cfg_fail(x, "--redirect: expected /FROM=TO (/old.txt=/new.txt), got '%s'", arg);
    return cfg_add_redirect(x, arg, (size_t)(eq - arg), eq + 1, arg);
}

/* The characters a [redirect] key must write as %XX: those the INI
 * syntax takes for its own (libinih splits at the first '=' or ':'). */
static bool cfg_redirect_escaped(unsigned char c)
{
    return c == '%' || c == ':' || c == '=' || c == ';' || c == '#' || c == '[' || c <= 0x20 ||
           c >= 0x7f;
}

/* [redirect] /FROM = TO: FROM may write any byte as %XX (and must, for
 * those above), decoded here. */
static int cfg_file_redirect(struct cfg_ctx *x, const char *key, const char *to)
{
    char from[sizeof(x->cfg->redirect_from[0])];
    size_t n = 0;

    for (const char *p = key; *p != '\0'; p++) {
        unsigned v;

        if (n + 1 >= sizeof(from))
            return cfg_fail(x, "redirect: '%s' is too long", key);
        if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1 && isxdigit((unsigned char)p[1]) &&
            isxdigit((unsigned char)p[2])) {
            from[n++] = (char)v;
            p += 2;
        } else {
            from[n++] = *p;
        }
    }
    from[n] = '\0';
    return cfg_add_redirect(x, from, n, to, key);
}

/* --allow CIDR, --deny CIDR: one more rule of a, in order. */
static int cfg_acl_option(struct cfg_ctx *x, struct acl *a, const char *name, bool allow,
                          const char *arg)
{
    struct acl_rule r;
    int rc = acl_parse(&r, allow, arg);

    if (rc == -ERANGE)
        return cfg_fail(x, "--%s %s: the prefix is beyond /%d", name, arg,
                        r.family == AF_INET ? 32 : 128);
    if (rc == -EDOM) /* refused, not masked: acl.h says why */
        return cfg_fail(x,
                        "--%s %s: bits are set beyond the prefix: write the network, %s, or "
                        "the host alone, %.*s",
                        name, arg, strchr(r.text, ' ') + 1, (int)strcspn(arg, "/"), arg);
    if (rc < 0)
        return cfg_fail(x,
                        "--%s: '%s' is not an address or network (10.0.0.0/8, 192.0.2.7, "
                        "2001:db8::/32, ::1, all)",
                        name, arg);
    if (acl_add(a, &r) < 0)
        return cfg_fail(x, "--%s: out of memory", name);
    return 0;
}

/* Empties every rule list: the command line's --allow/--deny replace the
 * file's, [access PROTO] included. */
static void cfg_acl_clear(struct config *cfg)
{
    acl_free(&cfg->acl);
    for (int p = 0; p < PROTO_COUNT; p++) {
        acl_free(&cfg->proto_acl[p]);
        cfg->has_proto_acl[p] = false;
    }
}

/* Applies one option with its argument (which lives as long as cfg).
 * Returns 0, 1 (help/version printed) or -EINVAL. */
static int cfg_apply(struct cfg_ctx *x, const struct cfg_option *o, const char *arg)
{
    struct config *cfg = x->cfg;

    switch (o->type) {
    case CFG_UINT:
    case CFG_SIZE:
    case CFG_SECONDS:
        return cfg_number(x, o, arg, (unsigned *)((char *)cfg + o->offset));
    case CFG_STRING:
        *(const char **)((char *)cfg + o->offset) = arg;
        return 0;
    case CFG_FLAG:
        *(bool *)((char *)cfg + o->offset) = true;
        return 0;
    case CFG_LISTEN:
        return cfg_listen_option(x, arg);
    case CFG_REDIRECT:
        return cfg_redirect_option(x, arg);
    case CFG_ALLOW:
    case CFG_DENY:
        return cfg_acl_option(x, &cfg->acl, o->name, o->type == CFG_ALLOW, arg);
    case CFG_MODE:
        for (int m = MODE_ITERATIVE; m <= MODE_EVENT; m++) {
            if (strcmp(arg, cfg_modes[m]) == 0) {
                cfg->mode = (enum pool_mode)m;
                return 0;
            }
        }
        return cfg_fail(x, "--%s: unknown mode '%s' (iterative, fork, prefork, event)", o->name,
                        arg);
    case CFG_LEVEL:
        if (log_parse_level(arg, &cfg->log_level) < 0)
            return cfg_fail(x, "--%s: unknown level '%s' (error, warn, info, debug)", o->name, arg);
        return 0;
    case CFG_HELP:
        cfg_usage(stdout);
        return 1;
    case CFG_VERSION:
        printf("ferryd %s (protocol v1)\n", FERRY_VERSION);
        return 1;
    case CFG_FILE:
        cfg->config_file = arg;
        return 0;
    case CFG_TEST:
        cfg->test_only = true;
        return 0;
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
    cfg->upgrade_timeout = 60;
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

/* The option called name, or NULL. */
static const struct cfg_option *cfg_find(const char *name)
{
    for (size_t i = 0; i < CFG_NOPTIONS; i++) {
        if (strcmp(cfg_options[i].name, name) == 0)
            return &cfg_options[i];
    }
    return NULL;
}

/* A flag's value in the file. Returns 0 or -EINVAL. */
static int cfg_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
                                                                                "off", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *out = strcasecmp(text, yes[i]) == 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* A top-level key of the file: a long option without its dashes. */
static void cfg_file_option(struct cfg_ctx *x, const char *key, const char *value)
{
    const struct cfg_option *o = cfg_find(key);
    size_t idx = o != NULL ? (size_t)(o - cfg_options) : 0;
    const char *copy;
    bool on;

    if (o == NULL || o->type == CFG_HELP || o->type == CFG_VERSION || o->type == CFG_FILE ||
        o->type == CFG_TEST) {
        cfg_fail(x, "unknown setting '%s' (the long options of ferryd --help)", key);
        return;
    }
    if (o->type == CFG_LISTEN || o->type == CFG_REDIRECT) {
        cfg_fail(x, "%s: goes in a section: [%s] then %s", key, key,
                 o->type == CFG_LISTEN ? "PROTO = ADDR:PORT" : "/FROM = TO");
        return;
    }
    if (o->type == CFG_ALLOW || o->type == CFG_DENY) {
        cfg_fail(x, "%s: goes in a section: [access] (or [access PROTO]) then %s = CIDR", key, key);
        return;
    }
    if (x->set_at[idx] != 0) {
        cfg_fail(x, "%s is given twice (first on line %u)", key, x->set_at[idx]);
        return;
    }
    x->set_at[idx] = x->line;
    x->workers_set |= strcmp(key, "workers") == 0;
    if (o->type == CFG_FLAG) {
        if (cfg_bool(value, &on) < 0)
            cfg_fail(x, "%s: yes or no, not '%s'", key, value);
        else
            *(bool *)((char *)x->cfg + o->offset) = on;
        return;
    }
    if ((copy = cfg_strdup(x->cfg, value)) == NULL)
        cfg_fail(x, "%s: out of memory", key);
    else
        cfg_apply(x, o, copy);
}

/* "[access]" or "[access PROTO]": the list its rules join. */
static struct acl *cfg_file_acl(struct cfg_ctx *x, const char *which)
{
    int p;

    which += strspn(which, " \t");
    if (*which == '\0')
        return &x->cfg->acl;
    if ((p = proto_find(which)) < 0 || p == PROTO_HUB) {
        if (strcmp(which, x->bad_section) != 0) { /* once per section */
            snprintf(x->bad_section, sizeof(x->bad_section), "%s", which);
            if (p < 0)
                cfg_fail(x,
                         "[access %s]: unknown protocol (native, http, echo, upcase, daytime, "
                         "lottery, metrics)",
                         which);
            else
                cfg_fail(x, "[access hub]: the hub (UDP) takes no rules: its login is its gate");
        }
        return NULL;
    }
    x->cfg->has_proto_acl[p] = true;
    return &x->cfg->proto_acl[p];
}

/* An entry of a section: [listen] PROTO = ADDR:PORT, [redirect] /FROM =
 * TO, [access ...] allow|deny = CIDR. */
static void cfg_file_list(struct cfg_ctx *x, const char *section, const char *key,
                          const char *value)
{
    char text[CFGFILE_LINE_MAX * 2];
    const char *copy;
    struct acl *a;

    if (strcmp(section, "access") == 0 || strncmp(section, "access ", 7) == 0) {
        if (strcmp(key, "allow") != 0 && strcmp(key, "deny") != 0) {
            cfg_fail(x, "[%s]: '%s': allow or deny", section, key);
            return;
        }
        if ((a = cfg_file_acl(x, section + 6)) != NULL)
            cfg_acl_option(x, a, key, key[0] == 'a', value);
        return;
    }
    if (strcmp(section, "redirect") == 0) {
        if ((copy = cfg_strdup(x->cfg, value)) == NULL)
            cfg_fail(x, "out of memory");
        else
            cfg_file_redirect(x, key, copy);
        return;
    }
    snprintf(text, sizeof(text), "%s=%s", key, value);
    if ((copy = cfg_strdup(x->cfg, text)) == NULL)
        cfg_fail(x, "out of memory");
    else
        cfg_listen_option(x, copy);
}

static void cfg_file_entry(void *user, const char *section, const char *key, const char *value,
                           unsigned line)
{
    struct cfg_ctx *x = user;
    char trimmed[CFGFILE_LINE_MAX];
    size_t n;

    /* "[ listen ]" is [listen]: libinih trims keys and values, not these. */
    section += strspn(section, " \t");
    n = strlen(section);
    while (n > 0 && (section[n - 1] == ' ' || section[n - 1] == '\t'))
        n--;
    snprintf(trimmed, sizeof(trimmed), "%.*s", (int)n, section);
    section = trimmed;
    x->line = line;
    if (section[0] == '\0') {
        cfg_file_option(x, key, value);
    } else if (strcmp(section, "listen") == 0 || strcmp(section, "redirect") == 0 ||
               strcmp(section, "access") == 0 || strncmp(section, "access ", 7) == 0) {
        cfg_file_list(x, section, key, value);
    } else if (strcmp(section, x->bad_section) != 0) { /* once per section */
        snprintf(x->bad_section, sizeof(x->bad_section), "%s", section);
        cfg_fail(x, "unknown section [%s] (listen, redirect, access, access PROTO)", section);
    }
}

/* Reads the file -c named. Returns 0 or -EINVAL (reported). */
static int cfg_read_file(struct cfg_ctx *x)
{
    unsigned errors = x->rep->errors, bad_line;
    int rc;

    x->file = x->cfg->config_file;
    rc = cfgfile_read(x->file, cfg_file_entry, x, &bad_line);
    if (rc == -EINVAL) {
        x->line = bad_line;
        cfg_fail(x,
                 "not a 'key = value', a [section] or a comment (or longer than %d "
                 "characters)",
                 CFGFILE_LINE_MAX - 1);
    } else if (rc < 0) {
        x->line = 0;
        cfg_fail(x, "cannot read the configuration file: %s", strerror(-rc));
    }
    x->file = NULL;
    x->line = 0;
    return x->rep->errors > errors ? -EINVAL : 0;
}

/* Checks what no single option can: the pool against the slots. */
/* The watchdog takes a transfer without progress for --stall-timeout for
 * stuck: a wait a client may legitimately make should be shorter, or the
 * watchdog kills a worker whose client was only slow. Said, not refused:
 * a short watchdog is how a test or an operator catches stalls early. */
static void cfg_check_stall(struct cfg_ctx *x)
{
    static const struct {
        const char *name;
        size_t offset;
    } waits[] = {
        {"request-timeout", CFG_AT(request_timeout)},
        {"header-timeout", CFG_AT(header_timeout)},
        {"io-timeout", CFG_AT(io_timeout)},
    };
    const struct config *cfg = x->cfg;

    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]) && cfg->stall_timeout > 0; i++) {
        unsigned v = *(const unsigned *)((const char *)cfg + waits[i].offset);

        if (v >= cfg->stall_timeout)
            cfg_warn(x,
                     "--stall-timeout %u is not above --%s %u: the watchdog may take a client "
                     "that is only slow for stuck",
                     cfg->stall_timeout, waits[i].name, v);
    }
}

/* --max-requests replaces pool workers: fork mode's children serve one
 * connection each and iterative mode has no worker to replace, so there
 * the option could only mislead. */
static int cfg_check_max_requests(struct cfg_ctx *x)
{
    const struct config *cfg = x->cfg;

    if (cfg->max_requests_jitter > 0 && cfg->max_requests == 0)
        return cfg_fail(x, "--max-requests-jitter %u without --max-requests: nothing to jitter",
                        cfg->max_requests_jitter);
    if (cfg->max_requests == 0 || cfg->mode == MODE_PREFORK || cfg->mode == MODE_EVENT)
        return 0;
    return cfg_fail(x, "--max-requests applies to prefork and event workers: %s",
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
static int cfg_check_hub(struct cfg_ctx *x)
{
    struct config *cfg = x->cfg;

    if (cfg->hub_wire != NULL && strcmp(cfg->hub_wire, "plain") != 0 &&
        strcmp(cfg->hub_wire, "secure") != 0)
        return cfg_fail(x, "--hub-wire %s: secure or plain", cfg->hub_wire);
    cfg->hub_plain = cfg->hub_wire != NULL && strcmp(cfg->hub_wire, "plain") == 0;
    if (!cfg_listens(cfg, PROTO_HUB))
        return cfg->hub_db == NULL
                   ? 0
                   : cfg_fail(x, "--hub-db without a hub: add --listen hub=ADDR:PORT");
    if (cfg->mode == MODE_ITERATIVE)
        return cfg_fail(x, "--listen hub=: the hub runs as a process of its own, which the "
                           "iterative mode does not have (use fork, prefork or event)");
    if (cfg->hub_db == NULL)
        return cfg_fail(x, "--listen hub=: the hub keeps its accounts and posts in --hub-db PATH");
    if (cfg->workers + 1 > cfg->max_children)
        return cfg_fail(x,
                        "--workers %u and the hub need %u child slots: raise --max-children "
                        "above %u",
                        cfg->workers, cfg->workers + 1, cfg->max_children);
    for (unsigned i = 0; i < cfg->nlisten && cfg->hub_plain && !cfg->hub_allow_plain; i++) {
        if (cfg->listen[i].proto == PROTO_HUB && !cfg_loopback(cfg->listen[i].host))
            return cfg_fail(x,
                            "--listen hub=%s: the plain wire carries passwords in clear: "
                            "loopback only, unless --hub-allow-plain",
                            cfg->listen[i].host);
    }
    return 0;
}

/* Rules that cannot do what they say: one after "all" never matches, and
 * the hub's datagrams are not subject to any (README). Said, not refused. */
static void cfg_check_acl_list(struct cfg_ctx *x, const struct acl *a)
{
    long dead = acl_unreachable(a);

    if (dead >= 0)
        cfg_warn(x,
                 "'%s' comes after '%s': the first rule that matches decides, so it never "
                 "matches",
                 a->rules[dead].text, a->rules[dead - 1].text);
}

static void cfg_check_acl(struct cfg_ctx *x)
{
    const struct config *cfg = x->cfg;

    cfg_check_acl_list(x, &cfg->acl);
    for (int p = 0; p < PROTO_COUNT; p++) {
        cfg_check_acl_list(x, &cfg->proto_acl[p]);
        if (cfg->has_proto_acl[p] && !cfg_listens(cfg, (enum proto)p))
            cfg_warn(x, "[access %s]: no %s listener to apply it to", proto_name((unsigned)p),
                     proto_name((unsigned)p));
    }
    if (cfg->acl.n > 0 && cfg_listens(cfg, PROTO_HUB))
        cfg_warn(x, "--allow/--deny do not apply to the hub (UDP): its login is its gate");
}

static int cfg_check(struct cfg_ctx *x)
{
    struct config *cfg = x->cfg;

    cfg->http.header_timeout_ms = (int)cfg->header_timeout * 1000;
    cfg->http.keepalive_timeout_ms = (int)cfg->keepalive_timeout * 1000;
    if (cfg->keepalive_timeout == 0) /* no keep-alive: one request per connection */
        cfg->http.keepalive_requests = 1;
    if (!x->workers_set) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = cfg->mode == MODE_FORK ? cfg->max_children : (unsigned)(cpus > 0 ? cpus : 1);
        if (cfg->workers > cfg_max_workers(cfg)) /* the hub's slot is not theirs */
            cfg->workers = cfg_max_workers(cfg);
        if (cfg->workers == 0)
            return cfg_fail(x, "--max-children %u leaves no slot for a worker beside the hub",
                            cfg->max_children);
    }
    if (cfg->workers > cfg->max_children)
        return cfg_fail(x,
                        "--workers %u exceeds --max-children %u (the number of child slots); "
                        "raise --max-children or lower --workers",
                        cfg->workers, cfg->max_children);
    /* The scoreboard maps a record per connection any child may hold: a
     * bound on that product keeps a typo from asking for terabytes. */
    if (cfg->mode == MODE_EVENT &&
        (uint64_t)cfg->max_children * cfg->worker_connections > CFG_RECORDS_MAX)
        return cfg_fail(x,
                        "--max-children %u x --worker-connections %u exceeds %u connection "
                        "records; lower one of them",
                        cfg->max_children, cfg->worker_connections, CFG_RECORDS_MAX);
    if (cfg_check_max_requests(x) < 0)
        return -EINVAL;
    cfg_check_stall(x);
    cfg_check_acl(x);
    return cfg_check_hub(x);
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

/* The short form: ADDRESS PORT DIRECTORY, or ADDRESS:PORT DIRECTORY with
 * the port inside the address ("[::1]:4242"): one native listener, which
 * replaces the file's listeners as --listen would. */
static int cfg_short_form(struct cfg_ctx *x, int n, char **v)
{
    struct config *cfg = x->cfg;
    char host[ADDR_HOST_MAX];
    int port = -1;

    if (addr_split(v[0], host, sizeof(host), &port) < 0)
        return cfg_fail(x,
                        "'%s' is not an address (a host name, IPv4, IPv6 or [IPv6], "
                        "optionally with :PORT)",
                        v[0]);
    if (n == 2 && port < 0 && addr_port_parse(v[1]) >= 0)
        return cfg_fail(x, "expected ADDRESS PORT DIRECTORY: the DIRECTORY is missing");
    if (n == 2 && port < 0)
        return cfg_bad_address(x, "expected ADDRESS PORT DIRECTORY: ", v[0], true);
    if (n == 3 && port >= 0)
        return cfg_fail(x, "'%s' carries a port already: expected ADDRESS:PORT DIRECTORY", v[0]);
    if (n == 3 && (port = addr_port_parse(v[1])) < 0)
        return cfg_fail(x, "PORT must be 0..65535, got '%s'", v[1]);
    cfg->directory = v[n - 1];
    cfg->nlisten = 0;
    return cfg_add_listen(x, PROTO_NATIVE, host, port);
}

/* The operands: DIRECTORY alone when listeners are named (--listen, or
 * the file's [listen]), or none when the file names the directory too;
 * else the short form. */
static int cfg_operands(struct cfg_ctx *x, int n, char **v)
{
    struct config *cfg = x->cfg;

    if (x->cli_listen && n > 1)
        return cfg_fail(x, "with --listen, the DIRECTORY is the only argument (got %d)", n);
    if (cfg->nlisten > 0 && n == 1) {
        cfg->directory = v[0];
        return 0;
    }
    if (cfg->nlisten > 0 && n == 0)
        return cfg->directory != NULL
                   ? 0
                   : cfg_fail(x, "the DIRECTORY to serve is missing (an argument, or "
                                 "directory = in the configuration file)");
    if (n < 2 || n > 3)
        return cfg_fail(x,
                        "expected ADDRESS PORT DIRECTORY or --listen PROTO=ADDR:PORT DIRECTORY, "
                        "got %d argument(s)",
                        n);
    return cfg_short_form(x, n, v);
}

void cfg_free(struct config *cfg)
{
    cfg_acl_clear(cfg);
    while (cfg->strings != NULL) {
        struct cfg_string *next = cfg->strings->next;

        free(cfg->strings);
        cfg->strings = next;
    }
}

/* One pass of getopt_long over argv. The first (early) takes only what
 * comes before the file (-c, -t, help, version); the second the rest,
 * after the file, so that the command line overrides it. Returns 0, 1
 * (help or version printed) or -EINVAL; *operands is where they start. */
static int cfg_pass(struct cfg_ctx *x, int argc, char **argv, bool early, int *operands)
{
    struct option longopts[CFG_NOPTIONS + 1];
    int c, idx, rc;

    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < CFG_NOPTIONS; i++) {
        longopts[i].name = cfg_options[i].name;
        longopts[i].has_arg = cfg_options[i].arg ? required_argument : no_argument;
        longopts[i].val = 256 + (int)i;
    }
    opterr = 0;
    optind = 0; /* glibc: a full restart, should this argv not be the first parsed */
    /* Options may come anywhere ("ferryd ADDR PORT DIR --mode fork"). */
    while ((c = getopt_long(argc, argv, "hVc:t", longopts, &idx)) != -1) {
        const struct cfg_option *o;

        if (c == 'h' || c == 'V' || c == 'c' || c == 't')
            c = 256 + (int)cfg_index_of(c == 'h'   ? CFG_HELP
                                        : c == 'V' ? CFG_VERSION
                                        : c == 'c' ? CFG_FILE
                                                   : CFG_TEST);
        if (c < 256) {
            if (!early)
                return cfg_fail(x, "unknown or incomplete option '%s'", argv[optind - 1]);
            continue;
        }
        o = &cfg_options[c - 256];
        if (early != (o->type == CFG_HELP || o->type == CFG_VERSION || o->type == CFG_FILE ||
                      o->type == CFG_TEST))
            continue;
        if (!early && o->type == CFG_LISTEN && !x->cli_listen) {
            x->cli_listen = true;
            x->cfg->nlisten = 0;
        } else if (!early && o->type == CFG_REDIRECT && !x->cli_redirect) {
            x->cli_redirect = true;
            x->cfg->http.nredirects = 0;
        } else if (!early && (o->type == CFG_ALLOW || o->type == CFG_DENY) && !x->cli_acl) {
            x->cli_acl = true;
            cfg_acl_clear(x->cfg);
        }
        if ((rc = cfg_apply(x, o, optarg)) != 0)
            return rc;
        x->workers_set |= strcmp(o->name, "workers") == 0;
    }
    *operands = optind;
    return 0;
}

/* cfg_load() without the freeing on failure. */
static int cfg_load_all(struct cfg_ctx *x, int argc, char **argv)
{
    char **early = calloc((size_t)argc + 1, sizeof(char *));
    int rc, operands;

    /* The early pass reads a copy: getopt_long() reorders what it reads,
     * and an option left without its argument at the end would take an
     * operand moved after it for one in the second pass. */
    if (early == NULL)
        return cfg_fail(x, "out of memory");
    memcpy(early, argv, (size_t)argc * sizeof(char *));
    rc = cfg_pass(x, argc, early, true, &operands);
    free(early);
    if (rc != 0)
        return rc;
    if (x->cfg->config_file != NULL && cfg_read_file(x) < 0)
        return -EINVAL;
    if ((rc = cfg_pass(x, argc, argv, false, &operands)) != 0)
        return rc;
    if ((rc = cfg_operands(x, argc - operands, argv + operands)) < 0)
        return rc;
    return cfg_check(x);
}

int cfg_load(int argc, char **argv, struct config *cfg, struct cfg_report *rep)
{
    struct cfg_ctx x = {.cfg = cfg, .rep = rep};
    int rc;

    memset(rep, 0, sizeof(*rep));
    cfg_defaults(cfg);
    cfg->argc = argc;
    cfg->argv = argv;
    rc = cfg_load_all(&x, argc, argv);
    if (rc == 0 && rep->errors > 0)
        rc = -EINVAL; /* a problem reported on the way, then read past */
    if (rc != 0)
        cfg_free(cfg);
    return rc;
}

void cfg_report_each(const struct cfg_report *r, cfg_line_fn fn, void *user)
{
    const char *line = r->text;

    for (const char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        bool warning = strncmp(line, "warning: ", 9) == 0;
        size_t skip = warning ? 9 : 0;

        fn(user, line + skip, (size_t)(nl - line) - skip, warning);
    }
}

static void cfg_print_line(void *user, const char *line, size_t len, bool warning)
{
    (void)user;
    fprintf(stderr, "ferryd: %s%.*s\n", warning ? "warning: " : "", (int)len, line);
}

int cfg_parse(int argc, char **argv, struct config *cfg)
{
    struct cfg_report rep;
    int rc = cfg_load(argc, argv, cfg, &rep);

    cfg_report_each(&rep, cfg_print_line, NULL);
    if (rc < 0 && rep.len >= sizeof(rep.text) - 1)
        fprintf(stderr, "ferryd: ... %u error(s) in all\n", rep.errors);
    if (rc < 0 && !cfg->test_only)
        fprintf(stderr, "try 'ferryd --help'\n");
    return rc;
}

int cfg_reload(const struct config *cur, struct config *next, struct cfg_report *rep)
{
    return cfg_load(cur->argc, cur->argv, next, rep);
}

void cfg_move(struct config *dst, struct config *src)
{
    *dst = *src;
    for (size_t i = 0; i < dst->http.nredirects; i++)
        dst->redirects[i].from = dst->redirect_from[i];
    dst->http.redirects = dst->redirects;
    memset(src, 0, sizeof(*src));
}

/* A scalar option's value as the file writes it into buf; NULL when it is
 * unset (a string option left out) or no scalar. */
static const char *cfg_value(const struct config *cfg, const struct cfg_option *o, char *buf,
                             size_t len)
{
    const char *at = (const char *)cfg + o->offset;

    switch (o->type) {
    case CFG_UINT:
    case CFG_SIZE:
    case CFG_SECONDS:
        snprintf(buf, len, "%u", *(const unsigned *)at);
        return buf;
    case CFG_STRING:
        return *(const char *const *)at;
    case CFG_FLAG:
        return *(const bool *)at ? "yes" : "no";
    case CFG_MODE:
        return cfg_mode_name(cfg->mode);
    case CFG_LEVEL:
        return (unsigned)cfg->log_level < 4 ? cfg_levels[cfg->log_level] : "info";
    default:
        return NULL;
    }
}

/* A listener as the file writes it: "[::1]:8080". */
static void cfg_listen_text(const struct cfg_listen *l, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s:%s", strchr(l->host, ':') ? "[" : "", l->host,
             strchr(l->host, ':') ? "]" : "", l->port);
}

/* The rules of a, as the file writes them. */
static void cfg_dump_acl(const struct acl *a, const char *section, cfg_emit_fn fn, void *user)
{
    for (size_t i = 0; i < a->n; i++)
        fn(user, section, a->rules[i].allow ? "allow" : "deny", strchr(a->rules[i].text, ' ') + 1);
}

void cfg_dump(const struct config *cfg, cfg_emit_fn fn, void *user)
{
    char buf[ADDR_HOST_MAX + 16], section[32];
    const char *v;

    for (size_t i = 0; i < CFG_NOPTIONS; i++) {
        if ((v = cfg_value(cfg, &cfg_options[i], buf, sizeof(buf))) != NULL)
            fn(user, "", cfg_options[i].name, v);
    }
    for (unsigned i = 0; i < cfg->nlisten; i++) {
        cfg_listen_text(&cfg->listen[i], buf, sizeof(buf));
        fn(user, "listen", proto_name(cfg->listen[i].proto), buf);
    }
    for (size_t i = 0; i < cfg->http.nredirects; i++) {
        char from[sizeof(cfg->redirect_from[0]) * 3], *o = from;

        for (const char *p = cfg->redirects[i].from; *p != '\0'; p++)
            o += cfg_redirect_escaped((unsigned char)*p) ? sprintf(o, "%%%02X", (unsigned char)*p)
                                                         : sprintf(o, "%c", *p);
        fn(user, "redirect", from, cfg->redirects[i].to);
    }
    cfg_dump_acl(&cfg->acl, "access", fn, user);
    for (int p = 0; p < PROTO_COUNT; p++) {
        snprintf(section, sizeof(section), "access %s", proto_name((unsigned)p));
        if (cfg->has_proto_acl[p])
            cfg_dump_acl(&cfg->proto_acl[p], section, fn, user);
    }
}

/* Why a running ferryd cannot change the option called name, or NULL
 * when it can. */
static const char *cfg_fixed_why(const char *name)
{
    for (size_t i = 0; i < sizeof(cfg_fixed) / sizeof(cfg_fixed[0]); i++) {
        if (strcmp(cfg_fixed[i].name, name) == 0)
            return cfg_fixed[i].why;
    }
    return NULL;
}

/* Compares the top-level options. */
static void cfg_compare_options(struct cfg_ctx *x, const struct config *cur,
                                const struct config *next, struct cfg_report *refused)
{
    struct cfg_ctx y = {.rep = refused};

    for (size_t i = 0; i < CFG_NOPTIONS; i++) {
        const struct cfg_option *o = &cfg_options[i];
        char ba[64], bb[64];
        const char *a = cfg_value(cur, o, ba, sizeof(ba)), *b = cfg_value(next, o, bb, sizeof(bb));
        const char *why = cfg_fixed_why(o->name);

        if ((a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0))
            continue;
        if (why != NULL)
            cfg_fail(&y, "%s: %s -> %s cannot change while ferryd runs (%s): restart it", o->name,
                     a ? a : "(unset)", b ? b : "(unset)", why);
        else
            cfg_change(x, "%s: %s -> %s", o->name, a ? a : "(unset)", b ? b : "(unset)");
    }
    if (cfg_listens(cur, PROTO_HUB) && cur->directory != NULL && next->directory != NULL &&
        strcmp(cur->directory, next->directory) != 0)
        cfg_fail(&y, "directory: the hub process places uploads in it and runs on: restart "
                     "ferryd to change it");
}

/* True when cfg has the listener l (by what the configuration says, so
 * that a port 0 listener is the same one across a reload). */
static bool cfg_has_listen(const struct config *cfg, const struct cfg_listen *l)
{
    for (unsigned i = 0; i < cfg->nlisten; i++) {
        if (cfg->listen[i].proto == l->proto && strcmp(cfg->listen[i].host, l->host) == 0 &&
            strcmp(cfg->listen[i].port, l->port) == 0)
            return true;
    }
    return false;
}

/* The listeners in a and not in b, as added ('+') or removed ('-'): only
 * the workers' may come and go. */
static void cfg_compare_listen(struct cfg_ctx *x, const struct config *a, const struct config *b,
                               char sign, struct cfg_report *refused)
{
    struct cfg_ctx y = {.rep = refused};
    char where[ADDR_HOST_MAX + 16];

    for (unsigned i = 0; i < a->nlisten; i++) {
        const struct cfg_listen *l = &a->listen[i];

        if (cfg_has_listen(b, l))
            continue;
        cfg_listen_text(l, where, sizeof(where));
        if (proto_home(l->proto) != PROTO_HOME_WORKERS)
            cfg_fail(&y,
                     "listen: %c %s=%s: the %s listeners cannot change while ferryd runs: "
                     "restart it",
                     sign, proto_name(l->proto), where, proto_name(l->proto));
        else
            cfg_change(x, "listen: %c %s=%s", sign, proto_name(l->proto), where);
    }
}

/* A section's entries as one string, to compare lists whole. */
struct cfg_text {
    const char *section;
    FILE *f;
};

static void cfg_text_entry(void *user, const char *section, const char *key, const char *value)
{
    struct cfg_text *t = user;

    if (strcmp(section, t->section) == 0)
        fprintf(t->f, "%s=%s\n", key, value);
}

/* The entries of cfg's list under section into *buf (malloc'd, *len
 * bytes). Returns 0 or -ENOMEM. */
static int cfg_list_text(const struct config *cfg, const char *section, char **buf, size_t *len)
{
    struct cfg_text t = {.section = section, .f = open_memstream(buf, len)};

    if (t.f == NULL)
        return -ENOMEM;
    cfg_dump(cfg, cfg_text_entry, &t);
    return fclose(t.f) == 0 ? 0 : -ENOMEM;
}

/* True when a and b differ in the list cfg_dump() gives under section
 * (or when that cannot be told: out of memory). */
static bool cfg_lists_differ(const struct config *a, const struct config *b, const char *section)
{
    char *ta = NULL, *tb = NULL;
    size_t la = 0, lb = 0;
    bool differ = true;

    if (cfg_list_text(a, section, &ta, &la) == 0 && cfg_list_text(b, section, &tb, &lb) == 0)
        differ = la != lb || memcmp(ta, tb, la) != 0;
    free(ta);
    free(tb);
    return differ;
}

unsigned cfg_compare(const struct config *cur, const struct config *next,
                     struct cfg_report *changes, struct cfg_report *refused)
{
    struct cfg_ctx x = {.rep = changes};

    memset(changes, 0, sizeof(*changes));
    unsigned before = refused->errors;

    cfg_compare_options(&x, cur, next, refused);
    cfg_compare_listen(&x, cur, next, '-', refused);
    cfg_compare_listen(&x, next, cur, '+', refused);
    if (cfg_lists_differ(cur, next, "redirect"))
        cfg_change(&x, "redirect: %zu -> %zu rule(s)", cur->http.nredirects, next->http.nredirects);
    for (int p = -1; p < PROTO_COUNT; p++) {
        char section[32];

        snprintf(section, sizeof(section), p < 0 ? "access" : "access %s",
                 p < 0 ? "" : proto_name((unsigned)p));
        if (cfg_lists_differ(cur, next, section))
            cfg_change(&x, "[%s]: the rules changed", section);
    }
    return refused->errors - before;
}
