/* Unit tests for master/config: ferryd's command line, driven through
 * cfg_parse() as main() calls it: options anywhere, durations, address
 * forms, help and version found by type, and the errors. Then the
 * configuration file (-c FILE) through cfg_load(), on files in a temporary
 * directory: every error with its file and line, warnings, what the
 * command line overrides, the rules per listener, cfg_dump() read back,
 * cfg_compare(), cfg_move() and cfg_reload(). */
#include "master/config.h"
#include "worker/tree.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Parses a NULL-terminated list of arguments after "ferryd". */
static int parse(struct config *cfg, ...)
{
    char *argv[32] = {"ferryd"};
    int argc = 1;
    va_list ap;

    va_start(ap, cfg);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    return cfg_parse(argc, argv, cfg);
}

/* Listeners' protocols, for cfg_conn_env(): every one native. */
static const uint8_t natives[PROTO_LISTENERS_MAX] = {PROTO_NATIVE};

static void test_options_anywhere_and_defaults(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(
        parse(&c, "127.0.0.1", "--mode", "fork", "4242", "dir", "--workers", "3", NULL), 0);
    assert_int_equal(c.mode, MODE_FORK);
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.listen[0].host, "127.0.0.1");
    assert_string_equal(c.listen[0].port, "4242");
    assert_string_equal(c.directory, "dir");
    assert_int_equal(c.request_timeout, 10);
    assert_int_equal(c.io_timeout, 30);
    assert_int_equal(c.chunk_size, 64 * 1024);
}

