/* Unit tests for worker/http_cond: the ETag, If-None-Match, If-Modified-Since,
 * If-Range, and their order, on requests read by the real parser. */
#include "worker/http_cond.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MTIME  ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW    ((time_t)1748736000)
#define ETAG   "\"2ebc98a1.5-4d2\"" /* MTIME + 5 ns, 1234 bytes */
#define LM     "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER  "Sun, 06 Nov 1994 08:49:38 GMT"
#define FUTURE "Fri, 31 Dec 2100 00:00:00 GMT"
#define OTHER  "\"2ebc98a1.6-4d2\""

/* Parses "METHOD / HTTP/1.1" with fields, then evaluates it against ETAG and mtime. */
static enum http_cond_result eval_at(const char *method, const char *fields, time_t mtime,
                                     time_t now)
{
    char buf[1024];
    struct http_parser p;
    int n = snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: h\r\n%s\r\n", method, fields);

    http_parse_init(&p);
    assert_int_equal(http_parse(&p, buf, (size_t)n), HTTP_PARSE_DONE);
    return http_cond_eval(&p.req, buf, ETAG, strlen(ETAG), mtime, now);
}

static enum http_cond_result eval(const char *method, const char *fields)
{
    return eval_at(method, fields, MTIME, NOW);
}

static bool none_match(const char *v)
{
    return http_cond_none_match(v, strlen(v), ETAG, strlen(ETAG));
}

static bool if_range(const char *v, time_t now)
{
    return http_cond_if_range(v, strlen(v), ETAG, strlen(ETAG), MTIME, now);
}

static void test_etag_format(void **state)
{
    char out[HTTP_ETAG_SIZE];

    (void)state;
    assert_int_equal(http_etag_format(out, 1234, MTIME, 5), strlen(ETAG));
    assert_string_equal(out, ETAG);
    assert_int_equal(http_etag_format(out, 0, 0, 0), 7);
    assert_string_equal(out, "\"0.0-0\"");
    assert_int_equal(http_etag_format(out, UINT64_MAX, -1, 999999999), HTTP_ETAG_SIZE - 1);
    assert_string_equal(out, "\"ffffffffffffffff.3b9ac9ff-ffffffffffffffff\"");
}

/* Any change of size, second or nanosecond changes the ETag. */
static void test_etag_changes(void **state)
{
    char a[HTTP_ETAG_SIZE], b[HTTP_ETAG_SIZE];

    (void)state;
    http_etag_format(a, 1234, MTIME, 5);
    http_etag_format(b, 1235, MTIME, 5);
    assert_string_not_equal(a, b);
    http_etag_format(b, 1234, MTIME + 1, 5);
    assert_string_not_equal(a, b);
    http_etag_format(b, 1234, MTIME, 6);
    assert_string_not_equal(a, b);
    /* The separators keep the fields apart: 0x1.0x23 is not 0x12.0x3. */
    http_etag_format(a, 0, 0x1, 0x23);
    http_etag_format(b, 0, 0x12, 0x3);
    assert_string_not_equal(a, b);
}

static void test_none_match(void **state)
{
    (void)state;
    assert_true(none_match(ETAG));
    assert_true(none_match("*"));
    assert_true(none_match("\"x\", " ETAG ", \"y\""));
    assert_true(none_match("\"x\"," ETAG));
    assert_true(none_match(", ," ETAG ",,"));
    assert_true(none_match("\"a,b\", " ETAG)); /* a tag may hold a comma */
    assert_false(none_match(OTHER));
    assert_false(none_match("\"x\", \"y\""));
    assert_false(none_match(""));
    assert_false(none_match(","));
}

/* If-None-Match uses weak comparison (RFC 9110 §13.1.2). */
static void test_none_match_weak(void **state)
{
    (void)state;
    assert_true(none_match("W/" ETAG));
    assert_true(none_match("\"x\", W/" ETAG));
    assert_false(none_match("W/" OTHER));
    assert_false(none_match("w/" ETAG)); /* "W/" is case-sensitive */
}

