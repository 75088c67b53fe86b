/*
 * ctl: ferryctl's argument parsing and socket discovery. See ctl.h.
 */
#include "admin/ctl.h"

#include "admin/fmt.h"

#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void ctl_print_ping(FILE *out, json_t *resp)
{
    (void)resp;
    fprintf(out, "pong\n");
}

/* shutdown [--now] [--timeout S] */
static int ctl_build_shutdown(int argc, char **argv, json_t *req, char *err, size_t errlen)
{
    static const struct option opts[] = {
        {"now", no_argument, NULL, 'n'}, {"timeout", required_argument, NULL, 't'}, {0}};
    char *end;
    long t;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            json_object_set_new(req, "graceful", json_false());
            break;
        case 't':
            t = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || t < 0) {
                snprintf(err, errlen, "--timeout wants seconds, not '%s'", optarg);
                return -1;
            }
            json_object_set_new(req, "timeout_s", json_integer(t));
            break;
        default:
            snprintf(err, errlen, "shutdown takes [--now] [--timeout S]");
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "shutdown takes no argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

/* resize N|+N|-N [--drain-timeout S] [--no-wait]; the size comes first,
 * so that "-2" is a size and not an option. */
static int ctl_build_resize(int argc, char **argv, json_t *req, char *err, size_t errlen)
{
    static const struct option opts[] = {
        {"drain-timeout", required_argument, NULL, 'd'}, {"no-wait", no_argument, NULL, 'n'}, {0}};
    const char *spec = argc > 1 ? argv[1] : "";
    char *end;
    long n;
    int c;

    n = strtol(spec, &end, 10);
    if (spec[0] == '\0' || *end != '\0' || (spec[0] != '+' && spec[0] != '-' && n < 1)) {
        snprintf(err, errlen, "resize wants N, +N or -N workers, not '%s'", spec);
        return -1;
    }
    if (spec[0] == '+' || spec[0] == '-')
        json_object_set_new(req, "workers", json_string(spec));
    else
        json_object_set_new(req, "workers", json_integer(n));
    optind = 2;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'n') {
            json_object_set_new(req, "wait", json_false());
        } else if (c == 'd' && (n = strtol(optarg, &end, 10)) >= 0 && *end == '\0' && *optarg) {
            json_object_set_new(req, "drain_timeout_s", json_integer(n));
        } else {
            snprintf(err, errlen, "resize takes N|+N|-N [--drain-timeout S] [--no-wait]");
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "resize takes no argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

static void ctl_print_reopen(FILE *out, json_t *resp)
{
    if (json_is_true(json_object_get(resp, "reopened")))
        fprintf(out, "log file reopened\n");
    else
        fprintf(out, "%s\n", json_string_value(json_object_get(resp, "message")));
}

static void ctl_print_metrics(FILE *out, json_t *resp)
{
    fputs(json_string_value(json_object_get(resp, "text")), out);
}

/* top [--interval S] [--iterations N]. top's request is never sent: it
 * only carries these options to ferryctl's loop. */
static int ctl_build_top(int argc, char **argv, json_t *req, char *err, size_t errlen)
{
    static const struct option opts[] = {{"interval", required_argument, NULL, 'i'},
                                         {"iterations", required_argument, NULL, 'n'},
                                         {0}};
    char *end;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        double v = c == 'i' || c == 'n' ? strtod(optarg, &end) : -1;

        if (v <= 0 || *end != '\0' || (c == 'n' && v != (unsigned)v)) {
            snprintf(err, errlen, "top takes [--interval S] [--iterations N], both above 0");
            return -1;
        }
        json_object_set_new(req, c == 'i' ? "interval" : "iterations", json_real(v));
    }
    if (optind < argc) {
        snprintf(err, errlen, "top takes no argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
    {.name = "ping", .args = "", .help = "check that ferryd answers", .print = ctl_print_ping},
    {.name = "status",
     .args = "",
     .help = "version, state, limits, pool, totals, throughput, saturation",
     .print = fmt_status},
    {.name = "workers",
     .args = "",
     .help = "one row per process, with the transfer in progress",
     .print = fmt_workers},
    {.name = "metrics",
     .args = "",
     .help = "the same figures in Prometheus text format",
     .print = ctl_print_metrics},
    {.name = "events",
     .args = "",
     .help = "follow pool events (workers, resizes, limits, shutdown)",
     .print = fmt_event,
     .stream = true},
    {.name = "top",
     .args = "[--interval S] [--iterations N]",
     .help = "a live view of the pool and every transfer; q quits",
     .build = ctl_build_top,
     .print = fmt_status,
     .live = true},
    {.name = "resize",
     .args = "N|+N|-N [--drain-timeout S] [--no-wait]",
     .help = "set the pool size (prefork) or child limit (fork)",
     .build = ctl_build_resize,
     .print = fmt_resize},
    {.name = "reopen-logs",
     .args = "",
     .help = "reopen the log file (after rotation), in every process",
     .print = ctl_print_reopen},
    {.name = "shutdown",
     .args = "[--now] [--timeout S]",
     .help = "stop as SIGTERM does (or at once)",
     .build = ctl_build_shutdown,
     .print = fmt_shutdown},
};

void ctl_usage(FILE *out)
{
    fprintf(out,
            "usage: ferryctl [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
            "Talks to a running ferryd over its admin socket (docs/ADMIN.md).\n\n"
            "options:\n"
            "  -s, --socket PATH  the admin socket [$FERRY_ADMIN_SOCKET, else the one\n"
            "                     ferryd-*.sock in /run/ferry (root), $XDG_RUNTIME_DIR or /tmp]\n"
            "  --json             print the server's JSON answer unchanged\n"
            "  -h, --help         this help\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
        char left[48];
        snprintf(left, sizeof(left), "%s %s", ctl_cmds[i].name, ctl_cmds[i].args);
        fprintf(out, "  %-30s %s\n", left, ctl_cmds[i].help);
    }
    fprintf(out, "\nexit codes: 0 ok, 1 the server answered an error, 2 usage,\n"
                 "            3 cannot reach the socket\n");
}

int ctl_parse(int argc, char **argv, struct ctl_args *a, char *err, size_t errlen)
{
    static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c;

    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    /* '+': stop at the first non-option, the command word. */
    while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            a->socket = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 'h':
            return 1;
        default:
            snprintf(err, errlen, "unknown or incomplete option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind >= argc) {
        snprintf(err, errlen, "no command given");
        return -1;
    }
    for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
        if (strcmp(argv[optind], ctl_cmds[i].name) == 0)
            a->cmd = &ctl_cmds[i];
    }
    if (a->cmd == NULL) {
        snprintf(err, errlen, "unknown command '%s'", argv[optind]);
        return -1;
    }
    a->req = json_object();
    json_object_set_new(a->req, "cmd", json_string(a->cmd->stream ? "subscribe" : a->cmd->name));
    if (a->cmd->build != NULL) {
        if (a->cmd->build(argc - optind, argv + optind, a->req, err, errlen) < 0)
            goto fail;
    } else if (argc - optind > 1) {
        snprintf(err, errlen, "%s takes no arguments", a->cmd->name);
        goto fail;
    }
    return 0;
fail:
    json_decref(a->req);
    a->req = NULL;
    return -1;
}

int ctl_find_socket(char *buf, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("FERRY_ADMIN_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
    char pattern[512];
    glob_t g;
    int rc;

    if (env != NULL && env[0] != '\0') {
        snprintf(buf, len, "%s", env);
        return 0;
    }
    if (geteuid() == 0)
        snprintf(pattern, sizeof(pattern), "/run/ferry/ferryd-*.sock");
    else if (xdg != NULL && xdg[0] != '\0')
        snprintf(pattern, sizeof(pattern), "%s/ferryd-*.sock", xdg);
    else
        snprintf(pattern, sizeof(pattern), "/tmp/ferryd-%ld-*.sock", (long)geteuid());
    if (glob(pattern, 0, NULL, &g) != 0) {
        snprintf(err, errlen, "no ferryd admin socket matches %s (is ferryd running? use -s)",
                 pattern);
        return CTL_UNREACHABLE;
    }
    if (g.gl_pathc > 1) {
        snprintf(err, errlen, "%zu ferryd admin sockets match %s: choose one with -s", g.gl_pathc,
                 pattern);
        rc = CTL_USAGE;
    } else {
        snprintf(buf, len, "%s", g.gl_pathv[0]);
        rc = 0;
    }
    globfree(&g);
    return rc;
}
