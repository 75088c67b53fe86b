/* Unit tests for ferryctl: argument parsing, the admin socket path rule
 * and discovery, the output width and table formatting. */
#include "admin/ctl.h"
#include "admin/fmt.h"
#include "common/adminpath.h"
#include "common/size.h"

#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- parsing ------------------------------------------------------- */

static int parse(struct ctl_args *a, char *err, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;

    argv[argc++] = "ferryctl";
    va_start(ap, err);
    for (char *s; (s = va_arg(ap, char *)) != NULL;)
        argv[argc++] = s;
    va_end(ap);
    argv[argc] = NULL;
    return ctl_parse(argc, argv, a, err, 256);
}

static const char *req_str(const struct ctl_args *a, const char *key)
{
    return json_string_value(json_object_get(a->req, key));
}

static void test_parse_commands(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "status", NULL), CTL_RUN);
    assert_string_equal(a.cmd->name, "status");
    assert_string_equal(req_str(&a, "cmd"), "status");
    assert_false(a.json);
    assert_false(a.wide);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "-s", "/x.sock", "--json", "workers", NULL), CTL_RUN);
    assert_string_equal(a.socket, "/x.sock");
    assert_true(a.json);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "events", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "cmd"), "subscribe");
    json_decref(a.req);
}

/* ferryctl's options count after the command word as well as before. */
static void test_parse_options_anywhere(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "status", "--json", NULL), CTL_RUN);
    assert_true(a.json);
    assert_string_equal(a.cmd->name, "status");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "status", "-s", "/p.sock", NULL), CTL_RUN);
    assert_string_equal(a.socket, "/p.sock");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "--json", "status", NULL), CTL_RUN);
    assert_true(a.json);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "workers", "--socket=/q.sock", "-w", NULL), CTL_RUN);
    assert_string_equal(a.socket, "/q.sock");
    assert_true(a.wide);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "--wide", "-s/r.sock", "top", "--json", NULL), CTL_RUN);
    assert_string_equal(a.socket, "/r.sock");
    assert_true(a.wide && a.json);
    json_decref(a.req);
    /* "--" ends the options: what follows is an operand. */
    assert_int_equal(parse(&a, err, "status", "--", "--json", NULL), -1);
    assert_string_equal(err, "status: unexpected argument '--json'");
}

static void test_parse_shutdown(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "shutdown", "--now", "--timeout", "5", NULL), CTL_RUN);
    assert_true(json_is_false(json_object_get(a.req, "graceful")));
    assert_int_equal(json_integer_value(json_object_get(a.req, "timeout_s")), 5);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "shutdown", "--timeout=7", "--json", NULL), CTL_RUN);
    assert_int_equal(json_integer_value(json_object_get(a.req, "timeout_s")), 7);
    assert_true(a.json);
    assert_null(json_object_get(a.req, "graceful"));
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", "soon", NULL), -1);
    assert_string_equal(err, "shutdown: --timeout wants whole seconds (30, 30s, 5m), not 'soon'");
    assert_string_equal(a.cmd->name, "shutdown"); /* its usage follows */
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", "-1", NULL), -1);
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", "1500ms", NULL), -1);
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", "2m", NULL), CTL_RUN); /* durations */
    assert_int_equal(json_integer_value(json_object_get(a.req, "timeout_s")), 120);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "-1", "--drain-timeout", "5s", NULL), CTL_RUN);
    assert_int_equal(json_integer_value(json_object_get(a.req, "drain_timeout_s")), 5);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", NULL), -1);
    assert_string_equal(err, "shutdown: option '--timeout' wants a value (S)");
    assert_int_equal(parse(&a, err, "shutdown", "extra", NULL), -1);
    assert_string_equal(err, "shutdown: unexpected argument 'extra'");
    /* A command's options count only after it. */
    assert_int_equal(parse(&a, err, "--now", "shutdown", NULL), -1);
    assert_string_equal(err, "unknown option '--now'");
    assert_int_equal(parse(&a, err, "status", "--now", NULL), -1);
    assert_string_equal(err, "status: unknown option '--now'");
}

static void test_parse_resize(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    /* "-2" after the command word is a size, not an option. */
    assert_int_equal(parse(&a, err, "resize", "-2", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "workers"), "-2");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "--no-wait", "-2", "--json", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "workers"), "-2");
    assert_true(json_is_false(json_object_get(a.req, "wait")));
    assert_true(a.json);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "-2", "-s", "/p.sock", NULL), CTL_RUN);
    assert_string_equal(a.socket, "/p.sock");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "--json", "resize", "+3", "--no-wait", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "workers"), "+3");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "5", "--drain-timeout", "7", NULL), CTL_RUN);
    assert_int_equal(json_integer_value(json_object_get(a.req, "workers")), 5);
    assert_int_equal(json_integer_value(json_object_get(a.req, "drain_timeout_s")), 7);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "--", "-1", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "workers"), "-1");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "-x", NULL), -1);
    assert_string_equal(err, "resize: '-x' is not N, +N or -N");
    assert_string_equal(a.cmd->name, "resize");
    assert_int_equal(parse(&a, err, "resize", NULL), -1);
    assert_string_equal(err, "resize: the size is missing (N, +N or -N)");
    assert_int_equal(parse(&a, err, "resize", "0", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "+0", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", " 2", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "two", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "2", "--drain-timeout", "x", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "2", "3", NULL), -1);
    assert_string_equal(err, "resize: unexpected argument '3'");
    /* Once the size is read, a dash word is an option again. */
    assert_int_equal(parse(&a, err, "resize", "2", "-3", NULL), -1);
    assert_string_equal(err, "resize: unknown option '-3'");
    assert_int_equal(parse(&a, err, "resize", "2", "--bogus", NULL), -1);
    assert_string_equal(err, "resize: unknown option '--bogus'");
}

static void test_parse_top(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "top", NULL), CTL_RUN);
    assert_true(a.cmd->live);
    assert_null(json_object_get(a.req, "interval"));
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "top", "--interval", "0.5", "--iterations", "3", NULL),
                     CTL_RUN);
    assert_float_equal(json_real_value(json_object_get(a.req, "interval")), 0.5, 1e-9);
    assert_float_equal(json_real_value(json_object_get(a.req, "iterations")), 3, 1e-9);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "top", "--interval", "0", NULL), -1);
    assert_string_equal(err, "top: --interval wants a duration above 0 (1, 0.5s, 500ms), not '0'");
    assert_int_equal(parse(&a, err, "top", "--iterations", "1.5", NULL), -1);
    assert_int_equal(parse(&a, err, "top", "--interval", "500ms", "--iterations", "0", NULL),
                     CTL_RUN); /* 0 iterations: until q, as the help says */
    assert_float_equal(json_real_value(json_object_get(a.req, "interval")), 0.5, 1e-9);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "top", "--interval", "nan", NULL), -1);
    assert_int_equal(parse(&a, err, "top", "now", NULL), -1);
}

static void test_parse_help_and_version(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "--help", NULL), CTL_HELP);
    assert_null(a.cmd);
    assert_int_equal(parse(&a, err, "-h", NULL), CTL_HELP);
    assert_null(a.req);
    assert_int_equal(parse(&a, err, "resize", "--help", NULL), CTL_HELP);
    assert_string_equal(a.cmd->name, "resize");
    assert_null(a.req);
    assert_int_equal(parse(&a, err, "top", "-h", NULL), CTL_HELP);
    assert_string_equal(a.cmd->name, "top");
    assert_int_equal(parse(&a, err, "--help", "shutdown", NULL), CTL_HELP);
    assert_string_equal(a.cmd->name, "shutdown");
    /* Help wins over a mistake elsewhere on the line. */
    assert_int_equal(parse(&a, err, "resize", "-x", "--help", NULL), CTL_HELP);
    assert_int_equal(parse(&a, err, "status", "--bogus", "-h", NULL), CTL_HELP);
    assert_string_equal(a.cmd->name, "status");
    assert_int_equal(parse(&a, err, "--version", NULL), CTL_VERSION);
    assert_int_equal(parse(&a, err, "-V", NULL), CTL_VERSION);
    assert_int_equal(parse(&a, err, "status", "-V", NULL), CTL_VERSION);
}

static void test_parse_connections(void **state)
{
    const char *peers[] = {"127.0.0.1",      "::1",        "[::1]",
                           "127.0.0.1:4242", "[::1]:4242", "[2001:db8::1]:65535",
                           "::ffff:10.0.0.1"};
    const char *bad_peers[] = {"localhost", "127.0.0.1:",  "127.0.0.1:65536", "[::1",
                               "[::1]4242", "[127.0.0.1]", "::1:x",           "1.2.3.4:5:6",
                               "",          "[::1]:123456"};
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "connections", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "cmd"), "connections");
    assert_int_equal(json_object_size(a.req), 1); /* no filter: every connection */
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "connections", "--slot", "0", "--pid=4242", "--state",
                           "keepalive", "--peer", "[::1]", "--json", NULL),
                     CTL_RUN);
    assert_int_equal(json_integer_value(json_object_get(a.req, "slot")), 0);
    assert_true(json_is_integer(json_object_get(a.req, "pid")));
    assert_int_equal(json_integer_value(json_object_get(a.req, "pid")), 4242);
    assert_string_equal(req_str(&a, "state"), "keepalive");
    assert_string_equal(req_str(&a, "peer"), "[::1]");
    assert_true(a.json);
    json_decref(a.req);
    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
        if (parse(&a, err, "connections", "--peer", peers[i], NULL) != CTL_RUN)
            fail_msg("'%s' refused: %s", peers[i], err);
        assert_string_equal(req_str(&a, "peer"), peers[i]);
        json_decref(a.req);
    }
    for (size_t i = 0; i < sizeof(bad_peers) / sizeof(bad_peers[0]); i++) {
        if (parse(&a, err, "connections", "--peer", bad_peers[i], NULL) != -1)
            fail_msg("'%s' taken for a peer", bad_peers[i]);
        assert_string_equal(a.cmd->name, "connections"); /* its usage follows */
    }
    assert_int_equal(parse(&a, err, "connections", "--peer", "localhost", NULL), -1);
    assert_string_equal(err, "connections: --peer wants an address (127.0.0.1, ::1, [::1], "
                             "127.0.0.1:4242, [::1]:4242), not 'localhost'");
    /* The state goes as it is: ferryd knows its states, and refuses. */
    assert_int_equal(parse(&a, err, "connections", "--state", "stuck", NULL), CTL_RUN);
    assert_string_equal(req_str(&a, "state"), "stuck");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "connections", "--slot", "x", NULL), -1);
    assert_string_equal(err, "connections: --slot wants a slot number (0, 1, ...), not 'x'");
    assert_int_equal(parse(&a, err, "connections", "--slot", "-1", NULL), -1);
    assert_int_equal(parse(&a, err, "connections", "--slot", "1.5", NULL), -1);
    assert_int_equal(parse(&a, err, "connections", "--slot", "", NULL), -1);
    assert_int_equal(parse(&a, err, "connections", "--slot", "99999999999", NULL), -1);
    assert_int_equal(parse(&a, err, "connections", "--pid", "0", NULL), -1);
    assert_string_equal(err, "connections: --pid wants a process id, not '0'");
    assert_int_equal(parse(&a, err, "connections", "--pid", " 7", NULL), -1);
    assert_int_equal(parse(&a, err, "connections", "--slot", NULL), -1);
    assert_string_equal(err, "connections: option '--slot' wants a value (N)");
    assert_int_equal(parse(&a, err, "connections", "sending", NULL), -1);
    assert_string_equal(err, "connections: unexpected argument 'sending'");
    /* The filters belong to connections alone. */
    assert_int_equal(parse(&a, err, "workers", "--state", "sending", NULL), -1);
    assert_string_equal(err, "workers: unknown option '--state'");
}