/* A malformed value matches nothing, even next to a match. */
static void test_none_match_malformed(void **state)
{
    static const char *const bad[] = {
        "2ebc98a1.5-4d2",   ETAG " x", ETAG " " ETAG, "\"unclosed, " ETAG, "*, " ETAG,
        ETAG ", *",         "**",      "W/ " ETAG,    ETAG ";q=1",         "\"a\"b\", " ETAG,
        "\"a\x01\", " ETAG, "W/",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (none_match(bad[i]))
            fail_msg("matched: %s", bad[i]);
}

static void test_if_range_etag(void **state)
{
    (void)state;
    assert_true(if_range(ETAG, NOW));
    assert_false(if_range(OTHER, NOW));
    assert_false(if_range("W/" ETAG, NOW)); /* strong comparison */
    assert_false(if_range(ETAG ", " ETAG, NOW));
    assert_false(if_range("*", NOW));
    assert_false(if_range("", NOW));
    assert_false(if_range("\"2ebc98a1.5-4d2", NOW));
}

static void test_if_range_date(void **state)
{
    (void)state;
    assert_true(if_range(LM, NOW));
    assert_true(if_range("Sunday, 06-Nov-94 08:49:37 GMT", NOW));
    assert_true(if_range("Sun Nov  6 08:49:37 1994", NOW));
    assert_false(if_range(BEFORE, NOW)); /* exact match only */
    assert_false(if_range(AFTER, NOW));
    assert_false(if_range("Sun, 06 Nov 1994 08:49:37 GMT ", NOW));
    assert_false(if_range("yesterday", NOW));
    /* Modified in the second now: Last-Modified is weak (RFC 9110 §8.8.2.2). */
    assert_false(if_range(LM, MTIME));
    assert_true(if_range(LM, MTIME + 1));
    /* A date starting with W is a date, not a weak tag. */
    assert_true(
        http_cond_if_range("Wed, 31 Dec 1969 23:59:59 GMT", 29, ETAG, strlen(ETAG), -1, NOW));
}

static void test_eval_plain(void **state)
{
    (void)state;
    assert_int_equal(eval("GET", ""), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("HEAD", ""), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\n"), HTTP_COND_SEND_RANGE_OK);
}

static void test_eval_if_none_match(void **state)
{
    (void)state;
    assert_int_equal(eval("GET", "If-None-Match: " ETAG "\r\n"), HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("HEAD", "If-None-Match: W/" ETAG "\r\n"), HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("GET", "If-None-Match: *\r\n"), HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("GET", "If-None-Match: " OTHER "\r\n"), HTTP_COND_SEND_FULL);
    /* A 304 wins over a Range. */
    assert_int_equal(eval("GET", "If-None-Match: " ETAG "\r\nRange: bytes=0-1\r\n"),
                     HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("GET", "If-None-Match: " OTHER "\r\nRange: bytes=0-1\r\n"),
                     HTTP_COND_SEND_RANGE_OK);
}

static void test_eval_if_modified_since(void **state)
{
    (void)state;
    assert_int_equal(eval("GET", "If-Modified-Since: " LM "\r\n"), HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("GET", "If-Modified-Since: " AFTER "\r\n"), HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("HEAD", "If-Modified-Since: " LM "\r\n"), HTTP_COND_NOT_MODIFIED);
    assert_int_equal(eval("GET", "If-Modified-Since: " BEFORE "\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "If-Modified-Since: Sun Nov  6 08:49:37 1994\r\n"),
                     HTTP_COND_NOT_MODIFIED);
}

/* Unparsable or future dates are ignored (RFC 9110 §13.1.3). */
static void test_eval_if_modified_since_ignored(void **state)
{
    (void)state;
    assert_int_equal(eval("GET", "If-Modified-Since: " FUTURE "\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "If-Modified-Since: yesterday\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "If-Modified-Since: " LM ", " LM "\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "If-Modified-Since:\r\n"), HTTP_COND_SEND_FULL);
    /* Exactly now is not in the future. */
    assert_int_equal(eval_at("GET", "If-Modified-Since: " LM "\r\n", MTIME, MTIME),
                     HTTP_COND_NOT_MODIFIED);
}

/* If-None-Match present: If-Modified-Since is not looked at (RFC 9110 §13.1.3). */
static void test_eval_none_match_hides_modified_since(void **state)
{
    (void)state;
    assert_int_equal(eval("GET", "If-None-Match: " OTHER "\r\nIf-Modified-Since: " LM "\r\n"),
                     HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "If-Modified-Since: " LM "\r\nIf-None-Match: \"bad\r\n"),
                     HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "If-None-Match: " ETAG "\r\nIf-Modified-Since: " BEFORE "\r\n"),
                     HTTP_COND_NOT_MODIFIED);
}

static void test_eval_if_range(void **state)
{
    (void)state;
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\nIf-Range: " ETAG "\r\n"),
                     HTTP_COND_SEND_RANGE_OK);
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\nIf-Range: " OTHER "\r\n"),
                     HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\nIf-Range: W/" ETAG "\r\n"),
                     HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\nIf-Range: " LM "\r\n"),
                     HTTP_COND_SEND_RANGE_OK);
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\nIf-Range: " BEFORE "\r\n"),
                     HTTP_COND_SEND_FULL);
    assert_int_equal(eval("GET", "Range: bytes=0-1\r\nIf-Range: garbage\r\n"), HTTP_COND_SEND_FULL);
    /* If-Range without a Range changes nothing. */
    assert_int_equal(eval("GET", "If-Range: " OTHER "\r\n"), HTTP_COND_SEND_FULL);
}

/* Range applies to GET only (RFC 9110 §14.2); other methods skip everything. */
static void test_eval_methods(void **state)
{
    (void)state;
    assert_int_equal(eval("HEAD", "Range: bytes=0-1\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("HEAD", "Range: bytes=0-1\r\nIf-Range: " ETAG "\r\n"),
                     HTTP_COND_SEND_FULL);
    assert_int_equal(eval("POST", "If-None-Match: " ETAG "\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("DELETE", "If-Modified-Since: " LM "\r\n"), HTTP_COND_SEND_FULL);
    assert_int_equal(eval("PUT", "Range: bytes=0-1\r\n"), HTTP_COND_SEND_FULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_format),
        cmocka_unit_test(test_etag_changes),
        cmocka_unit_test(test_none_match),
        cmocka_unit_test(test_none_match_weak),
        cmocka_unit_test(test_none_match_malformed),
        cmocka_unit_test(test_if_range_etag),
        cmocka_unit_test(test_if_range_date),
        cmocka_unit_test(test_eval_plain),
        cmocka_unit_test(test_eval_if_none_match),
        cmocka_unit_test(test_eval_if_modified_since),
        cmocka_unit_test(test_eval_if_modified_since_ignored),
        cmocka_unit_test(test_eval_none_match_hides_modified_since),
        cmocka_unit_test(test_eval_if_range),
        cmocka_unit_test(test_eval_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
