/*
 * ctl: ferryctl's argument parsing, socket discovery and output width.
 * See ctl.h. One table of commands, each with its table of options,
 * drives the parser, the usage and the per-command --help.
 */
#include "admin/ctl.h"
#include "admin/hubctl.h"

#include "admin/fmt.h"
#include "common/duration.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>

/* ---- the commands -------------------------------------------------- */

enum { OPT_SOCKET = 1, OPT_JSON, OPT_WIDE, OPT_HELP, OPT_VERSION };
enum {
    OPT_NOW = 1,
    OPT_TIMEOUT,
    OPT_DRAIN,
    OPT_NO_WAIT,
    OPT_INTERVAL,
    OPT_ITERATIONS,
    OPT_SLOT,
    OPT_PID,
    OPT_PEER,
    OPT_STATE
};

/* ferryctl's own options, accepted anywhere on the line. */
static const struct ctl_opt ctl_global_opts[] = {
    {"socket", 's', "PATH", "the admin socket [found by itself: see below]", OPT_SOCKET},
    {"json", 0, NULL, "print the server's JSON answer unchanged", OPT_JSON},
    {"wide", 'w', NULL, "print full width: cut no name, drop no column", OPT_WIDE},
    {"help", 'h', NULL, "this help; after a command, the command's", OPT_HELP},
    {"version", 'V', NULL, "print ferryctl's version", OPT_VERSION},
    {0},
};

static const struct ctl_opt ctl_shutdown_opts[] = {
    {"now", 0, NULL, "stop at once, cutting transfers in flight", OPT_NOW},
    {"timeout", 0, "S", "grace for transfers in flight [shutdown-timeout]", OPT_TIMEOUT},
    {0},
};

static const struct ctl_opt ctl_resize_opts[] = {
    {"drain-timeout", 0, "S", "grace for busy workers, then kill [shutdown-timeout]", OPT_DRAIN},
    {"no-wait", 0, NULL, "answer at once, not when the pool has its size", OPT_NO_WAIT},
    {0},
};

static const struct ctl_opt ctl_top_opts[] = {
    {"interval", 0, "S", "seconds between frames [1]", OPT_INTERVAL},
    {"iterations", 0, "N", "frames to draw, then quit [0: until q]", OPT_ITERATIONS},
    {0},
};

/* The filters of connections: the option's name is the request's key. */
static const struct ctl_opt ctl_connections_opts[] = {
    {"slot", 0, "N", "only the connections of the process in slot N", OPT_SLOT},
    {"pid", 0, "P", "only those of process P", OPT_PID},
    {"peer", 0, "ADDR",
     "only those from ADDR: 127.0.0.1, ::1, [::1], or with a port, "
     "127.0.0.1:4242, [::1]:4242",
     OPT_PEER},
    {"state", 0, "S", "only those in state S: reading, waiting, keepalive, sending or closing",
     OPT_STATE},
    {0},
};

static void ctl_print_ping(FILE *out, json_t *resp, unsigned width)
{
    (void)resp;
    (void)width;
    fprintf(out, "pong\n");
}

/* Reads a whole number of seconds ("30", "30s", "5m": common/duration,
 * as ferryd's options); -1 when s is not one. */
static long ctl_seconds(const char *s)
{
    uint64_t secs;

    if (dur_parse_s(s, &secs) < 0 || secs > 86400)
        return -1;
    return (long)secs;
}

static int ctl_opt_shutdown(json_t *req, const struct ctl_opt *o, const char *val, char *err,
                            size_t errlen)
{
    long t;

    if (o->key == OPT_NOW) {
        json_object_set_new(req, "graceful", json_false());
        return 0;
    }
    if ((t = ctl_seconds(val)) < 0) {
        snprintf(err, errlen, "shutdown: --timeout wants whole seconds (30, 30s, 5m), not '%s'",
                 val);
        return -1;
    }
    json_object_set_new(req, "timeout_s", json_integer(t));
    return 0;
}

static int ctl_opt_resize(json_t *req, const struct ctl_opt *o, const char *val, char *err,
                          size_t errlen)
{
    long t;

    if (o->key == OPT_NO_WAIT) {
        json_object_set_new(req, "wait", json_false());
        return 0;
    }
    if ((t = ctl_seconds(val)) < 0) {
        snprintf(err, errlen, "resize: --drain-timeout wants whole seconds (30, 30s, 5m), not '%s'",
                 val);
        return -1;
    }
    json_object_set_new(req, "drain_timeout_s", json_integer(t));
    return 0;
}