static void test_parse_errors(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, NULL), -1);
    assert_string_equal(err, "no command given");
    assert_null(a.cmd);
    assert_int_equal(parse(&a, err, "frobnicate", NULL), -1);
    assert_string_equal(err, "unknown command 'frobnicate'");
    assert_int_equal(parse(&a, err, "--bogus", "status", NULL), -1);
    assert_string_equal(err, "unknown option '--bogus'");
    assert_null(a.cmd); /* ferryctl's problem: the whole usage follows */
    assert_null(a.req);
    assert_int_equal(parse(&a, err, "-s", NULL), -1);
    assert_string_equal(err, "option '-s' wants a value (PATH)");
    assert_int_equal(parse(&a, err, "status", "--json=yes", NULL), -1);
    assert_string_equal(err, "option '--json' takes no value");
    assert_int_equal(parse(&a, err, "-hV", "status", NULL), -1);
    assert_int_equal(parse(&a, err, "status", "now", NULL), -1);
    assert_string_equal(err, "status: unexpected argument 'now'");
    assert_string_equal(a.cmd->name, "status");
}

/* ---- text ---------------------------------------------------------- */

/* The widest line of text, in display columns. */
static size_t widest(const char *text)
{
    size_t most = 0;
    char *copy = strdup(text), *save = NULL;

    for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        size_t n = cut_cols(l);
        most = n > most ? n : most;
    }
    free(copy);
    return most;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void test_usage_fits(void **state)
{
    const char *cmds[] = {"ping",   "status", "workers",     "connections", "metrics",
                          "events", "top",    "reopen-logs", "shutdown",    "resize"};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct ctl_args a;
    char err[256];

    (void)state;
    ctl_usage(out);
    fflush(out);
    assert_true(widest(text) <= 80);
    assert_non_null(strstr(text, "exit codes"));
    assert_non_null(strstr(text, "--drain-timeout S"));
    assert_non_null(strstr(text, "-V, --version"));
    assert_non_null(strstr(text, "ferryd-*.sock"));
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        rewind(out);
        assert_int_equal(parse(&a, err, cmds[i], "--help", NULL), CTL_HELP);
        ctl_cmd_usage(out, a.cmd);
        fputc('\0', out);
        fflush(out);
        assert_true(widest(text) <= 80);
        assert_non_null(strstr(text, cmds[i]));
    }
    /* A synopsis too long for a line continues under the command's end;
     * a long option help under itself. */
    rewind(out);
    assert_int_equal(parse(&a, err, "connections", "--help", NULL), CTL_HELP);
    ctl_cmd_usage(out, a.cmd);
    fputc('\0', out);
    fflush(out);
    assert_non_null(strstr(text, "usage: ferryctl [OPTIONS] connections [--slot N] [--pid P] "
                                 "[--peer ADDR]\n                                      "
                                 "[--state S]\n"));
    assert_non_null(strstr(text, "\n  --state S                only those in state S: reading, "
                                 "waiting, keepalive,\n                           sending or "
                                 "closing\n"));
    fclose(out);
    free(text);
}

static void test_units(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(fmt_duration(12.34, buf, sizeof(buf)), "12.3s");
    assert_string_equal(fmt_duration(185, buf, sizeof(buf)), "3m05s");
    assert_string_equal(fmt_duration(3720, buf, sizeof(buf)), "1h02m");
    assert_string_equal(fmt_duration(90000, buf, sizeof(buf)), "1d01h");
    assert_string_equal(fmt_rate(1.5 * 1024 * 1024, buf, sizeof(buf)), "1.5 MiB/s");
    assert_string_equal(fmt_rate(0, buf, sizeof(buf)), "0 B/s");
}

static void test_cut(void **state)
{
    char buf[64];

    (void)state;
    setlocale(LC_CTYPE, "C");
    assert_string_equal(cut_ellipsis(), "...");
    assert_string_equal(cut_text("abcdefghij", 10, buf, sizeof(buf)), "abcdefghij");
    assert_string_equal(cut_text("abcdefghij", 7, buf, sizeof(buf)), "ab...ij");
    assert_string_equal(cut_text("abcdefghij", 2, buf, sizeof(buf)), "ab");
    assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
    assert_string_equal(cut_ellipsis(), "\u2026");
    assert_string_equal(cut_text("abcdefghij", 5, buf, sizeof(buf)), "ab\u2026ij");
    assert_int_equal(cut_cols("ab\u2026ij"), 5);
    /* Cut at code points, never inside one. */
    assert_string_equal(cut_text("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", 4, buf, sizeof(buf)),
                        "\u00e9\u00e9\u2026\u00e9");
    setlocale(LC_CTYPE, "C");
}

/* A peer keeps its port, a name its extension: what tells one transfer
 * from another when the middle goes. */
static void test_cut_keeps_port_and_extension(void **state)
{
    char buf[128];

    (void)state;
    assert_int_equal(cut_keep_cols("10.0.0.123:4242", CUT_KEEP_PORT), 5);
    assert_int_equal(cut_keep_cols("[::1]:6", CUT_KEEP_PORT), 3); /* "]:6" */
    assert_int_equal(cut_keep_cols("host", CUT_KEEP_PORT), 0);
    assert_int_equal(cut_keep_cols("a:b", CUT_KEEP_PORT), 0);
    assert_int_equal(cut_keep_cols("-", CUT_KEEP_PORT), 0);
    assert_int_equal(cut_keep_cols("x:", CUT_KEEP_PORT), 0);
    assert_int_equal(cut_keep_cols("big.iso", CUT_KEEP_EXT), 4);
    assert_int_equal(cut_keep_cols("a.b/c.tar.gz", CUT_KEEP_EXT), 3);
    assert_int_equal(cut_keep_cols("a.d/file", CUT_KEEP_EXT), 0); /* not this component's */
    assert_int_equal(cut_keep_cols(".bashrc", CUT_KEEP_EXT), 0);
    assert_int_equal(cut_keep_cols("notes.", CUT_KEEP_EXT), 0);
    assert_int_equal(cut_keep_cols("v1.2-and-a-long-tail", CUT_KEEP_EXT), 0);
    assert_int_equal(cut_keep_cols("big.iso", CUT_KEEP_NONE), 0);

    assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
    assert_string_equal(cut_keeping("10.0.0.123:4242", 11, CUT_KEEP_PORT, buf, sizeof(buf)),
                        "10.0.\u2026:4242");
    assert_string_equal(
        cut_keeping("[2001:db8:0:0:0:0:0:1]:443", 17, CUT_KEEP_PORT, buf, sizeof(buf)),
        "[2001:db\u20260:1]:443");
    /* The tryout's "127.…900": a plain cut loses the port, a kept one not. */
    assert_string_equal(cut_text("127.0.0.1:40900", 8, buf, sizeof(buf)), "127.\u2026900");
    assert_string_equal(cut_keeping("127.0.0.1:40900", 11, CUT_KEEP_PORT, buf, sizeof(buf)),
                        "127.\u2026:40900");
    assert_string_equal(cut_keeping("127.0.0.1:40900", 15, CUT_KEEP_PORT, buf, sizeof(buf)),
                        "127.0.0.1:40900");
    assert_string_equal(
        cut_keeping("debian-12.5.0-amd64-DVD-1.iso", 18, CUT_KEEP_EXT, buf, sizeof(buf)),
        "debian-12\u2026VD-1.iso");
    assert_string_equal(
        cut_keeping("START-xxxxxxxxxxxxxxxx-END.iso", 9, CUT_KEEP_EXT, buf, sizeof(buf)),
        "STAR\u2026.iso");
    /* Too narrow for the end and a column before it: a plain cut. */
    assert_string_equal(cut_keeping("abcdefghij.torrent", 9, CUT_KEEP_EXT, buf, sizeof(buf)),
                        "abcd\u2026rent");
    /* The narrowest recognisable cut: 8 columns, or 4 + the ellipsis + the end. */
    assert_int_equal(cut_min("127.0.0.1:40900", CUT_KEEP_PORT), 11);
    assert_int_equal(cut_min("[2001:db8:1234:5678:9abc:def0:1234:5678]:65535", CUT_KEEP_PORT), 12);
    assert_int_equal(cut_min("127.0.0.1:40900", CUT_KEEP_NONE), 8);
    assert_int_equal(cut_min("a.iso", CUT_KEEP_EXT), 5); /* shorter than any cut */
    assert_int_equal(cut_min("a-long-name.iso", CUT_KEEP_EXT), 9);
    setlocale(LC_CTYPE, "C");
    assert_int_equal(cut_min("127.0.0.1:40900", CUT_KEEP_PORT), 13);
    assert_string_equal(cut_keeping("127.0.0.1:40900", 13, CUT_KEEP_PORT, buf, sizeof(buf)),
                        "127....:40900");
}

