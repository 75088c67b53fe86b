/* Unit tests for the small common modules: size, log escaping, addr. */
#include "common/addr.h"
#include "common/log.h"
#include "common/size.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_size_parse(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t out;
    } cases[] = {
        {"0", 0, 0},
        {"10485", 0, 10485},
        {"1K", 0, 1024},
        {"1k", 0, 1024},
        {"1M", 0, 1048576},
        {"10MB", 0, 10485760},
        {"2GiB", 0, 2147483648ULL},
        {"1T", 0, 1099511627776ULL},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"16777216T", -ERANGE, 0},
        {"", -EINVAL, 0},
        {"M", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"1X", -EINVAL, 0},
        {"1 M", -EINVAL, 0},
        {"1.5M", -EINVAL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = size_parse(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].out))
            fail_msg("size_parse(\"%s\") = %d, %llu", cases[i].in, rc, (unsigned long long)v);
    }
}

static void test_size_format(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(size_format(0, buf, sizeof(buf)), "0 B");
    assert_string_equal(size_format(1023, buf, sizeof(buf)), "1023 B");
    assert_string_equal(size_format(1024, buf, sizeof(buf)), "1.0 KiB");
    assert_string_equal(size_format(1536 * 1024, buf, sizeof(buf)), "1.5 MiB");
    assert_string_equal(size_format(UINT64_MAX, buf, sizeof(buf)), "16.0 EiB");
}

static void test_log_escape(void **state)
{
    char buf[64], tiny[8];

    (void)state;
    assert_string_equal(log_escape(buf, sizeof(buf), "plain.txt", 9), "plain.txt");
    assert_string_equal(log_escape(buf, sizeof(buf), "a\nb", 3), "a\\x0ab");
    assert_string_equal(log_escape(buf, sizeof(buf), "\x1b[1m", 4), "\\x1b[1m");
    assert_string_equal(log_escape(buf, sizeof(buf), "q\"\\", 3), "q\\x22\\x5c");
    assert_string_equal(log_escape(buf, sizeof(buf), "\0\xff", 2), "\\x00\\xff");
    assert_string_equal(log_escape(tiny, sizeof(tiny), "abcdefghij", 10), "abcd...");
    assert_string_equal(log_escape(tiny, sizeof(tiny), "\n\n", 2), "\\x0a...");
    assert_string_equal(log_escape(tiny, sizeof(tiny), "", 0), "");
}

static void test_log_levels(void **state)
{
    enum log_level l;

    (void)state;
    assert_int_equal(log_parse_level("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_parse_level("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_parse_level("verbose", &l), -EINVAL);
}

static void test_addr_format(void **state)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(12345)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    char buf[ADDR_STR_MAX];

    (void)state;
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    assert_string_equal(addr_format((struct sockaddr *)&v4, buf), "127.0.0.1:12345");
    assert_string_equal(addr_format((struct sockaddr *)&v6, buf), "[::1]:80");
    assert_int_equal(addr_port((struct sockaddr *)&v6), 80);
}

static void test_addr_resolve(void **state)
{
    struct addrinfo *res;

    (void)state;
    assert_int_equal(addr_resolve("127.0.0.1", "0", true, &res), 0);
    assert_int_equal(res->ai_family, AF_INET);
    freeaddrinfo(res);
    assert_int_equal(addr_resolve("::1", "9", true, &res), 0);
    assert_int_equal(res->ai_family, AF_INET6);
    freeaddrinfo(res);
    assert_int_not_equal(addr_resolve("127.0.0.1", "notaport", true, &res), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_parse),  cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_log_escape),  cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_addr_format), cmocka_unit_test(test_addr_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