/* resize N|+N|-N: a signed size is relative and goes as a string. */
static int ctl_operands_resize(json_t *req, int n, char **v, char *err, size_t errlen)
{
    const char *spec = n > 0 ? v[0] : NULL, *digits;
    char *end;
    long k;

    if (spec == NULL) {
        snprintf(err, errlen, "resize: the size is missing (N, +N or -N)");
        return -1;
    }
    digits = spec + (spec[0] == '+' || spec[0] == '-');
    errno = 0;
    k = strtol(spec, &end, 10);
    if (!isdigit((unsigned char)*digits) || *end != '\0' || errno != 0 || k == 0) {
        snprintf(err, errlen, "resize: '%s' is not N, +N or -N", spec);
        return -1;
    }
    if (n > 1) {
        snprintf(err, errlen, "resize: unexpected argument '%s'", v[1]);
        return -1;
    }
    if (spec[0] == '+' || spec[0] == '-')
        json_object_set_new(req, "workers", json_string(spec));
    else
        json_object_set_new(req, "workers", json_integer(k));
    return 0;
}

/* True when s is a port: 1 to 5 digits, at most 65535. */
static bool ctl_port_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && n <= 5 && s[n] == '\0' && strtol(s, NULL, 10) <= 65535;
}

/* True when s is a peer as connections filters by: an IPv4 or IPv6
 * address, the IPv6 one maybe in brackets, either with ":PORT" (then in
 * brackets, for IPv6). */
static bool ctl_peer_ok(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char host[INET6_ADDRSTRLEN];
    const char *end, *port = NULL;
    int family = AF_INET;
    size_t n;

    if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
        return true; /* an address alone */
    if (s[0] == '[') {
        family = AF_INET6;
        s++;
        if ((end = strchr(s, ']')) == NULL || (end[1] != '\0' && end[1] != ':'))
            return false;
        port = end[1] == ':' ? end + 2 : NULL;
    } else if ((end = strrchr(s, ':')) != NULL) {
        port = end + 1;
    } else {
        return false;
    }
    n = (size_t)(end - s);
    if (n >= sizeof(host) || (port != NULL && !ctl_port_ok(port)))
        return false;
    memcpy(host, s, n);
    host[n] = '\0';
    return inet_pton(family, host, buf) == 1;
}

/* connections' filters: a slot and a pid are whole numbers, a peer an
 * address; the state goes as it is, for ferryd, which knows the states,
 * to refuse (bad_argument). */
static int ctl_opt_connections(json_t *req, const struct ctl_opt *o, const char *val, char *err,
                               size_t errlen)
{
    json_t *v = NULL;
    char *end;
    long n;

    if (o->key == OPT_SLOT || o->key == OPT_PID) {
        errno = 0;
        n = strtol(val, &end, 10);
        if (isdigit((unsigned char)val[0]) && *end == '\0' && errno == 0 && n <= INT32_MAX &&
            (n > 0 || o->key == OPT_SLOT))
            v = json_integer(n);
    } else if (o->key == OPT_STATE || ctl_peer_ok(val)) {
        v = json_string(val); /* NULL unless UTF-8 */
    }
    if (v == NULL) {
        snprintf(err, errlen, "connections: --%s wants %s, not '%s'", o->name,
                 o->key == OPT_SLOT  ? "a slot number (0, 1, ...)"
                 : o->key == OPT_PID ? "a process id"
                 : o->key == OPT_PEER
                     ? "an address (127.0.0.1, ::1, [::1], 127.0.0.1:4242, [::1]:4242)"
                     : "a state (reading, waiting, keepalive, sending, closing)",
                 val);
        return -1;
    }
    json_object_set_new(req, o->name, v);
    return 0;
}

static void ctl_print_reopen(FILE *out, json_t *resp, unsigned width)
{
    (void)width;
    if (json_is_true(json_object_get(resp, "reopened")))
        fprintf(out, "log file reopened\n");
    else
        fprintf(out, "%s\n", json_string_value(json_object_get(resp, "message")));
}

