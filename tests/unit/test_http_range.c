/* Unit tests for worker/http_range: every form of range-spec, every way to
 * be unsatisfiable or invalid, numbers past 2^64, files past 4 GiB. */
#include "worker/http_range.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define GIB (UINT64_C(1) << 30)

struct range_case {
    const char *value;
    uint64_t size;
    enum http_range_result want;
    uint64_t first, last; /* when HTTP_RANGE_OK */
};

static void run(const struct range_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct http_range r = {UINT64_C(0xdead), UINT64_C(0xbeef)};
        enum http_range_result got =
            http_range_parse(cases[i].value, strlen(cases[i].value), cases[i].size, &r);
        if (got != cases[i].want)
            fail_msg("%s (size %llu): %d, want %d", cases[i].value,
                     (unsigned long long)cases[i].size, got, cases[i].want);
        if (got != HTTP_RANGE_OK)
            continue;
        assert_true(r.first == cases[i].first);
        assert_true(r.last == cases[i].last);
        assert_true(r.first <= r.last && r.last < cases[i].size);
    }
}

#define RUN(cases) run(cases, sizeof(cases) / sizeof(cases[0]))

static void test_int_range(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=0-0", 100, HTTP_RANGE_OK, 0, 0},       {"bytes=0-99", 100, HTTP_RANGE_OK, 0, 99},
        {"bytes=10-20", 100, HTTP_RANGE_OK, 10, 20},   {"bytes=99-99", 100, HTTP_RANGE_OK, 99, 99},
        {"bytes=50-1000", 100, HTTP_RANGE_OK, 50, 99}, /* clamped */
        {"bytes=0-100", 100, HTTP_RANGE_OK, 0, 99},    {"bytes=007-010", 100, HTTP_RANGE_OK, 7, 10},
    };

    (void)state;
    RUN(cases);
}

static void test_open_range(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=0-", 100, HTTP_RANGE_OK, 0, 99},
        {"bytes=42-", 100, HTTP_RANGE_OK, 42, 99},
        {"bytes=99-", 100, HTTP_RANGE_OK, 99, 99},
        {"bytes=0-", 1, HTTP_RANGE_OK, 0, 0},
    };

    (void)state;
    RUN(cases);
}

static void test_suffix_range(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=-1", 100, HTTP_RANGE_OK, 99, 99},
        {"bytes=-10", 100, HTTP_RANGE_OK, 90, 99},
        {"bytes=-100", 100, HTTP_RANGE_OK, 0, 99},
        {"bytes=-500", 100, HTTP_RANGE_OK, 0, 99}, /* more than the file: all of it */
        {"bytes=-1", 1, HTTP_RANGE_OK, 0, 0},
    };

    (void)state;
    RUN(cases);
}

static void test_unsatisfiable(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=100-", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=100-200", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=1000-", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-000", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-0", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=100-,200-300,-0", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    };

    (void)state;
    RUN(cases);
}

/* RFC 9110 §14.1.1 calls "-n" satisfiable for an empty file, but no
 * Content-Range can say so: the field is ignored and the empty file sent. */
static void test_suffix_of_empty_file(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=-1", 0, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=-5, 0-", 0, HTTP_RANGE_IGNORE, 0, 0},
    };

    (void)state;
    RUN(cases);
}

static void test_several_ranges(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=0-1,5-6", 100, HTTP_RANGE_MULTI, 0, 0},
        {"bytes=0-0,-1", 100, HTTP_RANGE_MULTI, 0, 0},
        {"bytes=0-99,0-99", 100, HTTP_RANGE_MULTI, 0, 0},
        {"bytes=1-2, 3-4 ,\t5-6", 100, HTTP_RANGE_MULTI, 0, 0},
        /* Only one of them is satisfiable: served alone. */
        {"bytes=200-300,5-6", 100, HTTP_RANGE_OK, 5, 6},
        {"bytes=5-6,-0", 100, HTTP_RANGE_OK, 5, 6},
        /* Empty list elements are allowed (RFC 9110 §5.6.1.2). */
        {"bytes=,0-1,", 100, HTTP_RANGE_OK, 0, 1},
        {"bytes= 0-1", 100, HTTP_RANGE_OK, 0, 1},
    };

    (void)state;
    RUN(cases);
}

