/* Unit tests for the small common modules: size, duration, log escaping,
 * addr. */
#include "common/addr.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/size.h"
#include "common/text.h"

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
        {"007", 0, 7},
        {"1B", 0, 1},
        {"1b", 0, 1},
        /* A bare letter and the IEC names: powers of 1024, any case. */
        {"1K", 0, 1024},
        {"1k", 0, 1024},
        {"64K", 0, 65536},
        {"1KiB", 0, 1024},
        {"1kib", 0, 1024},
        {"1KIB", 0, 1024},
        {"1M", 0, 1048576},
        {"10M", 0, 10485760},
        {"10MiB", 0, 10485760},
        {"2GiB", 0, 2147483648ULL},
        {"2g", 0, 2147483648ULL},
        {"1T", 0, 1099511627776ULL},
        {"1TiB", 0, 1099511627776ULL},
        /* The SI names: powers of 1000, any case. */
        {"1KB", 0, 1000},
        {"1kB", 0, 1000},
        {"1kb", 0, 1000},
        {"64KB", 0, 64000},
        {"10MB", 0, 10000000},
        {"10mb", 0, 10000000},
        {"2GB", 0, 2000000000ULL},
        {"1TB", 0, 1000000000000ULL},
        /* The edges of 2^64-1. */
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551615B", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"99999999999999999999999", -ERANGE, 0},
        {"16777215T", 0, 16777215ULL << 40},
        {"16777216T", -ERANGE, 0},
        {"17179869183G", 0, 17179869183ULL << 30},
        {"17179869184G", -ERANGE, 0},
        {"18446744073709551KB", 0, 18446744073709551000ULL},
        {"18446744073709552KB", -ERANGE, 0},
        {"18446744073709MB", 0, 18446744073709000000ULL},
        {"18446744073710MB", -ERANGE, 0},
        {"18446744TB", 0, 18446744000000000000ULL},
        {"18446745TB", -ERANGE, 0},
        /* Not sizes. */
        {"", -EINVAL, 0},
        {"M", -EINVAL, 0},
        {"KB", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {"1X", -EINVAL, 0},
        {"1 M", -EINVAL, 0},
        {" 1M", -EINVAL, 0},
        {"1M ", -EINVAL, 0},
        {"1.5M", -EINVAL, 0},
        {"1Mi", -EINVAL, 0},
        {"1iB", -EINVAL, 0},
        {"1KBB", -EINVAL, 0},
        {"1BB", -EINVAL, 0},
        {"1P", -EINVAL, 0},
        {"1Mb/s", -EINVAL, 0},
        {"99999999999999999999999X", -EINVAL, 0}, /* the form is judged first */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = size_parse(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].out))
            fail_msg("size_parse(\"%s\") = %d, %llu", cases[i].in, rc, (unsigned long long)v);
    }
}