/* A reload's changes and warnings, one per line. */
static void ctl_print_reload(FILE *out, json_t *resp, unsigned width)
{
    json_t *changes = json_object_get(resp, "changes"),
           *warnings = json_object_get(resp, "warnings");
    json_t *v;
    size_t i;

    (void)width;
    fprintf(out, "reloaded%s%s: %zu change(s)%s\n",
            json_is_string(json_object_get(resp, "file")) ? " " : "",
            json_is_string(json_object_get(resp, "file"))
                ? json_string_value(json_object_get(resp, "file"))
                : "",
            json_array_size(changes),
            json_is_true(json_object_get(resp, "replacing_workers"))
                ? "; replacing the workers one at a time (ferryctl events follows it)"
                : "");
    json_array_foreach(changes, i, v) fprintf(out, "  %s\n", json_string_value(v));
    json_array_foreach(warnings, i, v) fprintf(out, "  warning: %s\n", json_string_value(v));
}

/* An upgrade's steps, one per line. */
static void ctl_print_upgrade(FILE *out, json_t *resp, unsigned width)
{
    json_t *v;
    size_t i;

    (void)width;
    json_array_foreach(json_object_get(resp, "steps"), i, v)
        fprintf(out, "%s\n", json_string_value(v));
    fprintf(out, "upgraded in %.3f s: pid %lld serves; pid %lld drains and exits\n",
            json_real_value(json_object_get(resp, "time_s")),
            (long long)json_integer_value(json_object_get(resp, "new_pid")),
            (long long)json_integer_value(json_object_get(resp, "old_pid")));
}

/* The effective configuration, as a file ferryd -c reads back. */
static void ctl_print_config(FILE *out, json_t *resp, unsigned width)
{
    const char *section = "";
    json_t *e;
    size_t i;

    (void)width; /* a file's text: never cut */
    fprintf(out, "; the effective configuration of the ferryd at this socket%s%s\n",
            json_is_string(json_object_get(resp, "file")) ? ", read from " : "",
            json_is_string(json_object_get(resp, "file"))
                ? json_string_value(json_object_get(resp, "file"))
                : "");
    json_array_foreach(json_object_get(resp, "settings"), i, e)
    {
        const char *s = json_string_value(json_object_get(e, "section"));

        if (s != NULL && strcmp(s, section) != 0)
            fprintf(out, "\n[%s]\n", section = s);
        fprintf(out, "%s = %s\n", json_string_value(json_object_get(e, "key")),
                json_string_value(json_object_get(e, "value")));
    }
}

static void ctl_print_metrics(FILE *out, json_t *resp, unsigned width)
{
    (void)width; /* a format for machines: never cut */
    fputs(json_string_value(json_object_get(resp, "text")), out);
}

/* top's request is never sent: it only carries these options to
 * ferryctl's loop. */