static void test_durations_and_sizes(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(parse(&c, "--request-timeout", "5s", "--io-timeout", "2m",
                           "--shutdown-timeout", "0", "--chunk-size", "256KiB", "::1", "0", "d",
                           NULL),
                     0);
    assert_int_equal(c.request_timeout, 5);
    assert_int_equal(c.io_timeout, 120);
    assert_int_equal(c.shutdown_timeout, 0);
    assert_int_equal(c.chunk_size, 256 * 1024);
    assert_int_equal(parse(&c, "--chunk-size", "64KB", "::1", "0", "d", NULL), 0);
    assert_int_equal(c.chunk_size, 64000); /* KB is decimal */
    assert_int_equal(parse(&c, "--request-timeout", "5x", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--request-timeout", "1500ms", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--request-timeout", "0", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--request-timeout", "2h", "::1", "0", "d", NULL), -EINVAL);
}

static void test_address_forms(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(parse(&c, "[::1]:4242", "dir", NULL), 0);
    assert_string_equal(c.listen[0].host, "::1");
    assert_string_equal(c.listen[0].port, "4242");
    assert_string_equal(c.directory, "dir");
    assert_int_equal(parse(&c, "[::1]", "0", "dir", NULL), 0);
    assert_string_equal(c.listen[0].host, "::1");
    assert_string_equal(c.listen[0].port, "0");
    assert_int_equal(parse(&c, "localhost:80", "dir", NULL), 0);
    assert_string_equal(c.listen[0].host, "localhost");
    assert_int_equal(parse(&c, "[::1", "0", "dir", NULL), -EINVAL);
    assert_int_equal(parse(&c, "[::1]:80", "0", "dir", NULL), -EINVAL); /* two ports */
    assert_int_equal(parse(&c, "::1", "dir", NULL), -EINVAL);           /* no port */
    assert_int_equal(parse(&c, "127.0.0.1", "4242", NULL), -EINVAL);    /* no directory */
    assert_int_equal(parse(&c, "::1", "65536", "dir", NULL), -EINVAL);
    assert_int_equal(parse(&c, "::1", "0", "dir", "extra", NULL), -EINVAL);
}

static void test_help_version_and_errors(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(parse(&c, "-h", NULL), 1);
    assert_int_equal(parse(&c, "a", "--help", NULL), 1);
    assert_int_equal(parse(&c, "-V", NULL), 1);
    assert_int_equal(parse(&c, "--version", "x", NULL), 1);
    assert_int_equal(parse(&c, "--frobnicate", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--mode", "threads", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--workers", "9", "--max-children", "8", "::1", "0", "d", NULL),
                     -EINVAL);
}

/* --listen, repeatable: protocol and address per listener; the directory
 * is then the only operand. */
static void test_listen(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(
        parse(&c, "--listen", "http=[::]:8080", "--listen", "native=0.0.0.0:12345", "/srv", NULL),
        0);
    assert_int_equal(c.nlisten, 2);
    assert_int_equal(c.listen[0].proto, PROTO_HTTP);
    assert_string_equal(c.listen[0].host, "::");
    assert_string_equal(c.listen[0].port, "8080");
    assert_int_equal(c.listen[1].proto, PROTO_NATIVE);
    assert_string_equal(c.listen[1].host, "0.0.0.0");
    assert_string_equal(c.directory, "/srv");
    assert_false(c.ipv6_only);
    assert_int_equal(parse(&c, "--ipv6-only", "--listen", "http=localhost:0", "d", NULL), 0);
    assert_true(c.ipv6_only);
    assert_string_equal(c.listen[0].host, "localhost");
    /* The positional forms mean one native listener. */
    assert_int_equal(parse(&c, "[::1]:4242", "d", NULL), 0);
    assert_int_equal(c.nlisten, 1);
    assert_int_equal(c.listen[0].proto, PROTO_NATIVE);
    assert_int_equal(parse(&c, "--listen", "http=::1:80", "d", NULL), -EINVAL); /* brackets */
    assert_int_equal(parse(&c, "--listen", "gopher=[::1]:70", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--listen", "metrics=127.0.0.1:9101", "d", NULL), 0);
    assert_int_equal(c.listen[0].proto, PROTO_METRICS);
    assert_int_equal(parse(&c, "--listen", "http=[::1]", "d", NULL), -EINVAL); /* no port */
    assert_int_equal(parse(&c, "--listen", "[::1]:80", "d", NULL), -EINVAL);   /* no PROTO */
    assert_int_equal(parse(&c, "--listen", "http=[::1]:80", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--listen", "http=[::1]:99999", "d", NULL), -EINVAL);
    /* One address twice: refused for two TCP listeners, allowed for the
     * hub (UDP) beside the native listener its clients upload to. */
    assert_int_equal(parse(&c, "--listen", "native=127.0.0.1:5000", "--listen",
                           "http=127.0.0.1:5000", "d", NULL),
                     -EINVAL);
    assert_int_equal(parse(&c, "--listen", "native=127.0.0.1:5000", "--listen",
                           "hub=127.0.0.1:5000", "--hub-db", "h.db", "d", NULL),
                     0);
    assert_int_equal(c.nlisten, 2);
}

/* The HTTP options: defaults, durations, redirects and their checks. */
static void test_http_options(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(parse(&c, "--listen", "http=[::1]:0", "d", NULL), 0);
    assert_int_equal(c.http.header_timeout_ms, 10000);
    assert_int_equal(c.http.keepalive_timeout_ms, 5000);
    assert_int_equal(c.http.keepalive_requests, 1000);
    assert_int_equal(c.min_rate, 1024);
    assert_false(c.http.autoindex);
    assert_null(c.access_log);
    assert_int_equal(parse(&c, "--header-timeout", "2s", "--keepalive-timeout", "1m",
                           "--keepalive-requests", "7", "--autoindex", "--access-log", "-",
                           "--redirect", "/old.txt=/new.txt", "--redirect",
                           "/gone=https://example.org/x", "--listen", "http=[::1]:0", "d", NULL),
                     0);
    assert_int_equal(c.http.header_timeout_ms, 2000);
    assert_int_equal(c.http.keepalive_timeout_ms, 60000);
    assert_int_equal(c.http.keepalive_requests, 7);
    assert_true(c.http.autoindex);
    assert_string_equal(c.access_log, "-");
    assert_int_equal(c.http.nredirects, 2);
    assert_string_equal(c.http.redirects[0].from, "/old.txt");
    assert_string_equal(c.http.redirects[0].to, "/new.txt");
    assert_string_equal(c.http.redirects[1].to, "https://example.org/x");
    /* No keep-alive at all: one request per connection. */
    assert_int_equal(parse(&c, "--keepalive-timeout", "0", "--listen", "http=[::1]:0", "d", NULL),
                     0);
    assert_int_equal(c.http.keepalive_requests, 1);
    assert_int_equal(parse(&c, "--redirect", "old=/new", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--redirect", "/old=", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--redirect", "/old=/a\r\nSet-Cookie:x", "::1", "0", "d", NULL),
                     -EINVAL);
    assert_int_equal(parse(&c, "--redirect", "/old=/a b", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--min-rate", "64K/s", "::1", "0", "d", NULL), 0);
    assert_int_equal(c.min_rate, 65536);
    assert_int_equal(parse(&c, "--min-rate", "0", "::1", "0", "d", NULL), 0);
    assert_int_equal(c.min_rate, 0);
    assert_int_equal(parse(&c, "--min-rate", "fast", "::1", "0", "d", NULL), -EINVAL);
    /* The services' settings. */
    assert_int_equal(parse(&c, "--listen", "lottery=[::1]:0", "d", NULL), 0);
    assert_int_equal(c.listen[0].proto, PROTO_LOTTERY);
    assert_int_equal(c.echo_max_bytes, 1 << 20);
    assert_int_equal(c.sndbuf, 0);
    assert_int_equal(
        parse(&c, "--echo-max-bytes", "1000", "--sndbuf", "16K", "::1", "0", "d", NULL), 0);
    assert_int_equal(c.echo_max_bytes, 1000);
    assert_int_equal(c.sndbuf, 16384);
    assert_int_equal(parse(&c, "--echo-max-bytes", "0", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--listen", "chargen=[::1]:0", "d", NULL), -EINVAL);
}

/* --serve-hidden: off by default; on, it reaches every connection's
 * conn_env as the tree's TREE_HIDDEN. */
static void test_serve_hidden(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(parse(&c, "::1", "0", "d", NULL), 0);
    assert_false(c.serve_hidden);
    assert_int_equal(cfg_conn_env(&c, NULL, 0).tree_flags, 0);
    assert_int_equal(parse(&c, "::1", "0", "d", "--serve-hidden", NULL), 0);
    assert_true(c.serve_hidden);
    assert_int_equal(cfg_conn_env(&c, NULL, 0).tree_flags, TREE_HIDDEN);
    assert_int_equal(parse(&c, "--serve-hidden=yes", "::1", "0", "d", NULL), -EINVAL);
}

/* --allow/--deny: one list in command-line order, interleaved as given,
 * reaching every listener's conn_env; a malformed rule, a prefix too
 * long and host bits beyond the prefix are usage errors, and a failed
 * parse frees what it had built (ASan: no leak). */
static void test_allow_deny(void **state)
{
    struct config c;
    struct conn_env env;

    (void)state;
    assert_int_equal(parse(&c, "::1", "0", "d", NULL), 0);
    assert_int_equal(c.acl.n, 0);
    assert_null(cfg_conn_env(&c, natives, 1).acl[0]);
    cfg_free(&c);
    assert_int_equal(parse(&c, "--deny", "127.0.0.1", "::1", "0", "--allow", "127.0.0.0/8",
                           "--deny", "::1", "d", "--allow", "all", NULL),
                     0);
    assert_int_equal(c.acl.n, 4);
    assert_string_equal(c.acl.rules[0].text, "deny 127.0.0.1");
    assert_string_equal(c.acl.rules[1].text, "allow 127.0.0.0/8");
    assert_string_equal(c.acl.rules[2].text, "deny ::1");
    assert_string_equal(c.acl.rules[3].text, "allow all");
    env = cfg_conn_env(&c, natives, PROTO_LISTENERS_MAX);
    for (int i = 0; i < PROTO_LISTENERS_MAX; i++)
        assert_ptr_equal(env.acl[i], &c.acl);
    cfg_free(&c);
    assert_int_equal(c.acl.n, 0);
    assert_int_equal(
        parse(&c, "--deny", "10.0.0.0/8", "--deny", "10.0.0.0/33", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--allow", "192.168.1.10/16", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(
        parse(&c, "--allow", "10.0.0.0/8", "--deny", "example.org", "::1", "0", "d", NULL),
        -EINVAL);
    assert_int_equal(parse(&c, "--deny", "::1", "::1", "0", "d", "--mode", "threads", NULL),
                     -EINVAL);
    assert_int_equal(parse(&c, "--deny", NULL), -EINVAL);
}

static void test_mode_names(void **state)
{
    (void)state;
    assert_string_equal(cfg_mode_name(MODE_ITERATIVE), "iterative");
    assert_string_equal(cfg_mode_name(MODE_PREFORK), "prefork");
    assert_string_equal(cfg_mode_name((enum pool_mode)4), "unknown");
    assert_string_equal(cfg_mode_name((enum pool_mode) - 1), "unknown");
}

static void test_max_requests(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(parse(&c, "::1", "0", "d", NULL), 0);
    assert_int_equal(c.max_requests, 0); /* off by default */
    assert_int_equal(c.max_requests_jitter, 0);
    assert_int_equal(parse(&c, "--mode", "prefork", "--max-requests", "5", "::1", "0", "d", NULL),
                     0);
    assert_int_equal(c.max_requests, 5);
    assert_int_equal(
        parse(&c, "--max-requests", "3", "--max-requests-jitter", "5", "::1", "0", "d", NULL),
        0); /* event, the default mode */
    assert_int_equal(c.max_requests_jitter, 5);
    /* Fork mode's children serve one connection; iterative has no worker. */
    assert_int_equal(parse(&c, "--mode", "fork", "--max-requests", "5", "::1", "0", "d", NULL),
                     -EINVAL);
    assert_int_equal(parse(&c, "--mode", "iterative", "--max-requests", "5", "::1", "0", "d", NULL),
                     -EINVAL);
    assert_int_equal(parse(&c, "--mode", "fork", "--max-requests", "0", "::1", "0", "d", NULL), 0);
    assert_int_equal(parse(&c, "--max-requests-jitter", "5", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--max-requests", "-1", "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(parse(&c, "--max-requests", "1000000001", "::1", "0", "d", NULL), -EINVAL);
}

static void test_max_requests_limit(void **state)
{
    struct config c = {0};

    (void)state;
    assert_int_equal(cfg_max_requests_limit(&c, 12345), 0); /* off */
    c.max_requests = 5;
    assert_int_equal(cfg_max_requests_limit(&c, 0), 5); /* no jitter: the limit itself */
    assert_int_equal(cfg_max_requests_limit(&c, UINT32_MAX), 5);
    c.max_requests = 3;
    c.max_requests_jitter = 5; /* 3..8, both ends reached */
    assert_int_equal(cfg_max_requests_limit(&c, 0), 3);
    assert_int_equal(cfg_max_requests_limit(&c, 5), 8);
    assert_int_equal(cfg_max_requests_limit(&c, 6), 3);
    assert_int_equal(cfg_max_requests_limit(&c, UINT32_MAX), 3 + UINT32_MAX % 6);
    for (uint32_t r = 0; r < 1000; r++) {
        uint64_t n = cfg_max_requests_limit(&c, r * 2654435761u);

        assert_true(n >= 3 && n <= 8);
    }
    c.max_requests = 1000000000; /* the largest of both: no overflow */
    c.max_requests_jitter = 1000000000;
    assert_true(cfg_max_requests_limit(&c, UINT32_MAX) ==
                1000000000ULL + UINT32_MAX % 1000000001ULL);
}

/* ---- The configuration file ---- */

static char tmpdir[64]; /* the suite's temporary directory */

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-config-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The path of name in the temporary directory (one of 8 buffers in turn,
 * so that a test may hold several). */
static const char *tmp_path(const char *name)
{
    static char paths[8][128];
    static unsigned next;
    char *p = paths[next++ % 8];

    snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
    return p;
}

/* Writes text to name in the temporary directory. Returns its path. */
static const char *conf(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

/*
 * cfg_load() of "ferryd" and a NULL-terminated list of arguments. The
 * argv array is one of 4 in turn, so that it outlives the load for a
 * cfg_reload() while the next loads use the others.
 */
static int load(struct config *cfg, struct cfg_report *rep, ...)
{
    static char *argvs[4][32];
    static unsigned next;
    char **argv = argvs[next++ % 4];
    int argc = 1;
    va_list ap;

    argv[0] = "ferryd";
    va_start(ap, rep);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;
    return cfg_load(argc, argv, cfg, rep);
}

/* True when text holds line as a whole line of its own. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    if (n == 0)
        return false;
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    }
    return false;
}

/* The report holds the line that fmt makes, whole. */
static void assert_report(const struct cfg_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void assert_report(const struct cfg_report *rep, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!has_line(rep->text, line)) {
        print_error("expected the line\n  %s\nin the report:\n%s", line, rep->text);
        fail();
    }
}

/* The number of lines in the report. */
static unsigned report_lines(const struct cfg_report *rep)
{
    unsigned n = 0;

    for (size_t i = 0; i < rep->len; i++)
        n += rep->text[i] == '\n';
    return n;
}

/* The report is empty (shown otherwise). */
static void assert_empty(const struct cfg_report *rep)
{
    if (rep->len != 0 || rep->errors != 0 || rep->warnings != 0 || rep->changes != 0) {
        print_error("expected an empty report, got:\n%s", rep->text);
        fail();
    }
}

/* A successful load: rc 0 and no error (the report shown otherwise). */
static void assert_loaded(int rc, const struct cfg_report *rep)
{
    if (rc != 0 || rep->errors != 0) {
        print_error("cfg_load: %d, %u error(s):\n%s", rc, rep->errors, rep->text);
        fail();
    }
}

/* cfg_dump() as a configuration file: "[section]" before each section's
 * entries, "key = value" each. */
struct dump {
    char text[16384];
    size_t len;
    char section[64];
};

static void dump_emit(void *user, const char *section, const char *key, const char *value)
{
    struct dump *d = user;
    int n;

    if (strcmp(section, d->section) != 0) {
        snprintf(d->section, sizeof(d->section), "%s", section);
        n = snprintf(d->text + d->len, sizeof(d->text) - d->len, "[%s]\n", section);
        assert_true(n > 0 && d->len + (size_t)n < sizeof(d->text));
        d->len += (size_t)n;
    }
    n = snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s = %s\n", key, value);
    assert_true(n > 0 && d->len + (size_t)n < sizeof(d->text));
    d->len += (size_t)n;
}

static void dump(const struct config *cfg, struct dump *d)
{
    memset(d, 0, sizeof(*d));
    cfg_dump(cfg, dump_emit, d);
}

/* Every setting in one file: the top-level keys in each form a value
 * takes (a size with its suffix, a rate with "/s", a duration, the flag
 * words), then [listen], [redirect], [access] and [access PROTO]; the
 * file's directory and listeners need no argument. */
static void test_file_settings(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *path = conf("all.conf", "# ferryd.conf\n"
                                        "mode = prefork\n"
                                        "workers = 3 ; inline comment\n"
                                        "max-children: 16\n"
                                        "chunk-size = 128K\n"
                                        "io-timeout = 1m\n"
                                        "min-rate = 2K/s\n"
                                        "log-level = debug\n"
                                        "access-log = /var/log/a;b\n"
                                        "user = nobody\n"
                                        "autoindex = yes\n"
                                        "serve-hidden = TRUE\n"
                                        "ipv6-only = On\n"
                                        "no-seccomp = 1\n"
                                        "hub-test-hooks = no\n"
                                        "directory = /srv/files\n"
                                        "\n"
                                        "[listen]\n"
                                        "http = [::1]:8080\n"
                                        "native = 127.0.0.1:4242\n"
                                        "[redirect]\n"
                                        "/old.txt = /new.txt\n"
                                        "/gone = https://example.org/x\n"
                                        "[access]\n"
                                        "deny = 10.0.0.0/8\n"
                                        "allow = all\n"
                                        "[access http]\n"
                                        "allow = ::1\n");

    (void)state;
    assert_loaded(load(&c, &rep, "-c", path, NULL), &rep);
    assert_int_equal(rep.warnings, 0);
    assert_string_equal(c.config_file, path);
    assert_false(c.test_only);
    assert_int_equal(c.mode, MODE_PREFORK);
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.max_children, 16);
    assert_int_equal(c.chunk_size, 128 * 1024);
    assert_int_equal(c.io_timeout, 60);
    assert_int_equal(c.min_rate, 2048);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_string_equal(c.access_log, "/var/log/a;b"); /* ';' without a blank before it */
    assert_string_equal(c.user, "nobody");
    assert_true(c.http.autoindex);
    assert_true(c.serve_hidden);
    assert_true(c.ipv6_only);
    assert_true(c.no_seccomp);
    assert_false(c.hub_test_hooks);
    assert_string_equal(c.directory, "/srv/files");
    assert_int_equal(c.request_timeout, 10); /* a default */
    assert_int_equal(c.nlisten, 2);
    assert_int_equal(c.listen[0].proto, PROTO_HTTP);
    assert_string_equal(c.listen[0].host, "::1");
    assert_string_equal(c.listen[0].port, "8080");
    assert_int_equal(c.listen[1].proto, PROTO_NATIVE);
    assert_string_equal(c.listen[1].host, "127.0.0.1");
    assert_string_equal(c.listen[1].port, "4242");
    assert_int_equal(c.http.nredirects, 2);
    assert_ptr_equal(c.http.redirects, c.redirects);
    assert_string_equal(c.redirects[0].from, "/old.txt");
    assert_string_equal(c.redirects[0].to, "/new.txt");
    assert_string_equal(c.redirects[1].from, "/gone");
    assert_string_equal(c.redirects[1].to, "https://example.org/x");
    assert_int_equal(c.acl.n, 2);
    assert_string_equal(c.acl.rules[0].text, "deny 10.0.0.0/8");
    assert_string_equal(c.acl.rules[1].text, "allow all");
    assert_true(c.has_proto_acl[PROTO_HTTP]);
    assert_false(c.has_proto_acl[PROTO_NATIVE]);
    assert_int_equal(c.proto_acl[PROTO_HTTP].n, 1);
    assert_string_equal(c.proto_acl[PROTO_HTTP].rules[0].text, "allow ::1");
    cfg_free(&c);
    assert_null(c.strings);
    assert_int_equal(c.acl.n, 0);
    assert_int_equal(c.proto_acl[PROTO_HTTP].n, 0);
}

/* A flag takes yes/no, true/false, on/off, 1/0 in any case; anything
 * else is an error. */
static void test_file_flag_words(void **state)
{
    static const char *const words[][2] = {{"yes", "no"}, {"true", "false"}, {"on", "off"},
                                           {"1", "0"},    {"YES", "No"},     {"True", "OFF"}};
    struct config c;
    struct cfg_report rep;
    char text[256];

    (void)state;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        snprintf(text, sizeof(text),
                 "autoindex = %s\nserve-hidden = %s\ndirectory = d\n[listen]\nnative = "
                 "[::1]:0\n",
                 words[i][0], words[i][1]);
        assert_loaded(load(&c, &rep, "-c", conf("flags.conf", text), NULL), &rep);
        assert_true(c.http.autoindex);
        assert_false(c.serve_hidden);
        cfg_free(&c);
    }
    assert_int_equal(load(&c, &rep, "-c",
                          conf("flags.conf", "autoindex = y\nserve-hidden =\nipv6-only = 2\n"),
                          "::1", "0", "d", NULL),
                     -EINVAL);
    assert_int_equal(rep.errors, 3);
    assert_report(&rep, "%s:1: autoindex: yes or no, not 'y'", tmp_path("flags.conf"));
    assert_report(&rep, "%s:2: serve-hidden: yes or no, not ''", tmp_path("flags.conf"));
    assert_report(&rep, "%s:3: ipv6-only: yes or no, not '2'", tmp_path("flags.conf"));
}

/* The top level's errors, one a line: each reported with its line and
 * the option without dashes, all of them (not only the first), the
 * syntax error too; the load fails and frees what it built. */
static void test_file_errors_top_level(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f = conf("top.conf", "# one mistake a line\n"      /* 1 */
                                     "workers = many\n"            /* 2 */
                                     "chunk-size = 1K\n"           /* 3 */
                                     "autoindex = maybe\n"         /* 4 */
                                     "frobnicate = 1\n"            /* 5 */
                                     "request-timeout = 5\n"       /* 6 */
                                     "request-timeout = 6\n"       /* 7 */
                                     "listen = http=[::1]:80\n"    /* 8 */
                                     "redirect = /a=/b\n"          /* 9 */
                                     "allow = all\n"               /* 10 */
                                     "deny = 10.0.0.0/8\n"         /* 11 */
                                     "mode = threads\n"            /* 12 */
                                     "log-level = loud\n"          /* 13 */
                                     "io-timeout = 5x\n"           /* 14 */
                                     "min-rate = fast\n"           /* 15 */
                                     "this line is no entry\n"     /* 16 */
                                     "config = other.conf\n"       /* 17 */
                                     "test-config = yes\n"         /* 18 */
                                     "max-children = 0\n"          /* 19 */
                                     "workers = 3\n"               /* 20 */
                                     "serve-hidden = 1\n"          /* 21: fine */
                                     "keepalive-requests = -1\n"   /* 22 */
                                     "max-conn-per-ip = 1000001\n" /* 23 */
                                     "help = yes\n"                /* 24 */
                                     "Workers = 2\n");             /* 25 */

    (void)state;
    assert_int_equal(load(&c, &rep, "-c", f, NULL), -EINVAL);
    assert_report(&rep, "%s:2: workers: not a number: 'many'", f);
    assert_report(&rep, "%s:3: chunk-size: '1K' is out of range (4096..1073741824)", f);
    assert_report(&rep, "%s:4: autoindex: yes or no, not 'maybe'", f);
    assert_report(&rep, "%s:5: unknown setting 'frobnicate' (the long options of ferryd --help)",
                  f);
    assert_report(&rep, "%s:7: request-timeout is given twice (first on line 6)", f);
    assert_report(&rep, "%s:8: listen: goes in a section: [listen] then PROTO = ADDR:PORT", f);
    assert_report(&rep, "%s:9: redirect: goes in a section: [redirect] then /FROM = TO", f);
    assert_report(
        &rep, "%s:10: allow: goes in a section: [access] (or [access PROTO]) then allow = CIDR", f);
    assert_report(
        &rep, "%s:11: deny: goes in a section: [access] (or [access PROTO]) then deny = CIDR", f);
    assert_report(&rep, "%s:12: mode: unknown mode 'threads' (iterative, fork, prefork, event)", f);
    assert_report(&rep, "%s:13: log-level: unknown level 'loud' (error, warn, info, debug)", f);
    assert_report(&rep, "%s:14: io-timeout: not a whole number of seconds: '5x' (e.g. 30, 30s, 5m)",
                  f);
    assert_report(&rep, "%s:15: min-rate: not a size: 'fast'", f);
    assert_report(&rep,
                  "%s:16: not a 'key = value', a [section] or a comment (or longer than 199 "
                  "characters)",
                  f);
    assert_report(&rep, "%s:17: unknown setting 'config' (the long options of ferryd --help)", f);
    assert_report(&rep, "%s:18: unknown setting 'test-config' (the long options of ferryd --help)",
                  f);
    assert_report(&rep, "%s:19: max-children: '0' is out of range (1..65536)", f);
    /* The first "workers" was wrong, and still the first. */
    assert_report(&rep, "%s:20: workers is given twice (first on line 2)", f);
    assert_report(&rep, "%s:22: keepalive-requests: not a number: '-1'", f);
    assert_report(&rep, "%s:23: max-conn-per-ip: '1000001' is out of range (0..1000000)", f);
    assert_report(&rep, "%s:24: unknown setting 'help' (the long options of ferryd --help)", f);
    assert_report(&rep, "%s:25: unknown setting 'Workers' (the long options of ferryd --help)", f);
    assert_int_equal(rep.errors, 22);
    assert_int_equal(report_lines(&rep), 22);
    assert_int_equal(rep.warnings, 0);
    /* No option is named with its dashes when it comes from the file. */
    assert_null(strstr(rep.text, ": --"));
    assert_null(c.strings); /* freed by the failed load */
}

/* The sections' errors: [listen] (protocol, address, port, a listener
 * twice), [redirect], [access] (key, CIDR), [access PROTO] unknown or the
 * hub's, and an unknown section reported once, at its first entry. */
static void test_file_errors_sections(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f = conf("sections.conf", "directory = /srv\n"        /* 1 */
                                          "[listen]\n"                /* 2 */
                                          "http = [::1]:8080\n"       /* 3 */
                                          "gopher = [::1]:70\n"       /* 4 */
                                          "native = ::1:80\n"         /* 5 */
                                          "echo = [::1]:99999\n"      /* 6 */
                                          "daytime = [::1]:8080\n"    /* 7 */
                                          "native = [::1]:9000\n"     /* 8: fine */
                                          "upcase = [::1]\n"          /* 9 */
                                          "[redirect]\n"              /* 10 */
                                          "old = /new\n"              /* 11 */
                                          "/x = /a b\n"               /* 12 */
                                          "/ok = /fine\n"             /* 13: fine */
                                          "[access]\n"                /* 14 */
                                          "permit = all\n"            /* 15 */
                                          "deny = 10.0.0.0/33\n"      /* 16 */
                                          "allow = 192.168.1.10/16\n" /* 17 */
                                          "deny = example.org\n"      /* 18 */
                                          "[access gopher]\n"         /* 19 */
                                          "deny = all\n"              /* 20 */
                                          "[access hub]\n"            /* 21 */
                                          "deny = all\n"              /* 22 */
                                          "[lisen]\n"                 /* 23 */
                                          "\n"                        /* 24 */
                                          "http = [::1]:1\n"          /* 25 */
                                          "native = [::1]:2\n"        /* 26 */
                                          "[access http]\n"           /* 27 */
                                          "allow = ::1\n"             /* 28: fine */
                                          "deny = all/8\n");          /* 29 */

    (void)state;
    assert_int_equal(load(&c, &rep, "-c", f, NULL), -EINVAL);
    assert_report(&rep,
                  "%s:4: listen: unknown protocol 'gopher' (native, http, echo, upcase, daytime, "
                  "lottery, hub, metrics)",
                  f);
    assert_report(&rep,
                  "%s:5: listen: no port in '::1:80' (an IPv6 address with a port takes "
                  "brackets: [::1]:PORT)",
                  f);
    assert_report(&rep, "%s:6: listen: the port in '[::1]:99999' is not 0..65535", f);
    assert_report(&rep, "%s:7: listen: daytime=[::1]:8080 is given twice", f);
    assert_report(&rep, "%s:9: listen: no port in '[::1]'", f);
    assert_report(&rep, "%s:11: redirect: FROM must be a path beginning with '/', got 'old'", f);
    assert_report(&rep, "%s:12: redirect: TO must be printable ASCII without spaces: '/a b'", f);
    assert_report(&rep, "%s:15: [access]: 'permit': allow or deny", f);
    assert_report(&rep, "%s:16: deny 10.0.0.0/33: the prefix is beyond /32", f);
    assert_report(&rep,
                  "%s:17: allow 192.168.1.10/16: bits are set beyond the prefix: write the "
                  "network, 192.168.0.0/16, or the host alone, 192.168.1.10",
                  f);
    assert_report(&rep,
                  "%s:18: deny: 'example.org' is not an address or network (10.0.0.0/8, "
                  "192.0.2.7, 2001:db8::/32, ::1, all)",
                  f);
    assert_report(&rep,
                  "%s:20: [access gopher]: unknown protocol (native, http, echo, upcase, daytime, "
                  "lottery, metrics)",
                  f);
    assert_report(&rep, "%s:22: [access hub]: the hub (UDP) takes no rules: its login is its gate",
                  f);
    assert_report(&rep, "%s:25: unknown section [lisen] (listen, redirect, access, access PROTO)",
                  f);
    assert_report(&rep,
                  "%s:29: deny: 'all/8' is not an address or network (10.0.0.0/8, 192.0.2.7, "
                  "2001:db8::/32, ::1, all)",
                  f);
    assert_null(strstr(rep.text, ":26:")); /* the unknown section once */
    assert_int_equal(rep.errors, 15);
    assert_int_equal(report_lines(&rep), 15);
    assert_null(c.strings);
}

/* An unknown [access PROTO] is an unknown section: said once, as [lisen]
 * is, not once for every rule in it. */
static void test_file_unknown_access_section_once(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f = conf("gopher.conf", "[access gopher]\n"
                                        "deny = 10.0.0.0/8\n"
                                        "deny = 10.1.0.0/16\n"
                                        "allow = all\n");

    (void)state;
    assert_int_equal(load(&c, &rep, "-c", f, "::1", "0", "d", NULL), -EINVAL);
    assert_report(&rep,
                  "%s:2: [access gopher]: unknown protocol (native, http, echo, upcase, daytime, "
                  "lottery, metrics)",
                  f);
    assert_int_equal(rep.errors, 1);
}

/* More errors than the report holds: the text stops at its size, still
 * a string, and the count goes on (cfg_parse() then says how many). */
static void test_file_many_errors(void **state)
{
    struct config c;
    struct cfg_report rep;
    static char text[16384];
    size_t len = 0;

    (void)state;
    for (int i = 1; i <= 200; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "unknown-setting-%d = %d\n", i, i);
    assert_int_equal(load(&c, &rep, "-c", conf("many.conf", text), "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(rep.errors, 200);
    assert_true(rep.len <= sizeof(rep.text) - 1);
    assert_int_equal(strlen(rep.text), rep.len);
    assert_report(&rep,
                  "%s:1: unknown setting 'unknown-setting-1' (the long options of ferryd --help)",
                  tmp_path("many.conf"));
    assert_report(&rep,
                  "%s:20: unknown setting 'unknown-setting-20' (the long options of ferryd --help)",
                  tmp_path("many.conf"));
}

/* A file that cannot be read: an error, the load fails. */
static void test_file_unreadable(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *missing = tmp_path("missing.conf");

    (void)state;
    assert_int_equal(load(&c, &rep, "-c", missing, "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(rep.errors, 1);
    assert_non_null(strstr(rep.text, "cannot read the configuration file: No such file or "
                                     "directory\n"));
    assert_int_equal(report_lines(&rep), 1);
    /* A directory: read, not parsed. */
    assert_int_equal(load(&c, &rep, "-c", tmpdir, "::1", "0", "d", NULL), -EINVAL);
    assert_int_equal(rep.errors, 1);
    assert_non_null(strstr(rep.text, "cannot read the configuration file: "));
}

/* An option without its argument at the end of the line is said to be
 * incomplete (as before the configuration file): the first pass over
 * argv (-c, -t) must not leave it reordered so that the second pass
 * takes an operand for its argument. */
static void test_dangling_option_at_end(void **state)
{
    struct config c;
    struct cfg_report rep;

    (void)state;
    assert_int_equal(load(&c, &rep, "::1", "0", "d", "--workers", NULL), -EINVAL);
    assert_report(&rep, "unknown or incomplete option '--workers'");
    assert_int_equal(rep.errors, 1);
    assert_int_equal(load(&c, &rep, "::1", "0", "d", "-c", NULL), -EINVAL);
    assert_report(&rep, "unknown or incomplete option '-c'");
    assert_int_equal(rep.errors, 1);
}

/* The report's lines are "FILE:LINE: message" (docs); when the file
 * cannot be read there is no line, but the file must still be named:
 * "FILE: cannot read...". */
static void test_file_unreadable_names_the_file(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *missing = tmp_path("missing.conf");

    (void)state;
    assert_int_equal(load(&c, &rep, "-c", missing, "::1", "0", "d", NULL), -EINVAL);
    if (strstr(rep.text, missing) == NULL) {
        print_error("the file is not named in the report:\n%s", rep.text);
        fail();
    }
}

/* Warnings: allowed, the load succeeds, each said once. A rule after
 * "deny all" never matches; [access http] without an http listener
 * applies to nothing; the general rules do not reach the hub. */
static void test_file_warnings(void **state)
{
    struct config c;
    struct cfg_report rep;

    (void)state;
    assert_loaded(load(&c, &rep, "-c",
                       conf("warn.conf", "directory = d\n"
                                         "[listen]\n"
                                         "native = [::1]:0\n"
                                         "[access]\n"
                                         "deny = all\n"
                                         "allow = ::1\n"
                                         "[access http]\n"
                                         "allow = ::1\n"),
                       NULL),
                  &rep);
    assert_int_equal(rep.warnings, 2);
    assert_report(&rep, "warning: 'allow ::1' comes after 'deny all': the first rule that "
                        "matches decides, so it never matches");
    assert_report(&rep, "warning: [access http]: no http listener to apply it to");
    assert_int_equal(report_lines(&rep), 2);
    cfg_free(&c);
    /* A rule after "all" in [access PROTO] too. */
    assert_loaded(load(&c, &rep, "-c",
                       conf("warn2.conf", "directory = d\n"
                                          "[listen]\n"
                                          "http = [::1]:0\n"
                                          "[access http]\n"
                                          "allow = all\n"
                                          "deny = 10.0.0.0/8\n"),
                       NULL),
                  &rep);
    assert_int_equal(rep.warnings, 1);
    assert_report(&rep, "warning: 'deny 10.0.0.0/8' comes after 'allow all': the first rule "
                        "that matches decides, so it never matches");
    cfg_free(&c);
    assert_loaded(load(&c, &rep, "-c",
                       conf("warn3.conf", "directory = d\n"
                                          "hub-db = h.db\n"
                                          "[listen]\n"
                                          "native = 127.0.0.1:0\n"
                                          "hub = 127.0.0.1:0\n"
                                          "[access]\n"
                                          "allow = 127.0.0.1\n"),
                       NULL),
                  &rep);
    assert_int_equal(rep.warnings, 1);
    assert_report(&rep,
                  "warning: --allow/--deny do not apply to the hub (UDP): its login is its gate");
    cfg_free(&c);
    /* No warning at all for a clean file. */
    assert_loaded(load(&c, &rep, "-c",
                       conf("clean.conf", "directory = d\n"
                                          "[listen]\n"
                                          "http = [::1]:0\n"
                                          "[access http]\n"
                                          "allow = ::1\n"
                                          "deny = all\n"),
                       NULL),
                  &rep);
    assert_int_equal(rep.warnings, 0);
    assert_int_equal(rep.len, 0);
    cfg_free(&c);
}

/* The command line overrides the file's scalars (numbers, strings,
 * flags) without "given twice"; what it does not name, the file keeps. */
static void test_precedence_scalars(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f = conf("scalars.conf", "workers = 2\n"
                                         "mode = prefork\n"
                                         "access-log = /a.log\n"
                                         "autoindex = no\n"
                                         "io-timeout = 40\n"
                                         "directory = /srv\n"
                                         "[listen]\n"
                                         "native = [::1]:0\n");

    (void)state;
    assert_loaded(
        load(&c, &rep, "--workers", "4", "-c", f, "--access-log", "/b.log", "--autoindex", NULL),
        &rep);
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.mode, MODE_PREFORK);
    assert_string_equal(c.access_log, "/b.log");
    assert_true(c.http.autoindex);
    assert_int_equal(c.io_timeout, 40);
    assert_string_equal(c.directory, "/srv");
    assert_int_equal(c.nlisten, 1);
    cfg_free(&c);
    /* Without the command line's: the file's. */
    assert_loaded(load(&c, &rep, "-c", f, NULL), &rep);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.access_log, "/a.log");
    assert_false(c.http.autoindex);
    cfg_free(&c);
    /* The command line's own errors are still errors. */
    assert_int_equal(load(&c, &rep, "-c", f, "--workers", "x", NULL), -EINVAL);
    assert_report(&rep, "--workers: not a number: 'x'");
}

/* A list option on the command line replaces the file's list: --listen
 * the [listen] section, --redirect the [redirect] section, --allow or
 * --deny [access] and every [access PROTO]. */
static void test_precedence_lists(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f = conf("lists.conf", "directory = /srv\n"
                                       "[listen]\n"
                                       "http = [::1]:8080\n"
                                       "native = 127.0.0.1:4242\n"
                                       "[redirect]\n"
                                       "/a = /b\n"
                                       "/c = /d\n"
                                       "[access]\n"
                                       "deny = 10.0.0.0/8\n"
                                       "[access http]\n"
                                       "allow = ::1\n"
                                       "deny = all\n");

    (void)state;
    assert_loaded(load(&c, &rep, "-c", f, NULL), &rep);
    assert_int_equal(c.nlisten, 2);
    assert_int_equal(c.http.nredirects, 2);
    assert_int_equal(c.acl.n, 1);
    assert_true(c.has_proto_acl[PROTO_HTTP]);
    cfg_free(&c);
    /* --listen: the file's listeners are gone, the rest stays. */
    assert_loaded(
        load(&c, &rep, "-c", f, "--listen", "echo=[::1]:7007", "--listen", "http=[::1]:9090", NULL),
        &rep);
    assert_int_equal(c.nlisten, 2);
    assert_int_equal(c.listen[0].proto, PROTO_ECHO);
    assert_string_equal(c.listen[0].port, "7007");
    assert_int_equal(c.listen[1].proto, PROTO_HTTP);
    assert_string_equal(c.listen[1].port, "9090");
    assert_string_equal(c.directory, "/srv");
    assert_int_equal(c.http.nredirects, 2);
    assert_int_equal(c.acl.n, 1);
    cfg_free(&c);
    /* The same address as a listener of the file's is no conflict: the
     * file's list is gone. */
    assert_loaded(load(&c, &rep, "-c", f, "--listen", "native=[::1]:8080", NULL), &rep);
    assert_int_equal(c.nlisten, 1);
    cfg_free(&c);
    /* --redirect */
    assert_loaded(load(&c, &rep, "-c", f, "--redirect", "/x=/y", NULL), &rep);
    assert_int_equal(c.http.nredirects, 1);
    assert_string_equal(c.http.redirects[0].from, "/x");
    assert_string_equal(c.http.redirects[0].to, "/y");
    assert_int_equal(c.nlisten, 2);
    cfg_free(&c);
    /* --allow: [access] and [access http] are both replaced, so nothing
     * is said of them. */
    assert_loaded(load(&c, &rep, "-c", f, "--allow", "all", NULL), &rep);
    assert_int_equal(c.acl.n, 1);
    assert_string_equal(c.acl.rules[0].text, "allow all");
    for (int p = 0; p < PROTO_COUNT; p++) {
        assert_false(c.has_proto_acl[p]);
        assert_int_equal(c.proto_acl[p].n, 0);
    }
    assert_ptr_equal(cfg_acl_for(&c, PROTO_HTTP), &c.acl);
    assert_int_equal(rep.warnings, 0);
    cfg_free(&c);
    /* --deny, twice: both kept, in order. */
    assert_loaded(load(&c, &rep, "--deny", "192.0.2.0/24", "-c", f, "--deny", "::1", NULL), &rep);
    assert_int_equal(c.acl.n, 2);
    assert_string_equal(c.acl.rules[0].text, "deny 192.0.2.0/24");
    assert_string_equal(c.acl.rules[1].text, "deny ::1");
    assert_false(c.has_proto_acl[PROTO_HTTP]);
    cfg_free(&c);
}

/* The operands against the file: the short form (ADDRESS PORT DIRECTORY,
 * ADDRESS:PORT DIRECTORY) replaces the file's listeners; a DIRECTORY
 * argument overrides "directory ="; the file's directory and listeners
 * need no argument; without them, the usual errors. */
static void test_precedence_operands(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f = conf("ops.conf", "directory = /srv\n"
                                     "[listen]\n"
                                     "http = [::1]:8080\n"
                                     "native = 127.0.0.1:4242\n");
    const char *nodir = conf("nodir.conf", "[listen]\nhttp = [::1]:8080\n");
    const char *nolisten = conf("nolisten.conf", "directory = /srv\nworkers = 2\n");

    (void)state;
    assert_loaded(load(&c, &rep, "-c", f, "127.0.0.1", "5000", "/other", NULL), &rep);
    assert_int_equal(c.nlisten, 1);
    assert_int_equal(c.listen[0].proto, PROTO_NATIVE);
    assert_string_equal(c.listen[0].host, "127.0.0.1");
    assert_string_equal(c.listen[0].port, "5000");
    assert_string_equal(c.directory, "/other");
    cfg_free(&c);
    assert_loaded(load(&c, &rep, "-c", f, "[::1]:5001", "/third", NULL), &rep);
    assert_int_equal(c.nlisten, 1);
    assert_string_equal(c.listen[0].host, "::1");
    assert_string_equal(c.listen[0].port, "5001");
    assert_string_equal(c.directory, "/third");
    cfg_free(&c);
    /* DIRECTORY alone: the file's listeners, this directory. */
    assert_loaded(load(&c, &rep, "-c", f, "/mine", NULL), &rep);
    assert_int_equal(c.nlisten, 2);
    assert_string_equal(c.directory, "/mine");
    cfg_free(&c);
    /* Nothing: the file's directory. */
    assert_loaded(load(&c, &rep, "-c", f, NULL), &rep);
    assert_string_equal(c.directory, "/srv");
    cfg_free(&c);
    /* Listeners without a directory anywhere. */
    assert_int_equal(load(&c, &rep, "-c", nodir, NULL), -EINVAL);
    assert_report(&rep, "the DIRECTORY to serve is missing (an argument, or directory = in the "
                        "configuration file)");
    assert_int_equal(rep.errors, 1);
    assert_loaded(load(&c, &rep, "-c", nodir, "/d", NULL), &rep);
    assert_string_equal(c.directory, "/d");
    cfg_free(&c);
    /* A directory without listeners: the short form, or --listen. */
    assert_int_equal(load(&c, &rep, "-c", nolisten, NULL), -EINVAL);
    assert_report(&rep, "expected ADDRESS PORT DIRECTORY or --listen PROTO=ADDR:PORT DIRECTORY, "
                        "got 0 argument(s)");
    assert_loaded(load(&c, &rep, "-c", nolisten, "--listen", "http=[::1]:0", NULL), &rep);
    assert_string_equal(c.directory, "/srv");
    assert_int_equal(c.workers, 2);
    cfg_free(&c);
    /* --listen with the short form's arguments: refused, as without a file. */
    assert_int_equal(load(&c, &rep, "-c", f, "--listen", "http=[::1]:0", "::1", "0", "d", NULL),
                     -EINVAL);
    assert_report(&rep, "with --listen, the DIRECTORY is the only argument (got 3)");
}

/* The file's errors are found before the command line is read: -t is
 * known all the same (main() then says "invalid", not "try --help"). */
static void test_test_only(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *bad = conf("bad.conf", "workers = x\n");
    const char *good = conf("good.conf", "directory = d\n[listen]\nnative = [::1]:0\n");

    (void)state;
    assert_int_equal(load(&c, &rep, "-t", "-c", bad, NULL), -EINVAL);
    assert_true(c.test_only);
    assert_report(&rep, "%s:1: workers: not a number: 'x'", bad);
    assert_int_equal(load(&c, &rep, "-c", bad, "--test-config", NULL), -EINVAL);
    assert_true(c.test_only);
    assert_int_equal(load(&c, &rep, "-c", tmp_path("none.conf"), "-t", NULL), -EINVAL);
    assert_true(c.test_only);
    /* An error of the command line's, after a valid file. */
    assert_int_equal(load(&c, &rep, "-t", "-c", good, "--mode", "threads", NULL), -EINVAL);
    assert_true(c.test_only);
    assert_loaded(load(&c, &rep, "-tc", good, NULL), &rep);
    assert_true(c.test_only);
    assert_string_equal(c.config_file, good);
    cfg_free(&c);
    assert_loaded(load(&c, &rep, "-c", good, NULL), &rep);
    assert_false(c.test_only);
    cfg_free(&c);
}

/* cfg_acl_for(): a protocol's [access PROTO] when it has one, else the
 * general rules, else NULL; cfg_conn_env() gives each listener its own. */
static void test_acl_for(void **state)
{
    static const uint8_t protos[] = {PROTO_NATIVE, PROTO_HTTP, PROTO_ECHO, PROTO_HTTP};
    struct config c;
    struct cfg_report rep;
    struct conn_env env;

    (void)state;
    assert_loaded(load(&c, &rep, "-c",
                       conf("acl.conf", "directory = d\n"
                                        "[listen]\n"
                                        "native = 127.0.0.1:0\n"
                                        "http = [::1]:0\n"
                                        "echo = [::1]:0\n"
                                        "[access]\n"
                                        "deny = 10.0.0.0/8\n"
                                        "[access http]\n"
                                        "allow = ::1\n"
                                        "deny = all\n"),
                       NULL),
                  &rep);
    assert_ptr_equal(cfg_acl_for(&c, PROTO_NATIVE), &c.acl);
    assert_ptr_equal(cfg_acl_for(&c, PROTO_HTTP), &c.proto_acl[PROTO_HTTP]);
    assert_ptr_equal(cfg_acl_for(&c, PROTO_ECHO), &c.acl);
    assert_ptr_equal(cfg_acl_for(&c, PROTO_COUNT), &c.acl); /* out of range: the general */
    assert_int_equal(cfg_acl_for(&c, PROTO_HTTP)->n, 2);
    env = cfg_conn_env(&c, protos, 4);
    assert_ptr_equal(env.acl[0], &c.acl);
    assert_ptr_equal(env.acl[1], &c.proto_acl[PROTO_HTTP]);
    assert_ptr_equal(env.acl[2], &c.acl);
    assert_ptr_equal(env.acl[3], &c.proto_acl[PROTO_HTTP]);
    assert_ptr_equal(env.http, &c.http);
    cfg_free(&c);
    /* [access http] alone: the others have none. */
    assert_loaded(load(&c, &rep, "-c",
                       conf("acl2.conf", "directory = d\n"
                                         "[listen]\n"
                                         "native = 127.0.0.1:0\n"
                                         "http = [::1]:0\n"
                                         "[access http]\n"
                                         "deny = 192.0.2.1\n"),
                       NULL),
                  &rep);
    assert_null(cfg_acl_for(&c, PROTO_NATIVE));
    assert_null(cfg_acl_for(&c, PROTO_ECHO));
    assert_ptr_equal(cfg_acl_for(&c, PROTO_HTTP), &c.proto_acl[PROTO_HTTP]);
    env = cfg_conn_env(&c, protos, 2);
    assert_null(env.acl[0]);
    assert_ptr_equal(env.acl[1], &c.proto_acl[PROTO_HTTP]);
    assert_null(env.acl[2]); /* beyond n: untouched */
    cfg_free(&c);
    /* No rules at all. */
    assert_loaded(load(&c, &rep, "--listen", "http=[::1]:0", "d", NULL), &rep);
    for (int p = 0; p < PROTO_COUNT; p++)
        assert_null(cfg_acl_for(&c, (enum proto)p));
    cfg_free(&c);
}

/* cfg_dump() written as a file and loaded again gives the same dump:
 * every scalar, IPv6 listeners in brackets, a host name, redirects, the
 * general and per-protocol rules (a v4-mapped rule as the IPv4 it
 * means), the hub's settings. */
static void test_dump_round_trip(void **state)
{
    static struct dump d1, d2, d3;
    struct config c;
    struct cfg_report rep;
    const char *f = conf("rich.conf", "mode = prefork\n"
                                      "workers = 3\n"
                                      "max-children = 16\n"
                                      "chunk-size = 128K\n"
                                      "io-timeout = 2m\n"
                                      "min-rate = 2K/s\n"
                                      "autoindex = yes\n"
                                      "serve-hidden = on\n"
                                      "ipv6-only = true\n"
                                      "access-log = -\n"
                                      "user = nobody\n"
                                      "log-level = debug\n"
                                      "keepalive-timeout = 0\n"
                                      "hub-db = /tmp/h.db\n"
                                      "hub-wire = plain\n"
                                      "max-requests = 100\n"
                                      "max-requests-jitter = 10\n"
                                      "directory = /srv/files\n"
                                      "[listen]\n"
                                      "http = [::1]:8080\n"
                                      "native = 127.0.0.1:0\n"
                                      "echo = [::]:7007\n"
                                      "metrics = localhost:9100\n"
                                      "hub = 127.0.0.1:0\n"
                                      "[redirect]\n"
                                      "/old.txt = /new.txt\n"
                                      "/gone = https://example.org/x?a=b;c\n"
                                      "[access]\n"
                                      "deny = 10.0.0.0/8\n"
                                      "allow = 2001:db8::/32\n"
                                      "allow = all\n"
                                      "[access http]\n"
                                      "allow = ::1\n"
                                      "deny = all\n"
                                      "[access native]\n"
                                      "deny = ::ffff:192.0.2.0/120\n");

    (void)state;
    assert_loaded(load(&c, &rep, "-c", f, NULL), &rep);
    dump(&c, &d1);
    cfg_free(&c);
    /* What the dump says. */
    assert_true(has_line(d1.text, "mode = prefork"));
    assert_true(has_line(d1.text, "workers = 3"));
    assert_true(has_line(d1.text, "chunk-size = 131072"));
    assert_true(has_line(d1.text, "io-timeout = 120"));
    assert_true(has_line(d1.text, "min-rate = 2048"));
    assert_true(has_line(d1.text, "autoindex = yes"));
    assert_true(has_line(d1.text, "no-seccomp = no"));
    assert_true(has_line(d1.text, "log-level = debug"));
    assert_true(has_line(d1.text, "keepalive-requests = 1")); /* no keep-alive */
    assert_true(has_line(d1.text, "directory = /srv/files"));
    assert_true(has_line(d1.text, "hub-wire = plain"));
    assert_null(strstr(d1.text, "admin-socket")); /* unset */
    assert_null(strstr(d1.text, "config ="));
    assert_null(strstr(d1.text, "test-config"));
    assert_null(strstr(d1.text, "help"));
    assert_non_null(strstr(d1.text, "[listen]\n"
                                    "http = [::1]:8080\n"
                                    "native = 127.0.0.1:0\n"
                                    "echo = [::]:7007\n"
                                    "metrics = localhost:9100\n"
                                    "hub = 127.0.0.1:0\n"
                                    "[redirect]\n"
                                    "/old.txt = /new.txt\n"
                                    "/gone = https://example.org/x?a=b;c\n"
                                    "[access]\n"
                                    "deny = 10.0.0.0/8\n"
                                    "allow = 2001:db8::/32\n"
                                    "allow = all\n"));
    assert_non_null(strstr(d1.text, "[access native]\ndeny = 192.0.2.0/24\n"));
    assert_non_null(strstr(d1.text, "[access http]\nallow = ::1\ndeny = all\n"));
    /* Read back: the same, and again. */
    assert_loaded(load(&c, &rep, "-c", conf("dump1.conf", d1.text), NULL), &rep);
    dump(&c, &d2);
    cfg_free(&c);
    assert_string_equal(d2.text, d1.text);
    /* From the command line alone: the dump is a whole configuration. */
    assert_loaded(load(&c, &rep, "--listen", "http=[2001:db8::1]:80", "--listen",
                       "native=example.org:4242", "--redirect", "/a=/b", "--deny", "10.0.0.0/8",
                       "--allow", "::1", "--mode", "fork", "--workers", "4", "--access-log",
                       "/var/log/ferry.log", "/srv", NULL),
                  &rep);
    dump(&c, &d1);
    cfg_free(&c);
    assert_non_null(
        strstr(d1.text, "[listen]\nhttp = [2001:db8::1]:80\nnative = example.org:4242\n"));
    assert_loaded(load(&c, &rep, "-c", conf("dump2.conf", d1.text), NULL), &rep);
    dump(&c, &d3);
    cfg_free(&c);
    assert_string_equal(d3.text, d1.text);
}

/* cfg_dump() says its text "cfg_load() reads back the same": a redirect
 * whose path holds a ':' (/wiki/Special:Random, valid on the command
 * line) must survive the round trip. */
static void test_dump_round_trip_redirect_colon(void **state)
{
    static struct dump d1, d2;
    struct config c;
    struct cfg_report rep;
    int rc;

    (void)state;
    assert_loaded(load(&c, &rep, "--redirect", "/wiki/Special:Random=/wiki/Main", "--listen",
                       "http=[::1]:0", "/srv", NULL),
                  &rep);
    assert_string_equal(c.redirects[0].from, "/wiki/Special:Random");
    dump(&c, &d1);
    cfg_free(&c);
    rc = load(&c, &rep, "-c", conf("colon.conf", d1.text), NULL);
    if (rc != 0) {
        print_error("the dump does not load:\n%s\nreport:\n%s", d1.text, rep.text);
        fail();
    }
    dump(&c, &d2);
    cfg_free(&c);
    assert_string_equal(d2.text, d1.text);
}

/* The same for values longer than a line of the file may be: a
 * redirect's target of 220 characters, valid on the command line. */
static void test_dump_round_trip_long_value(void **state)
{
    static struct dump d1, d2;
    static char arg[300];
    struct config c;
    struct cfg_report rep;
    int rc, n;

    (void)state;
    n = snprintf(arg, sizeof(arg), "/long=https://example.org/");
    memset(arg + n, 'a', 220 - 20);
    arg[n + 200] = '\0';
    assert_loaded(load(&c, &rep, "--redirect", arg, "--listen", "http=[::1]:0", "/srv", NULL),
                  &rep);
    dump(&c, &d1);
    cfg_free(&c);
    /* libinih (Debian's build) reads lines of 199 characters at most: a
     * longer value can be given on the command line only, and the dump of
     * it is refused with its line, never cut short (docs/CONFIG.md). */
    rc = load(&c, &rep, "-c", conf("long.conf", d1.text), NULL);
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(rep.errors, 1);
    assert_non_null(strstr(rep.text, "(or longer than 199 characters)"));
    (void)d2;
}

/* cfg_compare() into empty reports (it adds to *refused). */
static unsigned compare(const struct config *cur, const struct config *next,
                        struct cfg_report *changes, struct cfg_report *refused)
{
    memset(refused, 0, sizeof(*refused));
    return cfg_compare(cur, next, changes, refused);
}

/* cfg_compare(): nothing between equal configurations. */
static void test_compare_equal(void **state)
{
    struct config a, b;
    struct cfg_report rep, changes, refused;
    const char *f = conf("eq.conf", "workers = 2\n"
                                    "directory = d\n"
                                    "[listen]\n"
                                    "native = [::1]:0\n"
                                    "metrics = 127.0.0.1:0\n"
                                    "[redirect]\n"
                                    "/a = /b\n"
                                    "[access http]\n"
                                    "deny = all\n");

    (void)state;
    assert_loaded(load(&a, &rep, "-c", f, NULL), &rep);
    assert_loaded(load(&b, &rep, "-c", f, NULL), &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_int_equal(changes.changes, 0);
    assert_int_equal(changes.len, 0);
    assert_int_equal(refused.errors, 0);
    assert_empty(&refused);
    cfg_free(&a);
    cfg_free(&b);
}

/* Scalars a reload may change are listed "name: old -> new"; the fixed
 * ones are refused, each with why, and counted. */
static void test_compare_scalars(void **state)
{
    struct config a, b;
    struct cfg_report rep, changes, refused;

    (void)state;
    assert_loaded(load(&a, &rep, "--workers", "2", "::1", "0", "d", NULL), &rep);
    assert_loaded(load(&b, &rep, "--workers", "4", "--io-timeout", "1m", "--autoindex",
                       "--access-log", "/x.log", "::1", "0", "e", NULL),
                  &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_report(&changes, "workers: 2 -> 4");
    assert_report(&changes, "io-timeout: 30 -> 60");
    assert_report(&changes, "autoindex: no -> yes");
    assert_report(&changes, "access-log: (unset) -> /x.log");
    assert_report(&changes, "directory: d -> e");
    assert_int_equal(changes.changes, 5);
    assert_int_equal(report_lines(&changes), 5);
    assert_empty(&refused);
    /* And back. */
    assert_int_equal(compare(&b, &a, &changes, &refused), 0);
    assert_report(&changes, "workers: 4 -> 2");
    assert_report(&changes, "access-log: /x.log -> (unset)");
    cfg_free(&b);
    assert_loaded(load(&b, &rep, "--workers", "2", "--max-children", "32", "--mode", "prefork",
                       "--user", "nobody", "--log-file", "/tmp/ferry.log", "--hub-max-upload", "1M",
                       "--hub-wire", "plain", "--backlog", "100", "--io-timeout", "5", "::1", "0",
                       "d", NULL),
                  &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 7);
    assert_report(&refused, "max-children: 64 -> 32 cannot change while ferryd runs (the "
                            "scoreboard is sized by it): restart it");
    assert_report(&refused, "mode: event -> prefork cannot change while ferryd runs (the pool is "
                            "built for it): restart it");
    assert_report(&refused, "user: (unset) -> nobody cannot change while ferryd runs (the master "
                            "gave up the right to choose): restart it");
    assert_report(&refused, "log-file: (unset) -> /tmp/ferry.log cannot change while ferryd "
                            "runs (reopen-logs reopens the same path): restart it");
    assert_report(&refused, "hub-max-upload: 67108864 -> 1048576 cannot change while ferryd "
                            "runs (the hub process runs on): restart it");
    assert_report(&refused, "hub-wire: (unset) -> plain cannot change while ferryd runs (the hub "
                            "process runs on): restart it");
    assert_report(&refused, "backlog: 511 -> 100 cannot change while ferryd runs (it is a "
                            "property of open listeners): restart it");
    assert_int_equal(refused.errors, 7);
    assert_report(&changes, "io-timeout: 30 -> 5"); /* still listed */
    assert_int_equal(changes.changes, 1);
    /* *refused is added to, not replaced: the count returned is this
     * comparison's; *changes starts afresh. */
    assert_int_equal(cfg_compare(&a, &b, &changes, &refused), 7);
    assert_int_equal(refused.errors, 14);
    assert_int_equal(report_lines(&refused), 14);
    assert_int_equal(changes.changes, 1);
    cfg_free(&a);
    cfg_free(&b);
}

/* Listeners: the workers' come and go ('+', '-'); the master's (metrics)
 * and the hub's are refused either way. A port 0 listener is the same
 * one across a reload. */
static void test_compare_listeners(void **state)
{
    struct config a, b;
    struct cfg_report rep, changes, refused;

    (void)state;
    assert_loaded(
        load(&a, &rep, "--listen", "http=[::1]:8080", "--listen", "native=127.0.0.1:0", "d", NULL),
        &rep);
    assert_loaded(
        load(&b, &rep, "--listen", "native=127.0.0.1:0", "--listen", "echo=[::1]:7007", "d", NULL),
        &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_report(&changes, "listen: - http=[::1]:8080");
    assert_report(&changes, "listen: + echo=[::1]:7007");
    assert_int_equal(changes.changes, 2);
    assert_empty(&refused);
    cfg_free(&b);
    /* The same address, another protocol: one out, one in. */
    assert_loaded(load(&b, &rep, "--listen", "native=[::1]:8080", "--listen", "native=127.0.0.1:0",
                       "d", NULL),
                  &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_report(&changes, "listen: - http=[::1]:8080");
    assert_report(&changes, "listen: + native=[::1]:8080");
    assert_int_equal(changes.changes, 2);
    cfg_free(&b);
    /* A metrics listener added: refused. */
    assert_loaded(load(&b, &rep, "--listen", "http=[::1]:8080", "--listen", "native=127.0.0.1:0",
                       "--listen", "metrics=127.0.0.1:9100", "d", NULL),
                  &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 1);
    assert_report(&refused, "listen: + metrics=127.0.0.1:9100: the metrics listeners cannot "
                            "change while ferryd runs: restart it");
    assert_int_equal(changes.changes, 0);
    /* ... and removed. */
    assert_int_equal(compare(&b, &a, &changes, &refused), 1);
    assert_report(&refused, "listen: - metrics=127.0.0.1:9100: the metrics listeners cannot "
                            "change while ferryd runs: restart it");
    cfg_free(&b);
    /* A hub added: refused (with the hub-db it needs, refused too). */
    assert_loaded(load(&b, &rep, "--listen", "http=[::1]:8080", "--listen", "native=127.0.0.1:0",
                       "--listen", "hub=127.0.0.1:0", "--hub-db", "h.db", "d", NULL),
                  &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 2);
    assert_report(&refused, "listen: + hub=127.0.0.1:0: the hub listeners cannot change while "
                            "ferryd runs: restart it");
    assert_report(&refused, "hub-db: (unset) -> h.db cannot change while ferryd runs (the hub "
                            "process runs on): restart it");
    cfg_free(&a);
    /* With a hub, the directory is fixed too. */
    assert_loaded(load(&a, &rep, "--listen", "http=[::1]:8080", "--listen", "native=127.0.0.1:0",
                       "--listen", "hub=127.0.0.1:0", "--hub-db", "h.db", "e", NULL),
                  &rep);
    assert_int_equal(compare(&b, &a, &changes, &refused), 1);
    assert_report(&refused, "directory: the hub process places uploads in it and runs on: restart "
                            "ferryd to change it");
    cfg_free(&a);
    cfg_free(&b);
}

/* Redirects and rules: a change in a list is listed (the count for
 * redirects, the section for rules), the same lists are not. */
static void test_compare_lists(void **state)
{
    struct config a, b;
    struct cfg_report rep, changes, refused;
    const char *f1 = conf("l1.conf", "directory = d\n"
                                     "[listen]\n"
                                     "http = [::1]:0\n"
                                     "native = [::1]:1\n"
                                     "[redirect]\n"
                                     "/a = /b\n"
                                     "[access]\n"
                                     "deny = 10.0.0.0/8\n"
                                     "[access http]\n"
                                     "allow = ::1\n");
    const char *f2 = conf("l2.conf", "directory = d\n"
                                     "[listen]\n"
                                     "http = [::1]:0\n"
                                     "native = [::1]:1\n"
                                     "[redirect]\n"
                                     "/a = /b\n"
                                     "/c = /d\n"
                                     "[access]\n"
                                     "deny = 10.0.0.0/8\n"
                                     "[access http]\n"
                                     "allow = ::1\n"
                                     "deny = all\n"
                                     "[access native]\n"
                                     "deny = all\n");
    const char *f3 = conf("l3.conf", "directory = d\n"
                                     "[listen]\n"
                                     "http = [::1]:0\n"
                                     "native = [::1]:1\n"
                                     "[redirect]\n"
                                     "/a = /x\n"
                                     "[access]\n"
                                     "deny = 10.0.0.0/16\n"
                                     "[access http]\n"
                                     "allow = ::1\n");

    (void)state;
    assert_loaded(load(&a, &rep, "-c", f1, NULL), &rep);
    assert_loaded(load(&b, &rep, "-c", f2, NULL), &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_report(&changes, "redirect: 1 -> 2 rule(s)");
    assert_report(&changes, "[access http]: the rules changed");
    assert_report(&changes, "[access native]: the rules changed");
    assert_int_equal(changes.changes, 3);
    assert_empty(&refused);
    cfg_free(&b);
    /* The same counts, other contents. */
    assert_loaded(load(&b, &rep, "-c", f3, NULL), &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_report(&changes, "redirect: 1 -> 1 rule(s)");
    assert_report(&changes, "[access]: the rules changed");
    assert_int_equal(changes.changes, 2);
    cfg_free(&b);
    /* The command line's --allow replaces every list: [access http] gone. */
    assert_loaded(load(&b, &rep, "-c", f1, "--deny", "10.0.0.0/8", NULL), &rep);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    assert_report(&changes, "[access http]: the rules changed");
    assert_int_equal(changes.changes, 1);
    cfg_free(&a);
    cfg_free(&b);
}

/* Long lists: a change at the end of 400 rules is a change too
 * (cfg_lists_differ() must not compare only a prefix). */
static void test_compare_long_lists(void **state)
{
    static char t1[32768], t2[32768];
    struct config a, b;
    struct cfg_report rep, changes, refused;
    size_t n1, n2;

    (void)state;
    n1 = n2 = (size_t)snprintf(t1, sizeof(t1),
                               "directory = d\n[listen]\nnative = [::1]:0\n"
                               "[access]\n");
    memcpy(t2, t1, n1);
    for (int i = 0; i < 400; i++) {
        n1 +=
            (size_t)snprintf(t1 + n1, sizeof(t1) - n1, "deny = 10.%d.%d.0/24\n", i / 256, i % 256);
        n2 += (size_t)snprintf(t2 + n2, sizeof(t2) - n2, "deny = 10.%d.%d.0/24\n", i / 256,
                               i < 399 ? i % 256 : 255);
    }
    assert_loaded(load(&a, &rep, "-c", conf("big1.conf", t1), NULL), &rep);
    assert_loaded(load(&b, &rep, "-c", conf("big2.conf", t2), NULL), &rep);
    assert_int_equal(a.acl.n, 400);
    assert_string_not_equal(a.acl.rules[399].text, b.acl.rules[399].text);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    cfg_free(&a);
    cfg_free(&b);
    assert_report(&changes, "[access]: the rules changed");
}

/* The same for 64 redirects of 150 characters, the last one's target
 * changed. */
static void test_compare_long_redirects(void **state)
{
    static char t1[32768], t2[32768];
    struct config a, b;
    struct cfg_report rep, changes, refused;
    size_t n1, n2;

    (void)state;
    n1 = n2 = (size_t)snprintf(t1, sizeof(t1),
                               "directory = d\n[listen]\nhttp = [::1]:0\n"
                               "[redirect]\n");
    memcpy(t2, t1, n1);
    for (int i = 0; i < HTTP_REDIRECTS_MAX; i++) {
        char to[160];

        memset(to, 'x', 140);
        to[140] = '\0';
        n1 += (size_t)snprintf(t1 + n1, sizeof(t1) - n1, "/r%d = /%s\n", i, to);
        if (i == HTTP_REDIRECTS_MAX - 1)
            to[0] = 'y';
        n2 += (size_t)snprintf(t2 + n2, sizeof(t2) - n2, "/r%d = /%s\n", i, to);
    }
    assert_loaded(load(&a, &rep, "-c", conf("red1.conf", t1), NULL), &rep);
    assert_loaded(load(&b, &rep, "-c", conf("red2.conf", t2), NULL), &rep);
    assert_int_equal(a.http.nredirects, HTTP_REDIRECTS_MAX);
    assert_int_equal(compare(&a, &b, &changes, &refused), 0);
    cfg_free(&a);
    cfg_free(&b);
    assert_report(&changes, "redirect: 64 -> 64 rule(s)");
}

/* cfg_move(): the configuration works from its new place, the old one
 * freed and scribbled over: redirects (from and http.redirects point
 * into the destination), rules, the file's strings; the source is spent. */
static void test_move(void **state)
{
    struct config *src = malloc(sizeof(*src)), dst;
    struct cfg_report rep;
    struct conn_env env;
    static const uint8_t protos[] = {PROTO_HTTP, PROTO_NATIVE};

    (void)state;
    assert_non_null(src);
    assert_loaded(load(src, &rep, "-c",
                       conf("move.conf", "access-log = /var/log/x.log\n"
                                         "directory = /srv\n"
                                         "[listen]\n"
                                         "http = [::1]:0\n"
                                         "native = [::1]:1\n"
                                         "[redirect]\n"
                                         "/a = /b\n"
                                         "/c = https://example.org/d\n"
                                         "[access]\n"
                                         "deny = 10.0.0.0/8\n"
                                         "[access http]\n"
                                         "allow = ::1\n"),
                       NULL),
                  &rep);
    memset(&dst, 0x5a, sizeof(dst));
    cfg_move(&dst, src);
    assert_null(src->strings);
    assert_null(src->acl.rules);
    assert_int_equal(src->http.nredirects, 0);
    memset(src, 0xa5, sizeof(*src));
    free(src);
    assert_int_equal(dst.http.nredirects, 2);
    assert_ptr_equal(dst.http.redirects, dst.redirects);
    for (size_t i = 0; i < 2; i++)
        assert_ptr_equal(dst.redirects[i].from, dst.redirect_from[i]);
    assert_string_equal(dst.http.redirects[0].from, "/a");
    assert_string_equal(dst.http.redirects[0].to, "/b");
    assert_string_equal(dst.http.redirects[1].from, "/c");
    assert_string_equal(dst.http.redirects[1].to, "https://example.org/d");
    assert_string_equal(dst.access_log, "/var/log/x.log");
    assert_string_equal(dst.directory, "/srv");
    assert_int_equal(dst.acl.n, 1);
    assert_string_equal(dst.acl.rules[0].text, "deny 10.0.0.0/8");
    env = cfg_conn_env(&dst, protos, 2);
    assert_ptr_equal(env.http, &dst.http);
    assert_ptr_equal(env.http->redirects, dst.redirects);
    assert_ptr_equal(env.acl[0], &dst.proto_acl[PROTO_HTTP]);
    assert_ptr_equal(env.acl[1], &dst.acl);
    cfg_free(&dst);
}

/* cfg_reload(): the same command line and file, read again: what the
 * file says now, what the command line says still over it; an invalid
 * file on disk refused with its line, a vanished one too. */
static void test_reload(void **state)
{
    struct config cur, next;
    struct cfg_report rep, changes, refused;
    const char *f = tmp_path("reload.conf");

    (void)state;
    conf("reload.conf", "workers = 2\n"
                        "io-timeout = 30\n"
                        "directory = /srv\n"
                        "[listen]\n"
                        "native = 127.0.0.1:0\n");
    assert_loaded(load(&cur, &rep, "-c", f, "--io-timeout", "7", NULL), &rep);
    assert_int_equal(cur.workers, 2);
    assert_int_equal(cur.io_timeout, 7);
    conf("reload.conf", "workers = 4\n"
                        "io-timeout = 60\n"
                        "directory = /srv\n"
                        "[listen]\n"
                        "native = 127.0.0.1:0\n"
                        "http = [::1]:0\n"
                        "[redirect]\n"
                        "/a = /b\n");
    assert_loaded(cfg_reload(&cur, &next, &rep), &rep);
    assert_string_equal(next.config_file, f);
    assert_int_equal(next.workers, 4);
    assert_int_equal(next.io_timeout, 7); /* the command line's, still */
    assert_int_equal(next.nlisten, 2);
    assert_int_equal(next.http.nredirects, 1);
    assert_int_equal(compare(&cur, &next, &changes, &refused), 0);
    assert_report(&changes, "workers: 2 -> 4");
    assert_report(&changes, "listen: + http=[::1]:0");
    assert_report(&changes, "redirect: 0 -> 1 rule(s)");
    assert_int_equal(changes.changes, 3);
    /* Taken: the next reload starts from it. */
    cfg_free(&cur);
    cfg_move(&cur, &next);
    assert_string_equal(cur.redirects[0].from, "/a");
    /* Now invalid on disk: refused, with the line; next freed by itself. */
    conf("reload.conf", "workers = 4\n"
                        "directory = /srv\n"
                        "max-children = lots\n"
                        "[listen]\n"
                        "native = 127.0.0.1:0\n");
    assert_int_equal(cfg_reload(&cur, &next, &rep), -EINVAL);
    assert_report(&rep, "%s:3: max-children: not a number: 'lots'", f);
    assert_int_equal(rep.errors, 1);
    assert_null(next.strings);
    /* Gone. */
    assert_int_equal(unlink(f), 0);
    assert_int_equal(cfg_reload(&cur, &next, &rep), -EINVAL);
    assert_int_equal(rep.errors, 1);
    assert_non_null(strstr(rep.text, "cannot read the configuration file"));
    /* The running configuration is untouched by the failures. */
    assert_int_equal(cur.workers, 4);
    assert_string_equal(cur.redirects[0].to, "/b");
    cfg_free(&cur);
}

/* An indented line is an entry of its own (cfgfile.h): indented
 * sections read as they look, and a bare value on a line is an error
 * where it is, not a value glued to the entry above. */
static void test_file_continuation_lines(void **state)
{
    struct config c;
    struct cfg_report rep;
    const char *f;

    (void)state;
    f = conf("cont.conf", "directory = /srv\n"
                          "[listen]\n"
                          "    http = [::1]:8080\n"
                          "    native = [::1]:9090\n"
                          "  ; an indented comment is a comment\n");
    assert_loaded(load(&c, &rep, "-c", f, NULL), &rep);
    assert_int_equal(c.nlisten, 2);
    assert_int_equal(c.listen[1].proto, PROTO_NATIVE);
    assert_string_equal(c.listen[1].port, "9090");
    cfg_free(&c);
    f = conf("cont.conf", "workers = 2\n"
                          "    4\n"
                          "directory = /srv\n"
                          "[listen]\n"
                          "http = [::1]:8080\n");
    assert_int_equal(load(&c, &rep, "-c", f, NULL), -EINVAL);
    assert_report(&rep,
                  "%s:2: not a 'key = value', a [section] or a comment (or longer than 199 "
                  "characters)",
                  f);
    assert_int_equal(rep.errors, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_anywhere_and_defaults),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_help_version_and_errors),
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_http_options),
        cmocka_unit_test(test_serve_hidden),
        cmocka_unit_test(test_allow_deny),
        cmocka_unit_test(test_max_requests),
        cmocka_unit_test(test_max_requests_limit),
        cmocka_unit_test(test_file_settings),
        cmocka_unit_test(test_file_flag_words),
        cmocka_unit_test(test_file_errors_top_level),
        cmocka_unit_test(test_file_errors_sections),
        cmocka_unit_test(test_file_unknown_access_section_once),
        cmocka_unit_test(test_file_many_errors),
        cmocka_unit_test(test_file_unreadable),
        cmocka_unit_test(test_file_unreadable_names_the_file),
        cmocka_unit_test(test_dangling_option_at_end),
        cmocka_unit_test(test_file_warnings),
        cmocka_unit_test(test_file_continuation_lines),
        cmocka_unit_test(test_precedence_scalars),
        cmocka_unit_test(test_precedence_lists),
        cmocka_unit_test(test_precedence_operands),
        cmocka_unit_test(test_test_only),
        cmocka_unit_test(test_acl_for),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_dump_round_trip_redirect_colon),
        cmocka_unit_test(test_dump_round_trip_long_value),
        cmocka_unit_test(test_compare_equal),
        cmocka_unit_test(test_compare_scalars),
        cmocka_unit_test(test_compare_listeners),
        cmocka_unit_test(test_compare_lists),
        cmocka_unit_test(test_compare_long_lists),
        cmocka_unit_test(test_compare_long_redirects),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
