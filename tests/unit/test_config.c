/* Unit tests for master/config: ferryd's command line, driven through
 * cfg_parse() as main() calls it: options anywhere, durations, address
 * forms, help and version found by type, and the errors. */
#include "master/config.h"

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
    assert_string_equal(c.address, "127.0.0.1");
    assert_string_equal(c.port, "4242");
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
    assert_string_equal(c.address, "::1");
    assert_string_equal(c.port, "4242");
    assert_string_equal(c.directory, "dir");
    assert_int_equal(parse(&c, "[::1]", "0", "dir", NULL), 0);
    assert_string_equal(c.address, "::1");
    assert_string_equal(c.port, "0");
    assert_int_equal(parse(&c, "localhost:80", "dir", NULL), 0);
    assert_string_equal(c.address, "localhost");
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

static void test_mode_names(void **state)
{
    (void)state;
    assert_string_equal(cfg_mode_name(MODE_ITERATIVE), "iterative");
    assert_string_equal(cfg_mode_name(MODE_PREFORK), "prefork");
    assert_string_equal(cfg_mode_name((enum pool_mode)3), "unknown");
    assert_string_equal(cfg_mode_name((enum pool_mode) - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_anywhere_and_defaults),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_help_version_and_errors),
        cmocka_unit_test(test_mode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