static int ctl_opt_top(json_t *req, const struct ctl_opt *o, const char *val, char *err,
                       size_t errlen)
{
    uint64_t ms = 0;
    char *end;
    double v;

    errno = 0;
    if (o->key == OPT_INTERVAL) { /* a duration: "1", "0.5s", "500ms" */
        if (dur_parse(val, &ms) < 0 || ms == 0 || ms > 86400000) {
            snprintf(err, errlen,
                     "top: --interval wants a duration above 0 (1, 0.5s, 500ms), "
                     "not '%s'",
                     val);
            return -1;
        }
        v = (double)ms / 1000;
    } else if ((v = strtod(val, &end)),
               *val == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 1e9 || v != (unsigned)v) {
        snprintf(err, errlen, "top: --iterations wants a whole number (0: until q), not '%s'", val);
        return -1;
    }
    json_object_set_new(req, o->name, json_real(v));
    return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
    {.name = "ping", .args = "", .help = "check that ferryd answers", .print = ctl_print_ping},
    {.name = "status",
     .args = "",
     .help = "state, limits, pool, totals, throughput, listeners",
     .print = fmt_status},
    {.name = "workers",
     .args = "",
     .help = "one row per process, its connections and transfer",
     .print = fmt_workers},
    {.name = "connections",
     .args = "",
     .help = "one row per open connection: peer, target, progress",
     .opts = ctl_connections_opts,
     .option = ctl_opt_connections,
     .print = fmt_connections},
    {.name = "metrics",
     .args = "",
     .help = "the same figures in Prometheus text format",
     .print = ctl_print_metrics},
    {.name = "events",
     .args = "",
     .help = "follow events: workers, resizes, limits, shutdown",
     .print = fmt_event,
     .stream = true},
    {.name = "top",
     .args = "",
     .help = "a live view: status, processes, connections; q quits",
     .opts = ctl_top_opts,
     .option = ctl_opt_top,
     .print = fmt_status,
     .live = true},
    {.name = "resize",
     .args = "N|+N|-N",
     .args_help = "the pool size, or that many more or fewer workers",
     .help = "set the pool size (prefork) or child limit (fork)",
     .opts = ctl_resize_opts,
     .option = ctl_opt_resize,
     .operands = ctl_operands_resize,
     .signed_operand = true,
     .print = fmt_resize},
    {.name = "reopen-logs",
     .args = "",
     .help = "reopen the log file after rotation, in every process",
     .print = ctl_print_reopen},
    {.name = "reload",
     .args = "",
     .help = "read the configuration again and apply it, as SIGHUP does, with the outcome",
     .print = ctl_print_reload},
    {.name = "config",
     .args = "",
     .help = "the effective configuration, as a file ferryd -c reads",
     .print = ctl_print_config},
    {.name = "upgrade",
     .args = "",
     .help = "start the ferryd binary found at the path this one was started from, hand it the "
             "sockets, and let this one drain and exit (as SIGUSR2); each step is printed",
     .print = ctl_print_upgrade,
     .timeout_s = 3700}, /* the new binary has --upgrade-timeout (an hour at most) to serve */
    {.name = "hub",
     .args = "useradd|passwd|userdel ID, or users",
     .args_help = "the hub's accounts; a password from the terminal, or twice on stdin",
     .help = "the hub's accounts (docs/HUB.md)",
     .operands = hubctl_operands,
     .print = hubctl_print},
    {.name = "shutdown",
     .args = "",
     .help = "stop as SIGTERM does (or at once)",
     .opts = ctl_shutdown_opts,
     .option = ctl_opt_shutdown,
     .print = fmt_shutdown},
};

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

/* ---- usage --------------------------------------------------------- */

/* The usage's left column is this wide. */
#define CTL_USAGE_W 26

/* And its lines at most this wide. */
#define CTL_USAGE_COLS 80

/* Prints the len bytes of item after a space, or on a new line indented
 * to column indent when they would pass CTL_USAGE_COLS from column at.
 * Returns the column reached. */
static size_t ctl_usage_item(FILE *out, const char *item, size_t len, size_t at, size_t indent)
{
    if (at > indent && at + 1 + len > CTL_USAGE_COLS) {
        fprintf(out, "\n%*s", (int)indent, "");
        at = indent;
    } else {
        fputc(' ', out);
        at++;
    }
    fwrite(item, 1, len, out);
    return at + len;
}

/* Prints a line of the usage's two columns: left from column indent,
 * then text, which continues on lines of its own under itself when long. */
static void ctl_usage_text(FILE *out, int indent, const char *left, const char *text)
{
    int n = fprintf(out, "%*s%-*s", indent, "", CTL_USAGE_W - indent, left);
    size_t at = n > 0 ? (size_t)n : 0;

    for (const char *w = text; *w != '\0'; w += strspn(w, " ")) {
        size_t len = strcspn(w, " ");

        at = ctl_usage_item(out, w, len, at, CTL_USAGE_W + 1);
        w += len;
    }
    fputc('\n', out);
}

/* Prints the options of a table, "  -s, --socket PATH  help". */
static void ctl_usage_opts(FILE *out, const struct ctl_opt *o, int indent)
{
    for (; o != NULL && o->name != NULL; o++) {
        char left[64];

        if (o->letter != 0)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->letter, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        ctl_usage_text(out, indent, left, o->help);
    }
}