static void test_width_rule(void **state)
{
    (void)state;
    assert_int_equal(ctl_width(true, true, 100, "60"), CUT_WIDE);
    assert_int_equal(ctl_width(false, true, 100, "60"), 100); /* the terminal knows best */
    assert_int_equal(ctl_width(false, true, 0, "60"), 60);
    assert_int_equal(ctl_width(false, true, 0, NULL), 80);
    assert_int_equal(ctl_width(false, true, 0, "wide"), 80);
    assert_int_equal(ctl_width(false, true, 0, "0"), 80);
    assert_int_equal(ctl_width(false, true, 0, "-5"), 80);
    assert_int_equal(ctl_width(false, false, 0, NULL), CUT_WIDE);
    assert_int_equal(ctl_width(false, false, 0, ""), CUT_WIDE);
    assert_int_equal(ctl_width(false, false, 0, "60"), 60); /* watch(1) sets it */
    assert_int_equal(ctl_width(false, false, 0, "60x"), CUT_WIDE);
}

/* ---- tables -------------------------------------------------------- */

/* Renders fn's output for answer r at width into a string. (noinline: GCC
 * takes the stream's pointer to text for a dangling one when inlined.) */
__attribute__((noinline)) static char *render(void (*fn)(FILE *, json_t *, unsigned),
                                              unsigned width, json_t *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(r);
    fn(out, r, width);
    fclose(out);
    return text;
}

static char *render_json(void (*fn)(FILE *, json_t *, unsigned), unsigned width, const char *json)
{
    json_t *r = json_loads(json, 0, NULL);
    char *text = render(fn, width, r);

    json_decref(r);
    return text;
}

/* Four processes: two with one connection each (a blocking mode's, or an
 * event worker's one), an idle one, and an event worker holding 1024,
 * its limit: no transfer of its own to show. */
static const char workers_json[] =
    "{\"ok\":true,\"workers\":[{\"slot\":0,\"pid\":42,\"generation\":3,"
    "\"state\":\"sending\",\"age_s\":65,\"connections\":1,\"full\":false,"
    "\"requests\":7,\"bytes\":2048,"
    "\"transfer\":{\"peer\":\"127.0.0.1:5\",\"protocol\":\"native\",\"listener\":"
    "\"127.0.0.1:4242\",\"target\":\"big.iso\",\"requests\":1,\"received\":7,\"size\":400,"
    "\"sent\":100,\"rate_bps\":2048,\"avg_rate_bps\":1,\"age_s\":3.5,\"idle_ms\":0}},"
    "{\"slot\":1,\"pid\":43,\"generation\":1,\"state\":\"keepalive\",\"age_s\":1,"
    "\"connections\":1,\"full\":false,"
    "\"requests\":0,\"bytes\":0,\"transfer\":{\"peer\":\"[::1]:6\",\"protocol\":\"http\","
    "\"listener\":\"[::1]:8080\",\"target\":\"/a\",\"requests\":3,\"received\":0,\"size\":0,"
    "\"sent\":0,\"rate_bps\":0,\"avg_rate_bps\":0,\"age_s\":1,\"idle_ms\":0}},"
    "{\"slot\":2,\"pid\":44,\"generation\":1,\"state\":\"idle\",\"age_s\":1,"
    "\"connections\":0,\"full\":false,\"requests\":0,\"bytes\":0},"
    "{\"slot\":3,\"pid\":45,\"generation\":1,\"state\":\"busy\",\"age_s\":2,"
    "\"connections\":1024,\"full\":true,\"requests\":5000,\"bytes\":1048576}]}";

/* The column of the first occurrence of s in line (-1: none). */
static long col_of(const char *line, const char *s)
{
    const char *at = strstr(line, s);
    return at != NULL ? at - line : -1;
}

static void test_workers_table_wide(void **state)
{
    char *t = render_json(fmt_workers, CUT_WIDE, workers_json);
    char *second = strchr(t, '\n') + 1, *third = strchr(second, '\n') + 1;
    char *fourth = strchr(third, '\n') + 1, *fifth = strchr(fourth, '\n') + 1;

    (void)state;
    assert_memory_equal(t,
                        "SLOT   PID GEN STATE         CONNS    AGE REQS      SENT  PROTO  "
                        "LISTENER        PEER        TARGET  PROGRESS         RATE\n",
                        (size_t)(second - t));
    assert_non_null(strstr(second, "   0    42   3 sending           1  1m05s    7   2.0 KiB  "
                                   "native 127.0.0.1:4242  127.0.0.1:5 big.iso"));
    assert_non_null(strstr(second, " 25% 100 B/400 B"));
    assert_non_null(strstr(second, "2.0 KiB/s"));
    /* An idle persistent connection is busy: its last request shows. */
    assert_non_null(strstr(third, "keepalive"));
    assert_non_null(strstr(third, "http   [::1]:8080      [::1]:6     /a "));
    assert_non_null(strstr(fourth, "idle              0"));
    /* A process at its limit says so; with many connections it has no
     * one transfer: the connections command shows them. */
    assert_non_null(strstr(fifth,
                           "   3    45   1 busy      1024 full   2.0s 5000   1.0 MiB  -      "
                           "-               -           -       -                -\n"));
    /* The columns line up: every row as long as the header up to RATE. */
    assert_int_equal(col_of(t, "RATE"), col_of(second, "2.0 KiB/s"));
    assert_int_equal(col_of(t, "TARGET"), col_of(second, "big.iso"));
    assert_int_equal(col_of(t, "PROTO"), col_of(third, "http"));
    assert_int_equal(col_of(t, "LISTENER"), col_of(third, "[::1]:8080"));
    assert_int_equal(col_of(t, "PEER"), col_of(third, "[::1]:6"));
    assert_int_equal(col_of(t, "CONNS") + 5, col_of(second, "1  1m05s") + 1);
    free(t);
}

/* A worker and the hub: KIND shows, and the hub's row has dashes for
 * the connection figures it has none of; where every process is a pool
 * worker, KIND tells nothing and does not show. At every width the
 * lines fit, and KIND goes before CONNS and STATE. */
static void test_workers_with_hub(void **state)
{
    static const char two[] =
        "{\"ok\":true,\"workers\":[{\"slot\":0,\"pid\":42,\"kind\":\"worker\","
        "\"generation\":3,\"state\":\"idle\",\"age_s\":65,\"connections\":0,"
        "\"full\":false,\"requests\":7,\"bytes\":2048},"
        "{\"slot\":1,\"pid\":43,\"kind\":\"hub\",\"generation\":1,\"state\":\"idle\","
        "\"age_s\":65,\"connections\":0,\"full\":false,\"requests\":0,\"bytes\":0,"
        "\"hub\":{\"sessions_online\":2,\"posts\":1}}]}";
    char *t = render_json(fmt_workers, CUT_WIDE, two), *second, *third;
    json_t *r;

    (void)state;
    second = strchr(t, '\n') + 1;
    third = strchr(second, '\n') + 1;
    assert_memory_equal(t, "SLOT   PID GEN KIND   STATE     CONNS    AGE REQS      SENT  PROTO ",
                        66);
    assert_non_null(
        strstr(second, "   0    42   3 worker idle          0  1m05s    7   2.0 KiB  -"));
    assert_non_null(
        strstr(third, "   1    43   1 hub    idle          -  1m05s    -         -  -"));
    assert_int_equal(col_of(t, "KIND"), col_of(third, "hub"));
    for (unsigned w = 30; w <= 120; w++) {
        char *n = render_json(fmt_workers, w, two);

        if (widest(n) > w)
            fail_msg("width %u: a line of %zu columns:\n%s", w, widest(n), n);
        /* KIND names the hub while it shows, and it goes before STATE. */
        assert_true(strstr(n, "KIND") == NULL || strstr(n, " hub ") != NULL);
        assert_true(strstr(n, "KIND") == NULL || strstr(n, "STATE") != NULL);
        free(n);
    }
    free(t);
    r = json_loads(two, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(r, "workers"), 1), "kind",
                        json_string("worker"));
    t = render(fmt_workers, CUT_WIDE, r);
    assert_null(strstr(t, "KIND"));
    assert_null(strstr(t, " worker "));
    free(t);
    json_decref(r);
}

/* An answer from a ferryd before the protocols ("file", no protocol or
 * listener) still shows what it has. */
static void test_workers_older_ferryd(void **state)
{
    char *t = render_json(fmt_workers, CUT_WIDE,
                          "{\"ok\":true,\"workers\":[{\"slot\":0,\"pid\":42,\"generation\":3,"
                          "\"state\":\"sending\",\"age_s\":65,\"requests\":7,\"bytes\":2048,"
                          "\"transfer\":{\"peer\":\"127.0.0.1:5\",\"file\":\"old.iso\","
                          "\"size\":400,\"sent\":100,\"rate_bps\":2048}}]}");

    (void)state;
    assert_non_null(strstr(t, "  -     -         127.0.0.1:5 old.iso "));
    assert_non_null(strstr(t, " sending       -  1m05s ")); /* no count of connections */
    free(t);
}

static const char long_listener[] = "[2001:db8:1234:5678:9abc:def0:1234:1]:4242";

/* A workers answer with a transfer per peer: long names, IPv6 peers. */
static json_t *busy_workers(const char *file, const char *peer, int n)
{
    json_t *list = json_array();

    for (int i = 0; i < n; i++) {
        json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:f}", "peer", peer, "protocol", "native",
                              "listener", long_listener, "target", file, "size",
                              (json_int_t)67108864 * (i + 1), "sent", (json_int_t)4096 * i,
                              "rate_bps", 123456.0 * i);
        json_array_append_new(list, json_pack("{s:i,s:i,s:i,s:s,s:f,s:i,s:I,s:o}", "slot", i, "pid",
                                              4194000 + i, "generation", 12, "state", "sending",
                                              "age_s", 86400.0 * 3, "requests", 123456, "bytes",
                                              (json_int_t)1 << 40, "transfer", t));
    }
    json_array_append_new(list, json_pack("{s:i,s:i,s:i,s:s,s:f,s:i,s:i}", "slot", n, "pid", 7,
                                          "generation", 1, "state", "idle", "age_s", 1.0,
                                          "requests", 0, "bytes", 0));
    return json_pack("{s:b,s:o}", "ok", 1, "workers", list);
}