static void test_dur_parse(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t ms;
    } cases[] = {
        /* A bare number is seconds. */
        {"0", 0, 0},
        {"5", 0, 5000},
        {"30", 0, 30000},
        {"1.5", 0, 1500},
        {"0.001", 0, 1},
        {"0.0009", 0, 0}, /* rounded down to the millisecond */
        /* One unit. */
        {"5s", 0, 5000},
        {"0s", 0, 0},
        {"250ms", 0, 250},
        {"1.9ms", 0, 1},
        {"2m", 0, 120000},
        {"1.5m", 0, 90000},
        {"1h", 0, 3600000},
        {"0.25h", 0, 900000},
        {"1d", 0, 86400000},
        {"0.5d", 0, 43200000},
        {"0.000000001d", 0, 0},
        {"1.0000000000000000000001s", 0, 1000}, /* decimals past the ninth ignored */
        /* Several, as people write them. */
        {"1m30s", 0, 90000},
        {"1h30m", 0, 5400000},
        {"1d2h3m4s5ms", 0, 93784005},
        {"1s500ms", 0, 1500},
        /* The edge of 2^64-1 ms. */
        {"18446744073709551615ms", 0, UINT64_MAX},
        {"18446744073709551616ms", -ERANGE, 0},
        {"18446744073709551s", 0, 18446744073709551000ULL},
        {"18446744073709552s", -ERANGE, 0},
        {"18446744073709552", -ERANGE, 0},
        {"213503982334d", 0, 213503982334ULL * 86400000},
        {"213503982335d", -ERANGE, 0},
        {"18446744073709551615ms1ms", -ERANGE, 0},
        {"99999999999999999999999h", -ERANGE, 0},
        /* Not durations. */
        {"", -EINVAL, 0},
        {"s", -EINVAL, 0},
        {"ms", -EINVAL, 0},
        {"5x", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"-1s", -EINVAL, 0},
        {"+1s", -EINVAL, 0},
        {" 5s", -EINVAL, 0},
        {"5s ", -EINVAL, 0},
        {"5 s", -EINVAL, 0},
        {"5S", -EINVAL, 0},
        {"5M", -EINVAL, 0},
        {"5H", -EINVAL, 0},
        {"5sec", -EINVAL, 0},
        {"5min", -EINVAL, 0},
        {"5us", -EINVAL, 0},
        {"5w", -EINVAL, 0},
        {"1m30", -EINVAL, 0}, /* a unitless number only on its own */
        {"1.s", -EINVAL, 0},
        {".5s", -EINVAL, 0},
        {"1..5s", -EINVAL, 0},
        {"1.5.5s", -EINVAL, 0},
        {"1e3", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"5ss", -EINVAL, 0},
        {"5mss", -EINVAL, 0},
        {"99999999999999999999999x", -EINVAL, 0}, /* the form is judged first */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = dur_parse(cases[i].in, &v);
        if (rc != cases[i].rc || v != (rc == 0 ? cases[i].ms : 12345))
            fail_msg("dur_parse(\"%s\") = %d, %llu", cases[i].in, rc, (unsigned long long)v);
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
    /* What fits exactly is never cut; one byte more is. */
    assert_string_equal(log_escape(tiny, sizeof(tiny), "abcdefg", 7), "abcdefg");
    assert_string_equal(log_escape(tiny, sizeof(tiny), "abcdefgh", 8), "abcd...");
    assert_string_equal(log_escape(tiny, sizeof(tiny), "abc\n", 4), "abc\\x0a");
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
    /* The extremes of the hand-made IPv4 form, a scoped and a long IPv6. */
    inet_pton(AF_INET, "255.0.10.9", &v4.sin_addr);
    v4.sin_port = htons(65535);
    assert_string_equal(addr_format((struct sockaddr *)&v4, buf), "255.0.10.9:65535");
    inet_pton(AF_INET, "0.0.0.0", &v4.sin_addr);
    v4.sin_port = 0;
    assert_string_equal(addr_format((struct sockaddr *)&v4, buf), "0.0.0.0:0");
    inet_pton(AF_INET6, "fe80::1", &v6.sin6_addr);
    v6.sin6_scope_id = 2;
    assert_string_equal(addr_format((struct sockaddr *)&v6, buf), "[fe80::1%2]:80");
    inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &v6.sin6_addr);
    v6.sin6_scope_id = 4294967295u;
    v6.sin6_port = htons(65535);
    assert_string_equal(addr_format((struct sockaddr *)&v6, buf),
                        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
    v6.sin6_family = AF_UNIX;
    assert_string_equal(addr_format((struct sockaddr *)&v6, buf), "?");
}

/* The address alone, as the admin's peer filter compares it: no port,
 * no brackets; the same forms addr_format() prints otherwise. */
static void test_addr_format_host(void **state)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(12345)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    char buf[ADDR_STR_MAX];

    (void)state;
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    assert_ptr_equal(addr_format_host((struct sockaddr *)&v4, buf), buf);
    assert_string_equal(buf, "127.0.0.1");
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    assert_string_equal(addr_format_host((struct sockaddr *)&v6, buf), "::1");
    /* An IPv4-mapped address is its IPv4 one. */
    inet_pton(AF_INET6, "::ffff:10.0.0.7", &v6.sin6_addr);
    assert_string_equal(addr_format_host((struct sockaddr *)&v6, buf), "10.0.0.7");
    /* Colons inside the address stay; the scope too. */
    inet_pton(AF_INET6, "2001:db8::8:1", &v6.sin6_addr);
    v6.sin6_port = htons(65535);
    assert_string_equal(addr_format_host((struct sockaddr *)&v6, buf), "2001:db8::8:1");
    inet_pton(AF_INET6, "fe80::1", &v6.sin6_addr);
    v6.sin6_scope_id = 2;
    assert_string_equal(addr_format_host((struct sockaddr *)&v6, buf), "fe80::1%2");
    /* The longest form fits the same buffer. */
    inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &v6.sin6_addr);
    v6.sin6_scope_id = 4294967295u;
    assert_string_equal(addr_format_host((struct sockaddr *)&v6, buf),
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295");
    inet_pton(AF_INET, "0.0.0.0", &v4.sin_addr);
    v4.sin_port = 0;
    assert_string_equal(addr_format_host((struct sockaddr *)&v4, buf), "0.0.0.0");
    v6.sin6_family = AF_UNIX;
    assert_string_equal(addr_format_host((struct sockaddr *)&v6, buf), "?");
}