void ctl_usage(FILE *out)
{
    struct apath_place places[APATH_PLACES_MAX];
    size_t n = apath_places(geteuid(), getenv("XDG_RUNTIME_DIR"), places);

    fprintf(out, "usage: ferryctl [OPTIONS] COMMAND [ARGS]\n\n"
                 "Talks to a running ferryd over its admin socket (docs/ADMIN.md).\n"
                 "Options may come anywhere on the line; \"--\" ends them.\n\noptions:\n");
    ctl_usage_opts(out, ctl_global_opts, 2);
    fprintf(out, "\ncommands (each answers --help):\n");
    for (size_t i = 0; i < CTL_NCMDS; i++) {
        char left[48];

        snprintf(left, sizeof(left), "%s %s", ctl_cmds[i].name, ctl_cmds[i].args);
        ctl_usage_text(out, 2, left, ctl_cmds[i].help);
        ctl_usage_opts(out, ctl_cmds[i].opts, 4);
    }
    fprintf(out, "\nsocket: -s, else $FERRY_ADMIN_SOCKET, else the one ferryd-*.sock that\n"
                 "you may open among:\n");
    for (size_t i = 0; i < n; i++) {
        char pattern[APATH_MAX + APATH_PREFIX_MAX + 8];

        apath_pattern(&places[i], pattern, sizeof(pattern));
        fprintf(out, "  %s\n", pattern);
    }
    fprintf(out, "\nwidth: a terminal's, else $COLUMNS, else 80 on a terminal and no limit\n"
                 "into a pipe; --wide: no limit. Past it, tables drop columns and cut\n"
                 "names with an ellipsis.\n"
                 "\nexit codes: 0 ok, 1 the server answered an error (or output failed),\n"
                 "            2 usage, 3 cannot reach the socket, or ferryd closed it\n");
}

void ctl_cmd_usage(FILE *out, const struct ctl_cmd *cmd)
{
    int n = fprintf(out, "usage: ferryctl [OPTIONS] %s", cmd->name);
    size_t at = n > 0 ? (size_t)n : 0, indent = at + 1; /* wrapped under the command's end */

    if (cmd->args[0] != '\0')
        at = ctl_usage_item(out, cmd->args, strlen(cmd->args), at, indent);
    for (const struct ctl_opt *o = cmd->opts; o != NULL && o->name != NULL; o++) {
        char item[64];
        int len = snprintf(item, sizeof(item), "[--%s%s%s]", o->name, o->arg ? " " : "",
                           o->arg ? o->arg : "");

        len = len < 0 ? 0 : len < (int)sizeof(item) ? len : (int)sizeof(item) - 1;
        at = ctl_usage_item(out, item, (size_t)len, at, indent);
    }
    fputc('\n', out);
    fprintf(out, "\n%c%s.\n", toupper((unsigned char)cmd->help[0]), cmd->help + 1);
    if (cmd->args_help != NULL)
        fprintf(out, "\n  %-*s %s\n", CTL_USAGE_W - 2, cmd->args, cmd->args_help);
    if (cmd->opts != NULL) {
        fprintf(out, "\noptions:\n");
        ctl_usage_opts(out, cmd->opts, 2);
    }
    fprintf(out, "\nferryctl's options (-s PATH, --json, --wide, --help) may come anywhere\n"
                 "too; "
                 "'ferryctl --help' lists them.\n");
}

/* ---- parsing ------------------------------------------------------- */

/* Returns the option arg names in table (NULL: none), with *val set to a
 * value glued to it ("--timeout=5", "-sPATH") or NULL. */