static const char long_peer[] = "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535";

/* A 255-byte name (the longest valid), which starts and ends recognisably. */
static char *long_name(void)
{
    char *s = malloc(256);

    memset(s, 'x', 255);
    memcpy(s, "START-", 6);
    memcpy(s + 255 - 8, "-END.iso", 8);
    s[255] = '\0';
    return s;
}

static void test_workers_fit_80(void **state)
{
    char *name = long_name();
    json_t *r = busy_workers(name, long_peer, 3);
    char *t;

    (void)state;
    assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
    t = render(fmt_workers, 80, r);
    assert_true(widest(t) <= 80);
    assert_int_equal(count_lines(t), 5); /* the header, 4 rows: none wrapped */
    assert_non_null(strstr(t, "\u2026"));
    assert_non_null(strstr(t, "START-"));  /* the name's start... */
    assert_non_null(strstr(t, "END.iso")); /* ...and its end stay */
    assert_non_null(strstr(t, "65535"));   /* and the peer's port */
    assert_non_null(strstr(t, "PID"));
    assert_non_null(strstr(t, "STATE"));
    assert_non_null(strstr(t, "PROGRESS"));
    assert_non_null(strstr(t, "RATE"));
    assert_non_null(strstr(t, "sending"));
    assert_non_null(strstr(t, "  0% of 64.0 MiB"));
    assert_null(strstr(t, "GEN")); /* the least telling column went first */
    assert_null(strstr(t, "LISTENER"));
    free(t);
    /* Without a UTF-8 locale, three dots. */
    setlocale(LC_CTYPE, "C");
    t = render(fmt_workers, 80, r);
    assert_true(widest(t) <= 80);
    assert_null(strstr(t, "\u2026"));
    assert_non_null(strstr(t, "..."));
    free(t);
    /* Full width: nothing cut, nothing dropped. */
    t = render(fmt_workers, CUT_WIDE, r);
    assert_non_null(strstr(t, name));
    assert_non_null(strstr(t, long_peer));
    assert_non_null(strstr(t, " native "));
    assert_non_null(strstr(t, long_listener));
    assert_non_null(strstr(t, "GEN"));
    assert_non_null(strstr(t, "120.6 KiB/s"));
    assert_null(strstr(t, "..."));
    assert_true(widest(t) > 300);
    free(t);
    json_decref(r);
    free(name);
}

/* Every width, down to absurd ones, holds every line. */
static void test_workers_every_width(void **state)
{
    char *name = long_name();
    json_t *r = busy_workers(name, long_peer, 2);

    (void)state;
    setlocale(LC_CTYPE, "C.UTF-8");
    for (unsigned w = 1; w <= 400; w++) {
        char *t = render(fmt_workers, w, r);

        if (widest(t) > w)
            fail_msg("width %u: a line of %zu columns:\n%s", w, widest(t), t);
        assert_int_equal(count_lines(t), 4);
        free(t);
    }
    setlocale(LC_CTYPE, "C");
    json_decref(r);
    free(name);
}

/* A short transfer at 80 columns: nothing to cut. */
static void test_workers_short_at_80(void **state)
{
    json_t *r = busy_workers("big", "127.0.0.1:59910", 2);
    char *t = render(fmt_workers, 80, r);

    (void)state;
    assert_true(widest(t) <= 80);
    assert_null(strstr(t, "..."));
    assert_non_null(strstr(t, " big "));
    assert_non_null(strstr(t, "127.0.0.1:59910"));
    /* Room for the protocol, not for the listener's address. */
    assert_non_null(strstr(t, " PROTO "));
    assert_non_null(strstr(t, " native "));
    assert_null(strstr(t, "LISTENER"));
    free(t);
    json_decref(r);
}

/* CONNS at 80 columns: where each process holds one connection or none
 * (the blocking modes), STATE says as much and CONNS goes first, after
 * GEN; where one holds several, it stays, and SLOT goes before it. */
static void test_workers_conns_at_80(void **state)
{
    char *name = long_name();
    json_t *r = busy_workers("big", "127.0.0.1:59910", 1), *list = json_object_get(r, "workers");
    json_t *busy = json_array_get(list, 1);
    char *t;

    (void)state;
    setlocale(LC_CTYPE, "C.UTF-8");
    json_object_set_new(json_array_get(list, 0), "connections", json_integer(1));
    json_object_set_new(busy, "connections", json_integer(0));
    t = render(fmt_workers, 80, r);
    assert_true(widest(t) <= 80);
    assert_null(strstr(t, "CONNS"));
    assert_non_null(strstr(t, "SLOT"));
    free(t);
    t = render(fmt_workers, CUT_WIDE, r); /* shown when there is room */
    assert_non_null(strstr(t, " CONNS "));
    free(t);
    /* An event worker with 700 connections beside one with a long
     * transfer: the count stays. */
    json_object_set_new(json_object_get(json_array_get(list, 0), "transfer"), "target",
                        json_string(name));
    json_object_set_new(busy, "state", json_string("busy"));
    json_object_set_new(busy, "connections", json_integer(700));
    t = render(fmt_workers, 80, r);
    assert_true(widest(t) <= 80);
    assert_non_null(strstr(t, " CONNS "));
    assert_non_null(strstr(t, " busy        700 "));
    assert_null(strstr(t, "SLOT"));
    free(t);
    /* So does a full one. */
    json_object_set_new(busy, "connections", json_integer(1));
    json_object_set_new(busy, "full", json_true());
    t = render(fmt_workers, 80, r);
    assert_non_null(strstr(t, " 1 full "));
    free(t);
    setlocale(LC_CTYPE, "C");
    json_decref(r);
    free(name);
}

/* One transfer of the narrow-terminal tests: what its row must show
 * whole when its column is shown. */
struct narrow_xfer {
    const char *peer, *port, *target, *ext;
    json_int_t size, sent;
    double rate;
};

static json_t *narrow_workers(const struct narrow_xfer *x, size_t n)
{
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++) {
        json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:f}", "peer", x[i].peer, "protocol",
                              "native", "listener", long_listener, "target", x[i].target, "size",
                              x[i].size, "sent", x[i].sent, "rate_bps", x[i].rate);
        json_array_append_new(list, json_pack("{s:i,s:i,s:i,s:s,s:f,s:i,s:I,s:o}", "slot", (int)i,
                                              "pid", 4194000 + (int)i, "generation", 12, "state",
                                              "sending", "age_s", 7200.0, "requests", 9, "bytes",
                                              x[i].sent, "transfer", t));
    }
    json_array_append_new(list, json_pack("{s:i,s:i,s:i,s:s,s:f,s:i,s:i}", "slot", (int)n, "pid", 7,
                                          "generation", 1, "state", "idle", "age_s", 1.0,
                                          "requests", 0, "bytes", 0));
    return json_pack("{s:b,s:o}", "ok", 1, "workers", list);
}

/* The number of times s occurs in line. */
static size_t occurrences(const char *line, const char *s)
{
    size_t n = 0;

    for (const char *at = line; (at = strstr(at, s)) != NULL; at += strlen(s))
        n++;
    return n;
}

/* Checks the workers table t of x at width: every line within it, one
 * row per worker, the numbers of the columns shown whole, the peer's port
 * and the name's extension there, and an ellipsis only inside PEER and
 * TARGET, never alone. */
static void check_narrow(const char *t, const struct narrow_xfer *x, size_t n, unsigned width)
{
    const char *ell = cut_ellipsis();
    char *copy = strdup(t), *save = NULL, *head = strtok_r(copy, "\n", &save);
    size_t ew = strlen(ell);

    if (widest(t) > width)
        fail_msg("width %u: a line of %zu columns:\n%s", width, widest(t), t);
    assert_int_equal(count_lines(t), n + 2); /* the header, the rows, the idle one: none wrapped */
    assert_non_null(strstr(head, "PID"));
    for (size_t i = 0; i < n; i++) {
        char *row = strtok_r(NULL, "\n", &save), pid[16], cell[128], size[32], sent[32];
        long long pct = (long long)(x[i].sent * 100 / x[i].size);
        size_t len = strlen(row);

        assert_non_null(row);
        snprintf(pid, sizeof(pid), "%d", 4194000 + (int)i);
        assert_non_null(strstr(row, pid));
        size_format((uint64_t)x[i].size, size, sizeof(size));
        size_format((uint64_t)x[i].sent, sent, sizeof(sent));
        if (strstr(head, "RATE")) /* the tryout's "2.1 Mi…" */
            assert_non_null(strstr(row, fmt_rate(x[i].rate, cell, sizeof(cell))));
        if (strstr(head, "PROGRESS")) {
            snprintf(cell, sizeof(cell), "%3lld%% of %s", pct, size);
            if (strstr(row, cell) == NULL) {
                snprintf(cell, sizeof(cell), "%3lld%% %s/%s", pct, sent, size);
                assert_non_null(strstr(row, cell));
            }
        }
        if (strstr(head, "DONE")) {
            snprintf(cell, sizeof(cell), " %lld%% ", pct);
            assert_non_null(strstr(row, cell));
        }
        if (strstr(head, "SENT"))
            assert_non_null(strstr(row, sent));
        if (strstr(head, "PEER"))
            assert_non_null(strstr(row, x[i].port));
        if (strstr(head, "TARGET"))
            assert_non_null(strstr(row, x[i].ext));
        assert_true(occurrences(row, ell) <= 2);
        assert_false(len >= ew && strcmp(row + len - ew, ell) == 0); /* the line is never cut */
        snprintf(cell, sizeof(cell), " %s ", ell);
        assert_null(strstr(row, cell)); /* nor a cell cut to the ellipsis alone */
    }
    free(copy);
}

/* Long IPv6 peers, the longest names, big rates, at the widths of a
 * split terminal: PEER and TARGET stay and are cut keeping their port and
 * extension; a number is shown whole or its column dropped. */