static void test_invalid_ignored(void **state)
{
    static const struct range_case cases[] = {
        {"", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=,", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=-", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=5", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=a-b", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=5-3", 100, HTTP_RANGE_IGNORE, 0, 0}, /* last before first */
        {"bytes=1-2-3", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=--5", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=+1-2", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=1 -2", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=1- 2", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=0x10-", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes =0-1", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes:0-1", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=0-1;2-3", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=0-1,x", 100, HTTP_RANGE_IGNORE, 0, 0}, /* one bad spec spoils the field */
        {"bytes=200-,5-3", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=5-3", 0, HTTP_RANGE_IGNORE, 0, 0},
    };

    (void)state;
    RUN(cases);
}

static void test_other_units(void **state)
{
    static const struct range_case cases[] = {
        {"items=0-1", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"byte=0-1", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytesx=0-1", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"none", 100, HTTP_RANGE_IGNORE, 0, 0},
        /* Range units are case-insensitive (RFC 9110 §14.1). */
        {"BYTES=0-1", 100, HTTP_RANGE_OK, 0, 1},
        {"Bytes=2-", 100, HTTP_RANGE_OK, 2, 99},
    };

    (void)state;
    RUN(cases);
}

/* Numbers past 2^64-1 are read exactly, never wrapped. */
static void test_huge_numbers(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=99999999999999999999999-", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=18446744073709551616-", UINT64_MAX, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=18446744073709551615-", UINT64_MAX, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-99999999999999999999999", 100, HTTP_RANGE_OK, 0, 99},
        {"bytes=-99999999999999999999999", 100, HTTP_RANGE_OK, 0, 99},
        {"bytes=-18446744073709551616", 100, HTTP_RANGE_OK, 0, 99},
        {"bytes=18446744073709551614-18446744073709551615", UINT64_MAX, HTTP_RANGE_OK,
         UINT64_MAX - 1, UINT64_MAX - 1},
        {"bytes=5-18446744073709551616", 100, HTTP_RANGE_OK, 5, 99},
        /* Both past 2^64: still compared exactly. */
        {"bytes=99999999999999999999-99999999999999999998", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=99999999999999999998-099999999999999999999", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=99999999999999999999-99999999999999999999", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=100000000000000000000-99999999999999999999", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=18446744073709551616-5", 100, HTTP_RANGE_IGNORE, 0, 0},
        {"bytes=00000000000000000000000000005-6", 100, HTTP_RANGE_OK, 5, 6},
    };

    (void)state;
    RUN(cases);
}

static void test_large_files(void **state)
{
    static const struct range_case cases[] = {
        {"bytes=4294967296-", 5 * GIB, HTTP_RANGE_OK, 4 * GIB, 5 * GIB - 1},
        {"bytes=4294967295-4294967296", 5 * GIB, HTTP_RANGE_OK, 4 * GIB - 1, 4 * GIB},
        {"bytes=-1", 5 * GIB, HTTP_RANGE_OK, 5 * GIB - 1, 5 * GIB - 1},
        {"bytes=-4294967297", 5 * GIB, HTTP_RANGE_OK, GIB - 1, 5 * GIB - 1},
        {"bytes=5368709120-", 5 * GIB, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5368709119-", 5 * GIB, HTTP_RANGE_OK, 5 * GIB - 1, 5 * GIB - 1},
        {"bytes=0-", UINT64_MAX, HTTP_RANGE_OK, 0, UINT64_MAX - 1},
        {"bytes=-18446744073709551615", UINT64_MAX, HTTP_RANGE_OK, 0, UINT64_MAX - 1},
        {"bytes=1099511627776-1099511627777", 2048 * GIB, HTTP_RANGE_OK, 1024 * GIB,
         1024 * GIB + 1},
    };

    (void)state;
    RUN(cases);
}

/* A long list costs time in proportion, and never multipart. */
static void test_many_ranges(void **state)
{
    static char v[8192];
    size_t n = (size_t)snprintf(v, sizeof(v), "bytes=0-0");
    struct http_range r;

    (void)state;
    while (n + 6 < sizeof(v))
        n += (size_t)snprintf(v + n, sizeof(v) - n, ",1-1");
    assert_int_equal(http_range_parse(v, n, 100, &r), HTTP_RANGE_MULTI);
    assert_int_equal(http_range_parse(v, n, 1, &r), HTTP_RANGE_OK);
    assert_true(r.first == 0 && r.last == 0);
}

static void test_length(void **state)
{
    struct http_range r = {10, 20};

    (void)state;
    assert_true(http_range_length(&r) == 11);
    r = (struct http_range){0, UINT64_MAX - 1};
    assert_true(http_range_length(&r) == UINT64_MAX);
}

static void test_content_range(void **state)
{
    char out[HTTP_CONTENT_RANGE_SIZE];
    struct http_range r = {0, 99};

    (void)state;
    assert_int_equal(http_range_content_range(out, &r, 1000), 15);
    assert_string_equal(out, "bytes 0-99/1000");
    assert_int_equal(http_range_content_range(out, NULL, 1000), 12);
    assert_string_equal(out, "bytes */1000");
    r = (struct http_range){UINT64_MAX - 1, UINT64_MAX - 1};
    assert_int_equal(http_range_content_range(out, &r, UINT64_MAX), HTTP_CONTENT_RANGE_SIZE - 1);
    assert_string_equal(out,
                        "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_range),
        cmocka_unit_test(test_open_range),
        cmocka_unit_test(test_suffix_range),
        cmocka_unit_test(test_unsatisfiable),
        cmocka_unit_test(test_suffix_of_empty_file),
        cmocka_unit_test(test_several_ranges),
        cmocka_unit_test(test_invalid_ignored),
        cmocka_unit_test(test_other_units),
        cmocka_unit_test(test_huge_numbers),
        cmocka_unit_test(test_large_files),
        cmocka_unit_test(test_many_ranges),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_content_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