static const struct ctl_opt *ctl_opt_find(const struct ctl_opt *table, const char *arg,
                                          const char **val)
{
    for (const struct ctl_opt *o = table; o != NULL && o->name != NULL; o++) {
        size_t n = strlen(o->name);

        if (arg[1] == '-' && strncmp(arg + 2, o->name, n) == 0 &&
            (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
            *val = arg[2 + n] == '=' ? arg + 3 + n : NULL;
            return o;
        }
        if (arg[1] != '-' && o->letter != 0 && arg[1] == o->letter &&
            (arg[2] == '\0' || o->arg != NULL)) {
            *val = arg[2] != '\0' ? arg + 2 : NULL;
            return o;
        }
    }
    return NULL;
}

/* Where a parse is: what it found so far and its first error. */
struct ctl_parse_state {
    struct ctl_args *a;
    char **operands;
    int noperands;
    bool help, version, failed, cmd_error, bad_cmd;
    char *err;
    size_t errlen;
};

/* Records the first error only: the rest of the line is still read for
 * --help. */
__attribute__((format(printf, 3, 4))) static void ctl_fail(struct ctl_parse_state *p, bool cmd,
                                                           const char *fmt, ...)
{
    va_list ap;

    if (p->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    p->failed = true;
    p->cmd_error = cmd;
}

static const struct ctl_cmd *ctl_cmd_find(const char *name)
{
    for (size_t i = 0; i < CTL_NCMDS; i++) {
        if (strcmp(name, ctl_cmds[i].name) == 0)
            return &ctl_cmds[i];
    }
    return NULL;
}

/* A word that is no option: the command word, else an operand. */
static void ctl_parse_word(struct ctl_parse_state *p, char *word)
{
    struct ctl_args *a = p->a;

    if (a->cmd != NULL) {
        p->operands[p->noperands++] = word;
        return;
    }
    if (p->bad_cmd) /* after an unknown command, the rest is noise */
        return;
    a->cmd = ctl_cmd_find(word);
    if (a->cmd == NULL) {
        ctl_fail(p, false, "unknown command '%s'", word);
        p->bad_cmd = true;
        return;
    }
    a->req = json_object();
    json_object_set_new(a->req, "cmd", json_string(a->cmd->stream ? "subscribe" : a->cmd->name));
}

/* Applies option o of ferryctl's own. */
static void ctl_parse_global(struct ctl_parse_state *p, const struct ctl_opt *o, const char *val)
{
    switch (o->key) {
    case OPT_SOCKET:
        p->a->socket = val;
        break;
    case OPT_JSON:
        p->a->json = true;
        break;
    case OPT_WIDE:
        p->a->wide = true;
        break;
    case OPT_HELP:
        p->help = true;
        break;
    case OPT_VERSION:
        p->version = true;
        break;
    }
}

/* Reads the option at argv[*i] (and its value, maybe the next word). */
static void ctl_parse_option(struct ctl_parse_state *p, int argc, char **argv, int *i)
{
    const struct ctl_cmd *cmd = p->a->cmd;
    const char *arg = argv[*i], *val = NULL;
    const struct ctl_opt *o = ctl_opt_find(ctl_global_opts, arg, &val);
    bool own = o == NULL && cmd != NULL;
    char msg[256];

    if (own)
        o = ctl_opt_find(cmd->opts, arg, &val);
    if (o == NULL) {
        ctl_fail(p, cmd != NULL, "%s%sunknown option '%s'", cmd ? cmd->name : "", cmd ? ": " : "",
                 arg);
        return;
    }
    if (o->arg != NULL && val == NULL) {
        if (*i + 1 >= argc) {
            ctl_fail(p, own, "%s%soption '%s' wants a value (%s)", own ? cmd->name : "",
                     own ? ": " : "", arg, o->arg);
            return;
        }
        val = argv[++*i];
    } else if (o->arg == NULL && val != NULL) {
        ctl_fail(p, own, "%s%soption '--%s' takes no value", own ? cmd->name : "", own ? ": " : "",
                 o->name);
        return;
    }
    if (!own)
        ctl_parse_global(p, o, val);
    else if (cmd->option(p->a->req, o, val, msg, sizeof(msg)) < 0)
        ctl_fail(p, true, "%s", msg);
}

/* True when arg is an operand though it starts with '-': "-" alone, or
 * the signed operand of a command such as resize ("-2", and "-x", which
 * its check then refuses), unless it is a known option ("--no-wait"). */
static bool ctl_is_operand(const struct ctl_parse_state *p, const char *arg)
{
    const struct ctl_cmd *cmd = p->a->cmd;
    const char *val;

    if (arg[1] == '\0')
        return true;
    return cmd != NULL && cmd->signed_operand && p->noperands == 0 && arg[1] != '-' &&
           ctl_opt_find(ctl_global_opts, arg, &val) == NULL &&
           ctl_opt_find(cmd->opts, arg, &val) == NULL;
}

/* The checks that need the whole line. Returns the parse's result. */
static int ctl_parse_end(struct ctl_parse_state *p)
{
    struct ctl_args *a = p->a;
    char msg[256];

    if (p->help)
        return CTL_HELP;
    if (p->version)
        return CTL_VERSION;
    if (!p->failed && a->cmd == NULL)
        ctl_fail(p, false, "no command given");
    if (!p->failed && a->cmd->operands != NULL &&
        a->cmd->operands(a->req, p->noperands, p->operands, msg, sizeof(msg)) < 0)
        ctl_fail(p, true, "%s", msg);
    if (!p->failed && a->cmd->operands == NULL && p->noperands > 0)
        ctl_fail(p, true, "%s: unexpected argument '%s'", a->cmd->name, p->operands[0]);
    if (!p->failed)
        return CTL_RUN;
    if (!p->cmd_error)
        a->cmd = NULL; /* the whole usage fits the problem better */
    return -1;
}

int ctl_parse(int argc, char **argv, struct ctl_args *a, char *err, size_t errlen)
{
    struct ctl_parse_state p = {.a = a, .err = err, .errlen = errlen};
    bool options = true;
    int rc;

    memset(a, 0, sizeof(*a));
    err[0] = '\0';
    p.operands = calloc((size_t)argc + 1, sizeof(char *));
    if (p.operands == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0)
            options = false;
        else if (!options || argv[i][0] != '-' || ctl_is_operand(&p, argv[i]))
            ctl_parse_word(&p, argv[i]);
        else
            ctl_parse_option(&p, argc, argv, &i);
    }
    rc = ctl_parse_end(&p);
    free(p.operands);
    if (rc != CTL_RUN) {
        json_decref(a->req);
        a->req = NULL;
    }
    return rc;
}

/* ---- discovery ----------------------------------------------------- */

int ctl_find_socket(char *buf, size_t len, char *err, size_t errlen)
{
    struct apath_place places[APATH_PLACES_MAX];
    const char *env = getenv("FERRY_ADMIN_SOCKET");
    size_t n;

    if (env != NULL && env[0] != '\0') {
        if ((size_t)snprintf(buf, len, "%s", env) >= len) {
            snprintf(err, errlen, "FERRY_ADMIN_SOCKET is too long for a socket path");
            return CTL_UNREACHABLE;
        }
        return 0;
    }
    n = apath_places(geteuid(), getenv("XDG_RUNTIME_DIR"), places);
    return ctl_find_socket_in(places, n, buf, len, err, errlen);
}

/* The sockets found so far. */
struct ctl_found {
    char **path;
    size_t n, cap;
    size_t denied;               /* seen but not for this user */
    char first_denied[PATH_MAX]; /* for the message */
    size_t stale;                /* left by a ferryd that is gone */
};

/* False when nobody listens on the socket at path any more (a ferryd
 * killed before it could remove it): connect() is refused at once. */
static bool ctl_alive(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bool alive = true;

    if (fd < 0 || strlen(path) >= sizeof(sun.sun_path)) {
        if (fd >= 0)
            close(fd);
        return true; /* cannot tell: keep it */
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 && errno == ECONNREFUSED)
        alive = false;
    close(fd);
    return alive;
}

static int ctl_by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Adds path unless it is known already. Returns 0 or -ENOMEM. */
static int ctl_found_add(struct ctl_found *f, const char *path)
{
    char **grown;

    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->path[i], path) == 0)
            return 0; /* the same directory reached twice */
    }
    if (f->n == f->cap) {
        grown = realloc(f->path, (f->cap ? f->cap * 2 : 8) * sizeof(char *));
        if (grown == NULL)
            return -ENOMEM;
        f->path = grown;
        f->cap = f->cap ? f->cap * 2 : 8;
    }
    if ((f->path[f->n] = strdup(path)) == NULL)
        return -ENOMEM;
    f->n++;
    return 0;
}