static void test_workers_narrow(void **state)
{
    char *name = long_name();
    const struct narrow_xfer x[] = {
        {long_peer, "]:65535", name, ".iso", (json_int_t)5 << 40, (json_int_t)3 << 40,
         1073636966.0},
        {"10.200.30.40:4242", ":4242", "debian-12.5.0-amd64-DVD-1.iso", ".iso",
         (json_int_t)3993976832, 1 << 30, 916172.8},
        {"127.0.0.1:40900", ":40900", "big.bin", "big.bin", 268435456, 32768000, 2202009.6},
    };
    const unsigned widths[] = {40, 50, 60, 80};
    const char *locales[] = {"C.UTF-8", "C"};
    json_t *r = narrow_workers(x, 3);

    (void)state;
    for (size_t l = 0; l < 2; l++) {
        assert_non_null(setlocale(LC_CTYPE, locales[l]));
        for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
            char *t = render(fmt_workers, widths[i], r);

            check_narrow(t, x, 3, widths[i]);
            /* Who gets what stays down to 40 columns. */
            assert_non_null(strstr(t, "PEER"));
            assert_non_null(strstr(t, "TARGET"));
            if (widths[i] >= 50)
                assert_non_null(strstr(t, "RATE"));
            free(t);
        }
    }
    /* Every width from 40 on holds the same promises. */
    setlocale(LC_CTYPE, "C.UTF-8");
    for (unsigned w = 40; w <= 200; w++) {
        char *t = render(fmt_workers, w, r);

        check_narrow(t, x, 3, w);
        free(t);
    }
    setlocale(LC_CTYPE, "C");
    json_decref(r);
    free(name);
}

/* The tryout: one transfer at COLUMNS=60 and 50 showed "127.…900" and
 * "2.1 Mi…". Now the peer and the rate are whole, and nothing is cut. */
static void test_workers_tryout_at_60_and_50(void **state)
{
    const struct narrow_xfer x[] = {
        {"127.0.0.1:40900", ":40900", "big.bin", "big.bin", 268435456, 32768000, 2202009.6},
    };
    json_t *r = narrow_workers(x, 1);

    (void)state;
    assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
    for (unsigned w = 50; w <= 60; w += 10) {
        char *t = render(fmt_workers, w, r);

        check_narrow(t, x, 1, w);
        assert_non_null(strstr(t, "127.0.0.1:40900"));
        assert_non_null(strstr(t, " 2.1 MiB/s\n"));
        assert_non_null(strstr(t, " 12% "));
        assert_null(strstr(t, "\u2026"));
        free(t);
    }
    setlocale(LC_CTYPE, "C");
    json_decref(r);
}

/* ---- connections --------------------------------------------------- */

/* Four of nine open connections (a filtered answer): a transfer, an idle
 * persistent one, one still reading its request (nothing answered yet:
 * no target, no progress) and one waiting for the client's READY. */
static const char connections_json[] =
    "{\"ok\":true,\"schema\":1,\"total\":9,\"connections\":["
    "{\"slot\":0,\"pid\":42,\"id\":0,\"state\":\"sending\",\"peer\":\"127.0.0.1:5\","
    "\"protocol\":\"native\",\"listener\":\"127.0.0.1:4242\",\"target\":\"big.iso\","
    "\"requests\":1,\"received\":7,\"size\":400,\"sent\":100,\"rate_bps\":2048,"
    "\"avg_rate_bps\":1024,\"age_s\":65,\"idle_ms\":0},"
    "{\"slot\":0,\"pid\":42,\"id\":3,\"state\":\"keepalive\",\"peer\":\"[::1]:6\","
    "\"protocol\":\"http\",\"listener\":\"[::1]:8080\",\"target\":\"/a\",\"requests\":3,"
    "\"received\":0,\"size\":0,\"sent\":0,\"rate_bps\":0,\"avg_rate_bps\":0,\"age_s\":12.5,"
    "\"idle_ms\":4200},"
    "{\"slot\":1,\"pid\":43,\"id\":0,\"state\":\"reading\",\"peer\":\"10.0.0.7:50000\","
    "\"protocol\":\"http\",\"listener\":\"[::1]:8080\",\"target\":null,\"requests\":0,"
    "\"received\":5,\"size\":0,\"sent\":0,\"rate_bps\":0,\"avg_rate_bps\":0,\"age_s\":0.5,"
    "\"idle_ms\":500},"
    "{\"slot\":1,\"pid\":43,\"id\":1,\"state\":\"waiting\",\"peer\":\"127.0.0.1:7\","
    "\"protocol\":\"native\",\"listener\":\"127.0.0.1:4242\",\"target\":\"f.bin\","
    "\"requests\":1,\"received\":9,\"size\":1048576,\"sent\":0,\"rate_bps\":0,"
    "\"avg_rate_bps\":0,\"age_s\":200,\"idle_ms\":1500}]}";

/* The n-th line of text (0: the first), copied; NULL past the end. */
static char *line_of(const char *text, size_t n)
{
    for (; n > 0 && text != NULL; n--)
        text = strchr(text, '\n') ? strchr(text, '\n') + 1 : NULL;
    return text != NULL && *text != '\0' ? strndup(text, strcspn(text, "\n")) : NULL;
}

static void test_connections_table_wide(void **state)
{
    char *t = render_json(fmt_connections, CUT_WIDE, connections_json);
    char *head = line_of(t, 0), *send = line_of(t, 1), *keep = line_of(t, 2);
    char *reading = line_of(t, 3), *waiting = line_of(t, 4), *total = line_of(t, 5);

    (void)state;
    assert_string_equal(head, "SLOT   PID ID STATE        AGE   IDLE REQS  PROTO  LISTENER        "
                              "PEER           TARGET  PROGRESS         RATE");
    assert_string_equal(send, "   0    42  0 sending    1m05s   0.0s    1  native 127.0.0.1:4242  "
                              "127.0.0.1:5    big.iso  25% 100 B/400 B 2.0 KiB/s");
    /* The record's number tells a process's connections apart; an idle
     * persistent one shows its last request and how long it has idled. */
    assert_non_null(strstr(keep, "   0    42  3 keepalive  12.5s   4.2s    3  http   [::1]:8080 "));
    assert_non_null(strstr(keep, " /a      100% 0 B/0 B     0 B/s"));
    /* Nothing answered yet: no target, and no progress to make up. */
    assert_non_null(strstr(reading, " reading     0.5s   0.5s    0  http "));
    assert_non_null(strstr(reading, " 10.0.0.7:50000 -       -                0 B/s"));
    assert_non_null(strstr(waiting, " waiting    3m20s   1.5s "));
    assert_non_null(strstr(waiting, " f.bin     0% 0 B/1.0 MiB 0 B/s"));
    /* The columns line up. */
    assert_int_equal(col_of(head, "PEER"), col_of(reading, "10.0.0.7:50000"));
    assert_int_equal(col_of(head, "RATE"), col_of(send, "2.0 KiB/s"));
    assert_int_equal(col_of(head, "IDLE") + 4, col_of(keep, "4.2s") + 4);
    /* Under the table, how many of how many. */
    assert_string_equal(total, "4 connections shown of 9 open");
    assert_null(line_of(t, 6));
    free(head);
    free(send);
    free(keep);
    free(reading);
    free(waiting);
    free(total);
    free(t);
}

/* The total line alone when no row is shown: none open, or none passing
 * the filters. */
static void test_connections_total(void **state)
{
    char *t = render_json(fmt_connections, CUT_WIDE,
                          "{\"ok\":true,\"schema\":1,\"total\":0,\"connections\":[]}");

    (void)state;
    assert_string_equal(t, "no connections open\n");
    free(t);
    t = render_json(fmt_connections, CUT_WIDE,
                    "{\"ok\":true,\"schema\":1,\"total\":3,\"connections\":[]}");
    assert_string_equal(t, "0 connections shown of 3 open\n");
    free(t);
    t = render_json(fmt_connections, 80,
                    "{\"ok\":true,\"schema\":1,\"total\":1,\"connections\":[{\"slot\":0,"
                    "\"pid\":7,\"id\":0,\"state\":\"sending\",\"peer\":\"127.0.0.1:9\","
                    "\"target\":\"x\",\"size\":10,\"sent\":5,\"rate_bps\":1,\"age_s\":1,"
                    "\"idle_ms\":1}]}");
    assert_non_null(strstr(t, "\n1 connection shown of 1 open\n"));
    assert_non_null(strstr(t, " 50% "));
    free(t);
    /* At a tiny width it wraps rather than passes the width. */
    t = render_json(fmt_connections, 16,
                    "{\"ok\":true,\"schema\":1,\"total\":12345,\"connections\":[]}");
    assert_string_equal(t, "0 connections\n  shown\n  of 12345 open\n");
    free(t);
}

/* fmt_connections_top()'s output for r at full width, max rows. */
__attribute__((noinline)) static char *render_top(json_t *r, size_t max)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    fmt_connections_top(out, r, CUT_WIDE, max);
    fclose(out);
    return text;
}

/* Asserts that line n of text holds s. */
static void assert_line_has(const char *text, size_t n, const char *s)
{
    char *line = line_of(text, n);

    if (line == NULL || strstr(line, s) == NULL)
        fail_msg("line %zu has no '%s':\n%s", n, s, text);
    free(line);
}

/* top's view: the busiest first (the fastest, then the oldest), as many
 * as it has room for; the total line says what was left out. */