/* Whole seconds, as ferryd's and ferryctl's timeouts take them. */
static void test_dur_parse_s(void **state)
{
    uint64_t s = 7;

    (void)state;
    assert_int_equal(dur_parse_s("30", &s), 0);
    assert_int_equal(s, 30);
    assert_int_equal(dur_parse_s("1m30s", &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(dur_parse_s("2000ms", &s), 0);
    assert_int_equal(s, 2);
    assert_int_equal(dur_parse_s("1500ms", &s), -EINVAL);
    assert_int_equal(dur_parse_s("5x", &s), -EINVAL);
    assert_int_equal(s, 2); /* untouched on error */
}

/* A failure episode: reported at its start, then once per interval with
 * what was left out, ended once by a success, and the next one reported
 * at once. */
static void test_log_rl_episodes(void **state)
{
    struct log_rl rl = {.interval_ns = 1000};
    unsigned missed = 99, failures;
    double secs;

    (void)state;
    assert_false(log_rl_end(&rl, 0, &secs, &failures)); /* nothing failing */
    assert_true(log_rl_allow(&rl, 100, &missed));
    assert_int_equal(missed, 0);
    assert_false(log_rl_allow(&rl, 200, &missed));
    assert_false(log_rl_allow(&rl, 1099, &missed));
    assert_true(log_rl_allow(&rl, 1100, &missed));
    assert_int_equal(missed, 2);
    assert_true(log_rl_end(&rl, 2100, &secs, &failures));
    assert_int_equal(failures, 4);
    assert_float_equal(secs, 2000 / 1e9, 1e-12);
    assert_false(log_rl_end(&rl, 2200, &secs, &failures)); /* ended once */
    assert_true(log_rl_allow(&rl, 2300, &missed));         /* a new episode: at once */
    assert_int_equal(missed, 0);
}

/* text: numbers, fixed decimals, and cutting at the end of the buffer. */
static void test_text(void **state)
{
    char buf[16], tiny[4];
    struct text t;

    (void)state;
    text_init(&t, buf, sizeof(buf));
    text_u64(&t, 0);
    text_str(&t, " ");
    text_milli(&t, 12345);
    text_str(&t, " ");
    text_milli(&t, 7);
    assert_string_equal(buf, "0 12.345 0.007");
    assert_int_equal(t.len, strlen(buf));
    text_init(&t, buf, sizeof(buf));
    text_u64(&t, UINT64_MAX);
    assert_string_equal(buf, "184467440737095"); /* cut to fit, NUL kept */
    assert_int_equal(t.len, sizeof(buf) - 1);
    text_init(&t, tiny, sizeof(tiny));
    text_str(&t, "abcdef");
    text_u64_pad(&t, 5, 3);
    assert_string_equal(tiny, "abc");
    text_init(&t, buf, sizeof(buf));
    text_u64_pad(&t, 5, 3);
    text_u64_pad(&t, 1234, 2);
    assert_string_equal(buf, "0051234");
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

static void test_addr_split(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *host;
        int port;
    } cases[] = {
        {"localhost", 0, "localhost", -1},
        {"ferry.example.org", 0, "ferry.example.org", -1},
        {"1.2.3.4", 0, "1.2.3.4", -1},
        {"::1", 0, "::1", -1},
        {"::", 0, "::", -1},
        {"fe80::1%eth0", 0, "fe80::1%eth0", -1},
        {"2001:db8::1:80", 0, "2001:db8::1:80", -1}, /* bare IPv6: all host */
        {"[::1]", 0, "::1", -1},
        {"[::1]:80", 0, "::1", 80},
        {"[fe80::1%eth0]:8080", 0, "fe80::1%eth0", 8080},
        {"[1.2.3.4]:9", 0, "1.2.3.4", 9},
        {"host:80", 0, "host", 80},
        {"1.2.3.4:12345", 0, "1.2.3.4", 12345},
        {"h:0", 0, "h", 0},
        {"h:65535", 0, "h", 65535},
        {"h:00080", 0, "h", 80},
        {"[::1]:0", 0, "::1", 0},
        /* Malformed. */
        {"", -EINVAL, NULL, 0},
        {"[", -EINVAL, NULL, 0},
        {"[::1", -EINVAL, NULL, 0},
        {"[::1]x", -EINVAL, NULL, 0},
        {"[::1]:", -EINVAL, NULL, 0},
        {"[::1]:x", -EINVAL, NULL, 0},
        {"[::1]:80x", -EINVAL, NULL, 0},
        {"[::1]:65536", -EINVAL, NULL, 0},
        {"[::1]]:80", -EINVAL, NULL, 0},
        {"[[::1]]:80", -EINVAL, NULL, 0},
        {"[]", -EINVAL, NULL, 0},
        {"[]:80", -EINVAL, NULL, 0},
        {"::1]", -EINVAL, NULL, 0},
        {"::1]:80", -EINVAL, NULL, 0},
        {"a]b", -EINVAL, NULL, 0},
        {"a[b:80", -EINVAL, NULL, 0},
        {":80", -EINVAL, NULL, 0},
        {":", -EINVAL, NULL, 0},
        {"host:", -EINVAL, NULL, 0},
        {"host:http", -EINVAL, NULL, 0},
        {"host:-1", -EINVAL, NULL, 0},
        {"host:+80", -EINVAL, NULL, 0},
        {"host: 80", -EINVAL, NULL, 0},
        {"host:80 ", -EINVAL, NULL, 0},
        {"host:65536", -EINVAL, NULL, 0},
        {"host:99999999999999999999", -EINVAL, NULL, 0},
        {"1.2.3.4:8o", -EINVAL, NULL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[ADDR_HOST_MAX] = "untouched";
        int port = 12345;
        int rc = addr_split(cases[i].in, host, sizeof(host), &port);

        if (rc != cases[i].rc)
            fail_msg("addr_split(\"%s\") = %d, want %d", cases[i].in, rc, cases[i].rc);
        if (rc == 0 && (strcmp(host, cases[i].host) != 0 || port != cases[i].port))
            fail_msg("addr_split(\"%s\") = \"%s\" %d", cases[i].in, host, port);
        if (rc != 0 && (strcmp(host, "untouched") != 0 || port != 12345))
            fail_msg("addr_split(\"%s\") wrote on failure", cases[i].in);
    }
}

static void test_addr_split_lengths(void **state)
{
    char host[8], big[ADDR_HOST_MAX + 8];
    int port = -2;

    (void)state;
    assert_int_equal(addr_split("1234567", host, sizeof(host), &port), 0);
    assert_string_equal(host, "1234567");
    assert_int_equal(addr_split("12345678", host, sizeof(host), &port), -ENAMETOOLONG);
    assert_int_equal(addr_split("[1234567]:1", host, sizeof(host), &port), 0);
    assert_int_equal(port, 1);
    assert_int_equal(addr_split("[12345678]:1", host, sizeof(host), &port), -ENAMETOOLONG);
    /* A malformed argument is -EINVAL whatever its length. */
    assert_int_equal(addr_split("12345678:", host, sizeof(host), &port), -EINVAL);
    /* The longest host name there is fits in ADDR_HOST_MAX. */
    memset(big, 'a', 253);
    strcpy(big + 253, ":80");
    assert_int_equal(addr_split(big, host, sizeof(host), &port), -ENAMETOOLONG);
    {
        char h[ADDR_HOST_MAX];
        assert_int_equal(addr_split(big, h, sizeof(h), &port), 0);
        assert_int_equal(strlen(h), 253);
        assert_int_equal(port, 80);
    }
}

static void test_addr_port_parse(void **state)
{
    (void)state;
    assert_int_equal(addr_port_parse("0"), 0);
    assert_int_equal(addr_port_parse("80"), 80);
    assert_int_equal(addr_port_parse("65535"), 65535);
    assert_int_equal(addr_port_parse("0065535"), 65535);
    assert_int_equal(addr_port_parse("65536"), -EINVAL);
    assert_int_equal(addr_port_parse("4294967376"), -EINVAL); /* 2^32 + 80 */
    assert_int_equal(addr_port_parse(""), -EINVAL);
    assert_int_equal(addr_port_parse("-1"), -EINVAL);
    assert_int_equal(addr_port_parse("+1"), -EINVAL);
    assert_int_equal(addr_port_parse("http"), -EINVAL);
    assert_int_equal(addr_port_parse("80 "), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_parse),      cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_log_escape),      cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_addr_format),     cmocka_unit_test(test_addr_format_host),
        cmocka_unit_test(test_addr_resolve),    cmocka_unit_test(test_dur_parse),
        cmocka_unit_test(test_addr_split),      cmocka_unit_test(test_addr_split_lengths),
        cmocka_unit_test(test_addr_port_parse), cmocka_unit_test(test_text),
        cmocka_unit_test(test_dur_parse_s),     cmocka_unit_test(test_log_rl_episodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
