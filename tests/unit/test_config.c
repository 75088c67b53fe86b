/* Unit tests for master/config: ferryd's command line, driven through
 * cfg_parse() as main() calls it: options anywhere, durations, address
 * forms, help and version found by type, and the errors. */
#include "master/config.h"
#include "worker/tree.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
    assert_int_equal(cfg_conn_env(&c).tree_flags, 0);
    assert_int_equal(parse(&c, "::1", "0", "d", "--serve-hidden", NULL), 0);
    assert_true(c.serve_hidden);
    assert_int_equal(cfg_conn_env(&c).tree_flags, TREE_HIDDEN);
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
    assert_null(cfg_conn_env(&c).acl[0]);
    cfg_free(&c);
    assert_int_equal(parse(&c, "--deny", "127.0.0.1", "::1", "0", "--allow", "127.0.0.0/8",
                           "--deny", "::1", "d", "--allow", "all", NULL),
                     0);
    assert_int_equal(c.acl.n, 4);
    assert_string_equal(c.acl.rules[0].text, "deny 127.0.0.1");
    assert_string_equal(c.acl.rules[1].text, "allow 127.0.0.0/8");
    assert_string_equal(c.acl.rules[2].text, "deny ::1");
    assert_string_equal(c.acl.rules[3].text, "allow all");
    env = cfg_conn_env(&c);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