/* Collects place's sockets that this user may open, sorted by name. */
static int ctl_collect(const struct apath_place *place, struct ctl_found *f)
{
    DIR *d = opendir(place->dir);
    size_t first = f->n;
    struct dirent *e;
    int rc = 0;

    if (d == NULL)
        return 0; /* absent or closed to us: nothing of ours there */
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;

        if (!apath_match(place, e->d_name) ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", place->dir, e->d_name) >= APATH_MAX ||
            stat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || !apath_owner_ok(e->d_name, st.st_uid))
            continue; /* too long to connect to, not a socket, or an impostor's */
        /* AT_EACCESS: connect() checks the effective ids, as must we. */
        if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) < 0) {
            if (f->denied++ == 0)
                snprintf(f->first_denied, sizeof(f->first_denied), "%s", path);
            continue;
        }
        if (!ctl_alive(path)) {
            f->stale++;
            continue;
        }
        rc = ctl_found_add(f, path);
    }
    closedir(d);
    if (f->n > first)
        qsort(f->path + first, f->n - first, sizeof(char *), ctl_by_name);
    return rc;
}

/* err: "no ferryd admin socket in A, B (...)". */
static void ctl_say_none(const struct apath_place *places, size_t n, const struct ctl_found *f,
                         char *err, size_t errlen)
{
    size_t off = (size_t)snprintf(err, errlen, "no ferryd admin socket in");

    for (size_t i = 0; i < n && off < errlen; i++) {
        char pattern[APATH_MAX + APATH_PREFIX_MAX + 8];

        apath_pattern(&places[i], pattern, sizeof(pattern));
        off += (size_t)snprintf(err + off, errlen - off, "%s %s", i ? "," : "", pattern);
    }
    if (off < errlen && f->denied > 0)
        off += (size_t)snprintf(err + off, errlen - off,
                                " that you may open (%zu you may not, such as %s: is "
                                "ferryd's --admin-group yours?)",
                                f->denied, f->first_denied);
    if (off < errlen && f->stale > 0)
        off += (size_t)snprintf(err + off, errlen - off,
                                " (%zu left by a ferryd that is gone: nothing answers there)",
                                f->stale);
    if (off < errlen)
        snprintf(err + off, errlen - off, "; is ferryd running? -s PATH names a socket");
}