static void test_connections_busiest_first(void **state)
{
    const char *order[] = {" sending ", " waiting ", " keepalive ", " reading "};
    json_t *r = json_loads(connections_json, 0, NULL), *list = json_object_get(r, "connections");
    char *t, want[64];

    (void)state;
    t = render(fmt_connections, CUT_WIDE, r); /* the command: the answer's order */
    assert_line_has(t, 1, " sending ");
    assert_line_has(t, 2, " keepalive ");
    free(t);
    for (size_t max = 0; max <= 5; max++) {
        size_t shown = max < 4 ? max : 4;

        /* 2.0 KiB/s first; then, all at 0 B/s, the 200 s old before the
         * 12.5 s old before the 0.5 s old. */
        t = render_top(r, max);
        for (size_t i = 0; i < shown; i++)
            assert_line_has(t, i + 1, order[i]);
        snprintf(want, sizeof(want), "%zu connection%s shown of 9 open\n", shown,
                 shown == 1 ? "" : "s");
        assert_int_equal(count_lines(t), shown ? shown + 2 : 1);
        assert_string_equal(t + strlen(t) - strlen(want), want);
        free(t);
    }
    t = render_top(r, FMT_ALL);
    assert_int_equal(count_lines(t), 6);
    free(t);
    /* Equals hold still, by process and record: the waiting one as fast
     * and as old as the keepalive one, in slot 0 too, with a lower id. */
    json_object_set_new(json_array_get(list, 3), "age_s", json_real(12.5));
    json_object_set_new(json_array_get(list, 3), "slot", json_integer(0));
    t = render_top(r, FMT_ALL);
    assert_line_has(t, 2, " waiting ");
    assert_line_has(t, 3, " keepalive ");
    free(t);
    json_decref(r);
}

/* A connections answer of the narrow-terminal transfers, pid 4194000 + i
 * each, as the workers tests' rows. */
static json_t *narrow_connections(const struct narrow_xfer *x, size_t n)
{
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list,
            json_pack("{s:i,s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:f,s:f,s:i}", "slot", (int)i,
                      "pid", 4194000 + (int)i, "id", 1000 + (int)i, "state", "sending", "peer",
                      x[i].peer, "protocol", "native", "listener", long_listener, "target",
                      x[i].target, "requests", 1, "size", x[i].size, "sent", x[i].sent, "rate_bps",
                      x[i].rate, "age_s", 86400.0 * 3, "idle_ms", 123456));
    return json_pack("{s:b,s:i,s:o}", "ok", 1, "total", 100000, "connections", list);
}

/* The workers table's promises hold for the connections table: at every
 * width each line fits, a row per connection, the peer's port and the
 * name's extension kept, numbers whole or their column gone; PEER and
 * TARGET stay down to 40 columns. The total line wraps below that. */
static void test_connections_narrow(void **state)
{
    char *name = long_name();
    const struct narrow_xfer x[] = {
        {long_peer, "]:65535", name, ".iso", (json_int_t)5 << 40, (json_int_t)3 << 40,
         1073636966.0},
        {"10.200.30.40:4242", ":4242", "debian-12.5.0-amd64-DVD-1.iso", ".iso",
         (json_int_t)3993976832, 1 << 30, 916172.8},
        {"127.0.0.1:40900", ":40900", "big.bin", "big.bin", 268435456, 32768000, 2202009.6},
    };
    json_t *r = narrow_connections(x, 3);
    char *t;

    (void)state;
    for (size_t l = 0; l < 2; l++) {
        assert_non_null(setlocale(LC_CTYPE, l ? "C" : "C.UTF-8"));
        for (unsigned w = 40; w <= 300; w++) {
            t = render(fmt_connections, w, r);
            check_narrow(t, x, 3, w); /* the header, 3 rows and the total line */
            assert_non_null(strstr(t, "PEER"));
            assert_non_null(strstr(t, "TARGET"));
            assert_non_null(strstr(t, "\n3 connections shown of 100000 open\n"));
            if (w >= 70)
                assert_non_null(strstr(t, "IDLE"));
            free(t);
        }
    }
    setlocale(LC_CTYPE, "C.UTF-8");
    for (unsigned w = 1; w < 40; w++) {
        t = render(fmt_connections, w, r);
        if (widest(t) > w)
            fail_msg("width %u: a line of %zu columns:\n%s", w, widest(t), t);
        free(t);
    }
    /* At 80 columns the stuck-or-not figures stay. */
    t = render(fmt_connections, 80, r);
    assert_non_null(strstr(t, " STATE "));
    assert_non_null(strstr(t, " IDLE "));
    assert_non_null(strstr(t, " 2m03s "));
    assert_null(strstr(t, "LISTENER"));
    free(t);
    /* Full width: nothing cut, nothing dropped. */
    t = render(fmt_connections, CUT_WIDE, r);
    assert_non_null(strstr(t, name));
    assert_non_null(strstr(t, long_peer));
    assert_non_null(strstr(t, long_listener));
    assert_non_null(strstr(t, " 1002 "));
    assert_non_null(strstr(t, " 3d00h "));
    free(t);
    setlocale(LC_CTYPE, "C");
    json_decref(r);
    free(name);
}

static const char status_json[] =
    "{\"ok\":true,\"version\":\"0.1.0\",\"pid\":9,\"mode\":\"fork\",\"state\":"
    "\"running\",\"uptime_s\":3700,\"listeners\":[{\"protocol\":\"native\",\"address\":"
    "\"127.0.0.1:1\",\"connections\":10,\"bytes\":1048576,\"requests\":{\"ok\":8,"
    "\"redirect\":0,\"client_error\":1,\"server_error\":0}},{\"protocol\":\"http\","
    "\"address\":\"[::1]:8080\",\"connections\":0,\"bytes\":0,\"requests\":{\"ok\":0,"
    "\"redirect\":0,\"client_error\":0,\"server_error\":0}}],\"limits\":"
    "{\"workers\":4,\"max_children\":64,\"io_timeout_s\":30,"
    "\"shutdown_timeout_s\":30,\"chunk_size\":65536},\"pool\":{\"processes\":3,"
    "\"idle\":0,\"sending\":3},\"totals\":{\"connections\":10,\"requests\":9,"
    "\"bytes\":1048576,\"outcomes\":{\"ok\":8,\"redirect\":0,\"client_error\":1,"
    "\"server_error\":0},\"worker_exits\":7,\"crashes\":0,\"respawns\":0},\"throughput\":"
    "{\"1s\":{\"requests_per_s\":5,\"bytes_per_s\":1024}},\"saturation\":"
    "{\"listen_queue\":2,\"listen_backlog\":511,\"at_limit_count\":4,"
    "\"last_at_limit\":\"2026-11-21T14:00:00Z\"}}";

static void test_status_text(void **state)
{
    char *t = render_json(fmt_status, CUT_WIDE, status_json), *table;
    json_t *r;

    (void)state;
    assert_non_null(strstr(t, "ferryd 0.1.0  pid 9  fork  running  up 1h01m\n"));
    assert_non_null(strstr(t, "pool        3 processes: 3 sending\n"));
    assert_non_null(strstr(t, "limits      workers 4  max-children 64  io-timeout 30s  "
                              "shutdown-timeout 30s  chunk 64.0 KiB\n"));
    assert_non_null(strstr(t, "1.0 MiB sent"));
    /* Every outcome, in the answer's order, zeros included. */
    assert_non_null(strstr(t, "\noutcomes    ok 8  redirect 0  client_error 1  server_error 0\n"));
    assert_non_null(strstr(t, "throughput  1s: 5 req/s 1.0 KiB/s\n"));
    assert_non_null(
        strstr(t, "listen queue 2/511  at limit 4 times (last 2026-11-21T14:00:00Z)\n"));
    /* After a blank line, a row per listener under its header. */
    table = strstr(t, "\n\nPROTO ");
    assert_non_null(table);
    assert_string_equal(table, "\n\nPROTO  LISTENER    CONNS OK REDIRECT CLIENT_ERROR "
                               "SERVER_ERROR     SENT\n"
                               "native 127.0.0.1:1    10  8        0            1            "
                               "0  1.0 MiB\n"
                               "http   [::1]:8080      0  0        0            0            "
                               "0      0 B\n");
    assert_int_equal(count_lines(t), 11);
    assert_null(strstr(t, "stall-timeout")); /* not reported: not shown */
    assert_null(strstr(t, "kills"));
    free(t);
    /* What a ferryd reports besides is shown too. */
    r = json_loads(status_json, 0, NULL);
    json_object_set_new(json_object_get(r, "limits"), "stall_timeout_s", json_integer(120));
    json_object_set_new(json_object_get(r, "totals"), "kills", json_integer(2));
    json_object_set_new(json_object_get(r, "totals"), "denied", json_integer(3));
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "shutdown-timeout 30s  stall-timeout 120s  chunk 64.0 KiB\n"));
    assert_non_null(strstr(t, "0 crashes  2 kills  0 respawns  3 denied\n"));
    free(t);
    /* The per-client limits, after the chunk; 0 is off. */
    json_object_set_new(json_object_get(r, "limits"), "min_rate_bps", json_integer(2048));
    json_object_set_new(json_object_get(r, "limits"), "max_conn_per_ip", json_integer(7));
    json_object_set_new(json_object_get(r, "limits"), "keepalive_timeout_s", json_integer(300));
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "  chunk 64.0 KiB  min-rate 2.0 KiB/s  max-conn-per-ip 7  "
                              "keepalive-timeout 300s\n"));
    free(t);
    json_object_set_new(json_object_get(r, "limits"), "min_rate_bps", json_integer(0));
    json_object_set_new(json_object_get(r, "limits"), "max_conn_per_ip", json_integer(0));
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "  min-rate off  max-conn-per-ip off  keepalive-timeout 300s\n"));
    free(t);
    /* Stopping: the listeners are closed, and the report says so. */
    json_object_set_new(r, "listeners", json_array());
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "\nlisteners   none (closed: ferryd is stopping)\n"));
    assert_null(strstr(t, "PROTO"));
    free(t);
    /* An older ferryd's bare addresses still show, with dashes. */
    json_object_set_new(r, "listeners", json_pack("[s]", "127.0.0.1:7"));
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "\n-     127.0.0.1:7"));
    free(t);
    json_decref(r);
}

/* With a hub: its line under the pool's, every figure, zeros too; while
 * it restarts it says so; at 40 columns the line wraps under its label. */