/* err: "N ferryd admin sockets found:", one a line, and how to pick one;
 * the list is cut short rather than the advice. */
static void ctl_say_several(const struct ctl_found *f, char *err, size_t errlen)
{
    static const char advice[] = "\npick one with -s PATH or FERRY_ADMIN_SOCKET=PATH";
    size_t off = (size_t)snprintf(err, errlen, "%zu ferryd admin sockets found:", f->n);

    for (size_t i = 0; i < f->n && off < errlen; i++) {
        size_t need = strlen(f->path[i]) + 3 + sizeof(advice) + 32;

        if (off + need > errlen) {
            off += (size_t)snprintf(err + off, errlen - off, "\n  (and %zu more)", f->n - i);
            break;
        }
        off += (size_t)snprintf(err + off, errlen - off, "\n  %s", f->path[i]);
    }
    if (off < errlen)
        snprintf(err + off, errlen - off, "%s", advice);
}

int ctl_find_socket_in(const struct apath_place *places, size_t n, char *buf, size_t len, char *err,
                       size_t errlen)
{
    struct ctl_found f = {0};
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ctl_collect(&places[i], &f);
    if (rc < 0) {
        snprintf(err, errlen, "cannot list the admin sockets: %s", strerror(-rc));
        rc = CTL_UNREACHABLE;
    } else if (f.n == 0) {
        ctl_say_none(places, n, &f, err, errlen);
        rc = CTL_UNREACHABLE;
    } else if (f.n > 1) {
        ctl_say_several(&f, err, errlen);
        rc = CTL_USAGE;
    } else if ((size_t)snprintf(buf, len, "%s", f.path[0]) >= len) {
        snprintf(err, errlen, "socket path too long: %s", f.path[0]);
        rc = CTL_UNREACHABLE;
    }
    for (size_t i = 0; i < f.n; i++)
        free(f.path[i]);
    free(f.path);
    return rc;
}

/* ---- width --------------------------------------------------------- */

/* The widest width believed: beyond it $COLUMNS is a typo. */
#define CTL_WIDTH_MAX 10000

unsigned ctl_width(bool wide, bool tty, unsigned tty_cols, const char *columns)
{
    char *end;
    long n = -1;

    if (wide)
        return CUT_WIDE;
    if (tty && tty_cols > 0)
        return tty_cols;
    if (columns != NULL && columns[0] >= '0' && columns[0] <= '9') {
        n = strtol(columns, &end, 10);
        n = *end == '\0' && n > 0 && n <= CTL_WIDTH_MAX ? n : -1;
    }
    if (n > 0)
        return (unsigned)n;
    return tty ? 80 : CUT_WIDE;
}