static void test_status_hub(void **state)
{
    json_t *r = json_loads(status_json, 0, NULL);
    json_t *hub = json_pack("{s:i,s:i,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "slot", 3,
                            "pid", 45, "state", "idle", "sessions_online", 2, "posts", 1,
                            "forwards", 1, "retransmissions", 0, "duplicates", 0, "resets_sent", 0,
                            "resets_received", 0, "rejected", 1, "exits", 0, "crashes", 0);
    char *t;

    (void)state;
    json_object_set_new(r, "hub", hub);
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "\npool        3 processes: 3 sending\n"
                              "hub         pid 45 idle  2 online  1 posts  1 forwards  "
                              "0 retransmissions  0 duplicates  0 resets sent  "
                              "0 resets received  1 rejected  0 exits  0 crashes\n"));
    assert_int_equal(count_lines(t), 12);
    free(t);
    t = render(fmt_status, 40, r);
    assert_true(widest(t) <= 40);
    assert_non_null(strstr(t, "\nhub         pid 45 idle  2 online\n"
                              "            1 posts  1 forwards\n"));
    free(t);
    json_object_set_new(hub, "pid", json_null());
    json_object_set_new(hub, "slot", json_null());
    json_object_set_new(hub, "state", json_null());
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "\nhub         restarting  2 online  1 posts"));
    free(t);
    json_decref(r);
}

/* An event-mode ferryd: the connections by state under the pool, whose
 * processes are named in a reading order (their own states, busy among
 * them, before their one connection's), and the per-worker limit. */
static void test_status_connections(void **state)
{
    json_t *r = json_loads(status_json, 0, NULL);
    char *t;

    (void)state;
    json_object_set_new(r, "mode", json_string("event"));
    json_object_set_new(json_object_get(r, "limits"), "worker_connections", json_integer(1024));
    json_object_set_new(r, "pool",
                        json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "processes", 4,
                                  "starting", 0, "idle", 1, "reading", 0, "waiting", 0, "keepalive",
                                  0, "sending", 1, "closing", 0, "exiting", 0, "busy", 2));
    json_object_set_new(r, "connections",
                        json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "open", 2051, "reading", 1,
                                  "waiting", 0, "keepalive", 2000, "sending", 50, "closing", 0));
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(
        strstr(t, "\nlimits      workers 4  worker-connections 1024  max-children 64 "));
    assert_non_null(strstr(t, "\npool        4 processes: 1 idle, 2 busy, 1 sending\n"
                              "connections 2051 open  reading 1  waiting 0  keepalive 2000  "
                              "sending 50  closing 0\ntotals "));
    assert_int_equal(count_lines(t), 12);
    free(t);
    /* At 40 columns the line wraps under its label, every state kept. */
    t = render(fmt_status, 40, r);
    assert_true(widest(t) <= 40);
    assert_non_null(strstr(t, "\nconnections 2051 open  reading 1\n"
                              "            waiting 0  keepalive 2000\n"
                              "            sending 50  closing 0\n"));
    assert_non_null(strstr(t, "worker-connections 1024"));
    free(t);
    /* With nobody connected, zeros: the figures hold still in top. */
    json_object_set_new(r, "connections",
                        json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "open", 0, "reading", 0, "waiting",
                                  0, "keepalive", 0, "sending", 0, "closing", 0));
    t = render(fmt_status, CUT_WIDE, r);
    assert_non_null(strstr(t, "\nconnections 0 open  reading 0  waiting 0  keepalive 0  "
                              "sending 0  closing 0\n"));
    free(t);
    json_decref(r);
}

/* The long lines (limits, totals, throughput, many listeners) wrap under
 * their label at 80 columns, and the listeners table fits; nothing
 * telling is lost. */
static void test_status_fits_80(void **state)
{
    json_t *r = json_loads(status_json, 0, NULL), *tp = json_object(), *ls = json_array();
    const char *wins[] = {"1s", "10s", "60s"};
    char *t;

    (void)state;
    for (size_t i = 0; i < 3; i++)
        json_object_set_new(tp, wins[i],
                            json_pack("{s:i,s:f}", "requests_per_s", 123456, "bytes_per_s", 1e12));
    json_object_set_new(r, "throughput", tp);
    for (int i = 0; i < 4; i++)
        json_array_append_new(ls, json_pack("{s:s,s:s,s:I,s:I,s:{s:I,s:i,s:I,s:I}}", "protocol",
                                            "native", "address", long_peer, "connections",
                                            (json_int_t)123456789012, "bytes", (json_int_t)1 << 50,
                                            "requests", "ok", (json_int_t)123456789000, "redirect",
                                            0, "client_error", (json_int_t)12, "server_error",
                                            (json_int_t)0));
    json_object_set_new(r, "listeners", ls);
    json_object_set_new(json_object_get(r, "totals"), "connections", json_integer(123456789012));
    setlocale(LC_CTYPE, "C.UTF-8");
    t = render(fmt_status, 80, r);
    assert_true(widest(t) <= 80);
    assert_true(count_lines(t) > 11);
    assert_non_null(strstr(t, "shutdown-timeout 30s\n            chunk 64.0 KiB\n"));
    assert_non_null(strstr(t, "60s: 123456 req/s"));
    assert_non_null(strstr(t, "respawns"));
    /* The table keeps its rows, each listener's answers and the address's
     * port; what native never has (redirects) went first. */
    assert_non_null(strstr(t, "CLIENT_ERROR"));
    assert_non_null(strstr(t, " 123456789000 "));
    assert_non_null(strstr(t, "\u2026"));
    assert_non_null(strstr(t, "65535 "));
    assert_null(strstr(t, "REDIRECT"));
    free(t);
    for (unsigned w = 1; w <= 200; w++) {
        t = render(fmt_status, w, r);
        if (widest(t) > w)
            fail_msg("width %u: a line of %zu columns:\n%s", w, widest(t), t);
        free(t);
    }
    setlocale(LC_CTYPE, "C");
    json_decref(r);
}

static void test_event_line(void **state)
{
    char *t = render_json(fmt_event, CUT_WIDE,
                          "{\"event\":\"worker_exited\",\"schema\":1,\"time\":"
                          "\"2026-11-21T14:00:00Z\",\"slot\":3,\"pid\":42,\"signal\":null,"
                          "\"crashed\":false,\"cause\":\"SIGTERM\"}");

    (void)state;
    assert_string_equal(t, "2026-11-21T14:00:00Z worker_exited slot=3 pid=42 signal=null "
                           "crashed=false cause=\"SIGTERM\"\n");
    free(t);
    t = render_json(fmt_event, CUT_WIDE, "{\"ok\":true,\"schema\":1,\"subscribed\":true}");
    assert_string_equal(t, ""); /* the subscribe answer prints nothing */
    free(t);
}

/* At 80 columns an event continues under its name; a long file is cut. */
static void test_event_fits_80(void **state)
{
    char *name = long_name();
    json_t *ev =
        json_pack("{s:s,s:i,s:s,s:i,s:i,s:s,s:s,s:i,s:i,s:f}", "event", "worker_stuck", "schema", 1,
                  "time", "2026-11-21T14:00:00Z", "slot", 3, "pid", 42, "peer", long_peer, "target",
                  name, "size", 67108864, "sent", 4096, "idle_s", 121.5);
    char *t;

    (void)state;
    setlocale(LC_CTYPE, "C.UTF-8");
    t = render(fmt_event, 80, ev);
    assert_true(widest(t) <= 80);
    assert_true(count_lines(t) > 1);
    assert_non_null(strstr(t, "\n                     ")); /* under the name */
    assert_non_null(strstr(t, "target=\"START-"));
    assert_non_null(strstr(t, "END.iso\""));
    assert_non_null(strstr(t, "\u2026"));
    assert_non_null(strstr(t, long_peer));
    assert_non_null(strstr(t, "idle_s=121.5"));
    free(t);
    t = render(fmt_event, CUT_WIDE, ev);
    assert_int_equal(count_lines(t), 1);
    assert_non_null(strstr(t, name));
    free(t);
    setlocale(LC_CTYPE, "C");
    json_decref(ev);
    free(name);
}

/* ---- the socket path rule and discovery ---------------------------- */

static void test_default_paths(void **state)
{
    char buf[APATH_MAX], longdir[200];

    (void)state;
    assert_int_equal(apath_default_for(0, "/run/user/0", 7000, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/run/ferry/ferryd-7000.sock");
    assert_int_equal(apath_default_for(1000, "/run/user/1000", 7000, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/run/user/1000/ferryd-7000.sock");
    assert_int_equal(apath_default_for(1000, NULL, 7000, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/tmp/ferryd-1000-7000.sock");
    assert_int_equal(apath_default_for(1000, "", 7000, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/tmp/ferryd-1000-7000.sock");
    assert_int_equal(apath_default_for(1000, "relative", 7000, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/tmp/ferryd-1000-7000.sock");
    /* A directory no socket fits in counts as unset: ferryd could not bind. */
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    assert_int_equal(apath_default_for(1000, longdir, 7000, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/tmp/ferryd-1000-7000.sock");
    assert_int_equal(apath_default_for(1000, NULL, 7000, buf, 8), -ENAMETOOLONG);
    assert_int_equal(APATH_MAX, sizeof(((struct sockaddr_un *)0)->sun_path));
}

/* ferryctl searches where ferryd puts its socket: the default is always
 * the first place searched, whoever runs them. */
static void test_places_follow_the_rule(void **state)
{
    const struct {
        uid_t uid;
        const char *xdg;
        size_t n;
    } cases[] = {{0, NULL, 2}, {0, "/run/user/0", 2}, {1000, "/run/user/1000", 3}, {1000, NULL, 2}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct apath_place p[APATH_PLACES_MAX];
        size_t n = apath_places(cases[i].uid, cases[i].xdg, p);
        char path[APATH_MAX], dir[APATH_MAX + 1];
        bool run = false;

        assert_int_equal(n, cases[i].n);
        assert_int_equal(apath_default_for(cases[i].uid, cases[i].xdg, 8080, path, sizeof(path)),
                         0);
        snprintf(dir, sizeof(dir), "%s/", p[0].dir);
        assert_memory_equal(path, dir, strlen(dir));
        assert_true(apath_match(&p[0], path + strlen(dir)));
        for (size_t k = 0; k < n; k++)
            run = run || strcmp(p[k].dir, "/run/ferry") == 0; /* root's, for its group */
        assert_true(run);
    }
    {
        struct apath_place p[APATH_PLACES_MAX];
        char pattern[APATH_MAX + APATH_PREFIX_MAX];

        apath_places(1000, NULL, p);
        assert_string_equal(p[0].dir, "/tmp");
        assert_int_equal(apath_pattern(&p[0], pattern, sizeof(pattern)), 0);
        assert_string_equal(pattern, "/tmp/ferryd-1000-*.sock");
        assert_true(apath_match(&p[0], "ferryd-1000-7000.sock"));
        assert_false(apath_match(&p[0], "ferryd-1001-7000.sock"));
        assert_false(apath_match(&p[0], "ferryd-1000-7000.sock.old"));
        assert_false(apath_match(&p[1], "other.sock"));
        assert_true(apath_match(&p[1], "ferryd-7000.sock"));
    }
}

struct dirs {
    char a[64], b[64];
    struct apath_place places[2];
};

/* "ferryd-UID-REST" for this process's uid (mine) or another (theirs): a
 * name in /tmp counts only when its owner is the uid it names. Four
 * buffers in turn, so that a call's result outlives the next three. */
static const char *uid_name(uid_t uid, const char *rest)
{
    static char ring[4][64];
    static unsigned next;
    char *b = ring[next++ % 4];

    snprintf(b, sizeof(ring[0]), "ferryd-%lu-%s", (unsigned long)uid, rest);
    return b;
}

static const char *mine(const char *rest)
{
    return uid_name(geteuid(), rest);
}

static const char *theirs(const char *rest)
{
    return uid_name(geteuid() + 1, rest);
}

/* The listening sockets of the "live ferryd"s, closed at exit. */
static int live_fds[16];
static size_t nlive;

/* Binds a Unix socket at dir/name; live: it listens, as a running ferryd's
 * does; else it is closed at once and stays behind, as a killed one's. */
static void make_socket_as(const char *dir, const char *name, bool live)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, name);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    if (live && nlive < sizeof(live_fds) / sizeof(live_fds[0])) {
        assert_int_equal(listen(fd, 8), 0);
        live_fds[nlive++] = fd;
    } else {
        close(fd);
    }
}

static void make_socket(const char *dir, const char *name)
{
    make_socket_as(dir, name, true);
}

static void make_file(const char *dir, const char *name)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static int dirs_setup(void **state)
{
    struct dirs *d = calloc(1, sizeof(*d));

    snprintf(d->a, sizeof(d->a), "/tmp/test_ctl-a-XXXXXX");
    snprintf(d->b, sizeof(d->b), "/tmp/test_ctl-b-XXXXXX");
    if (mkdtemp(d->a) == NULL || mkdtemp(d->b) == NULL)
        return -1;
    chmod(d->a, 0755); /* for the test that looks as another user */
    chmod(d->b, 0755);
    snprintf(d->places[0].dir, sizeof(d->places[0].dir), "%s", d->a);
    snprintf(d->places[0].prefix, sizeof(d->places[0].prefix), "ferryd-");
    snprintf(d->places[1].dir, sizeof(d->places[1].dir), "%s", d->b);
    snprintf(d->places[1].prefix, sizeof(d->places[1].prefix), "%s", mine(""));
    *state = d;
    return 0;
}

static int dirs_teardown(void **state)
{
    struct dirs *d = *state;
    char cmd[200];

    while (nlive > 0)
        close(live_fds[--nlive]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", d->a, d->b);
    if (system(cmd) != 0)
        return -1;
    free(d);
    return 0;
}

static void test_discovery(void **state)
{
    struct dirs *d = *state;
    char buf[APATH_MAX], err[4096], want[512];

    assert_int_equal(ctl_find_socket_in(d->places, 2, buf, sizeof(buf), err, sizeof(err)),
                     CTL_UNREACHABLE);
    assert_non_null(strstr(err, "no ferryd admin socket in"));
    snprintf(want, sizeof(want), "%s/ferryd-*.sock, %s/%s*.sock", d->a, d->b, mine(""));
    assert_non_null(strstr(err, want));
    /* Look-alikes: not a socket, another name, another user's. */
    make_file(d->a, "ferryd-1.sock");
    make_socket(d->a, "other.sock");
    make_socket(d->b, theirs("7000.sock"));
    assert_int_equal(ctl_find_socket_in(d->places, 2, buf, sizeof(buf), err, sizeof(err)),
                     CTL_UNREACHABLE);
    make_socket_as(d->a, "ferryd-6999.sock", false); /* a killed ferryd's: skipped */
    assert_int_equal(ctl_find_socket_in(d->places, 2, buf, sizeof(buf), err, sizeof(err)),
                     CTL_UNREACHABLE);
    assert_non_null(strstr(err, "1 left by a ferryd that is gone"));
    make_socket(d->b, mine("7000.sock"));
    assert_int_equal(ctl_find_socket_in(d->places, 2, buf, sizeof(buf), err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/%s", d->b, mine("7000.sock"));
    assert_string_equal(buf, want);
    /* The same directory twice is one socket, not two. */
    d->places[0] = d->places[1];
    assert_int_equal(ctl_find_socket_in(d->places, 2, buf, sizeof(buf), err, sizeof(err)), 0);
    snprintf(d->places[0].dir, sizeof(d->places[0].dir), "%s", d->a);
    snprintf(d->places[0].prefix, sizeof(d->places[0].prefix), "ferryd-");
    /* Two: each listed, and how to pick one. */
    make_socket(d->a, "ferryd-7001.sock");
    assert_int_equal(ctl_find_socket_in(d->places, 2, buf, sizeof(buf), err, sizeof(err)),
                     CTL_USAGE);
    assert_non_null(strstr(err, "2 ferryd admin sockets found:\n"));
    snprintf(want, sizeof(want), "\n  %s/ferryd-7001.sock\n", d->a);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof(want), "\n  %s/%s\n", d->b, mine("7000.sock"));
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "-s PATH"));
    assert_non_null(strstr(err, "FERRY_ADMIN_SOCKET=PATH"));
}

/* Sockets this user may not open do not count (but are mentioned). */
static void test_discovery_skips_closed_sockets(void **state)
{
    struct dirs *d = *state;
    char path[APATH_MAX];
    pid_t pid;
    int status;

    char mine9[64];
    const char *closed[] = {"ferryd-7001.sock", mine9};

    snprintf(mine9, sizeof(mine9), "%s", mine("9.sock"));
    make_socket(d->a, "ferryd-7000.sock");
    make_socket(d->a, "ferryd-7001.sock");
    make_socket(d->b, mine9);
    snprintf(path, sizeof(path), "%s/ferryd-7000.sock", d->a);
    assert_int_equal(chmod(path, 0666), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* as someone else: root may open anything */
        char buf[APATH_MAX], err[4096];
        int rc;

        for (size_t i = 0; i < 2; i++) {
            if (snprintf(path, sizeof(path), "%s/%.40s", i ? d->b : d->a, closed[i]) < 0 ||
                chmod(path, geteuid() == 0 ? 0600 : 0) < 0)
                _exit(10);
        }
        if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(11);
        rc = ctl_find_socket_in(d->places, 1, buf, sizeof(buf), err, sizeof(err));
        if (rc != 0 || strstr(buf, "ferryd-7000.sock") == NULL)
            _exit(12);
        rc = ctl_find_socket_in(d->places + 1, 1, buf, sizeof(buf), err, sizeof(err));
        _exit(rc == CTL_UNREACHABLE && strstr(err, "1 you may not") ? 0 : 13);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A socket in /tmp named for a uid counts only if that uid owns it: another
 * user cannot pose as someone's ferryd there. */
static void test_owner_in_the_name(void **state)
{
    (void)state;
    assert_true(apath_owner_ok("ferryd-7000.sock", 1234)); /* no owner named */
    assert_true(apath_owner_ok("ferryd-1000-7000.sock", 1000));
    assert_false(apath_owner_ok("ferryd-1000-7000.sock", 1001));
    assert_false(apath_owner_ok("ferryd-0-7000.sock", 1000));
    assert_true(apath_owner_ok("ferryd-x-7000.sock", 1000)); /* not a uid: no claim */
}

static void test_find_socket_env(void **state)
{
    char buf[APATH_MAX], err[256];

    (void)state;
    setenv("FERRY_ADMIN_SOCKET", "/somewhere/admin.sock", 1);
    assert_int_equal(ctl_find_socket(buf, sizeof(buf), err, sizeof(err)), 0);
    assert_string_equal(buf, "/somewhere/admin.sock");
    unsetenv("FERRY_ADMIN_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_commands),
        cmocka_unit_test(test_parse_options_anywhere),
        cmocka_unit_test(test_parse_shutdown),
        cmocka_unit_test(test_parse_resize),
        cmocka_unit_test(test_parse_top),
        cmocka_unit_test(test_parse_help_and_version),
        cmocka_unit_test(test_parse_connections),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_usage_fits),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_cut_keeps_port_and_extension),
        cmocka_unit_test(test_width_rule),
        cmocka_unit_test(test_workers_table_wide),
        cmocka_unit_test(test_workers_older_ferryd),
        cmocka_unit_test(test_workers_with_hub),
        cmocka_unit_test(test_workers_fit_80),
        cmocka_unit_test(test_workers_every_width),
        cmocka_unit_test(test_workers_short_at_80),
        cmocka_unit_test(test_workers_conns_at_80),
        cmocka_unit_test(test_workers_narrow),
        cmocka_unit_test(test_workers_tryout_at_60_and_50),
        cmocka_unit_test(test_connections_table_wide),
        cmocka_unit_test(test_connections_total),
        cmocka_unit_test(test_connections_busiest_first),
        cmocka_unit_test(test_connections_narrow),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_status_hub),
        cmocka_unit_test(test_status_connections),
        cmocka_unit_test(test_status_fits_80),
        cmocka_unit_test(test_event_line),
        cmocka_unit_test(test_event_fits_80),
        cmocka_unit_test(test_default_paths),
        cmocka_unit_test(test_places_follow_the_rule),
        cmocka_unit_test_setup_teardown(test_discovery, dirs_setup, dirs_teardown),
        cmocka_unit_test_setup_teardown(test_discovery_skips_closed_sockets, dirs_setup,
                                        dirs_teardown),
        cmocka_unit_test(test_find_socket_env),
        cmocka_unit_test(test_owner_in_the_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
