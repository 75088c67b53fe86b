/* Unit tests for worker/http_date: the three formats, leap years, dates
 * past 2038 and 2106, the year 9999 edge, and a sweep against gmtime_r. */
#include "worker/http_date.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define NOW_2025 ((time_t)1748736000) /* 2025-06-01 */

static void assert_format(time_t t, const char *want)
{
    char out[HTTP_DATE_SIZE];

    assert_int_equal(http_date_format(t, out), 0);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), HTTP_DATE_LEN);
}

static time_t parse_ok(const char *s)
{
    time_t t = 0;

    if (http_date_parse(s, strlen(s), NOW_2025, &t) != 0)
        fail_msg("did not parse: \"%s\"", s);
    return t;
}

static void assert_invalid(const char *s)
{
    time_t t = 12345;

    if (http_date_parse(s, strlen(s), NOW_2025, &t) != -EINVAL)
        fail_msg("parsed: \"%s\"", s);
    assert_true(t == 12345);
}

static void test_format_known(void **state)
{
    (void)state;
    assert_format(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_format(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_format(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    assert_format(-2208988800, "Mon, 01 Jan 1900 00:00:00 GMT");
    assert_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_format(1709208000, "Thu, 29 Feb 2024 12:00:00 GMT");
    assert_format(4107542400 - 1, "Sun, 28 Feb 2100 23:59:59 GMT"); /* 2100 is not leap */
    assert_format(4107542400, "Mon, 01 Mar 2100 00:00:00 GMT");
}

static void test_format_2038_and_after(void **state)
{
    (void)state;
    assert_format(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    assert_format(2147483648, "Tue, 19 Jan 2038 03:14:08 GMT");
    assert_format(4294967296, "Sun, 07 Feb 2106 06:28:16 GMT");
}

static void test_format_range(void **state)
{
    char out[HTTP_DATE_SIZE];

    (void)state;
    assert_format(253402300799, "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_int_equal(http_date_format(253402300800, out), -ERANGE);
    assert_string_equal(out, "");
    assert_format(-62167219200, "Sat, 01 Jan 0000 00:00:00 GMT");
    assert_int_equal(http_date_format(-62167219201, out), -ERANGE);
    assert_int_equal(http_date_format((time_t)INT64_MAX, out), -ERANGE);
    assert_int_equal(http_date_format((time_t)INT64_MIN, out), -ERANGE);
}

static void test_parse_three_formats(void **state)
{
    (void)state;
    assert_true(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    assert_true(parse_ok("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    assert_true(parse_ok("Sun Nov  6 08:49:37 1994") == 784111777);
    assert_true(parse_ok("Sun Nov 06 08:49:37 1994") == 784111777);
    assert_true(parse_ok("Tuesday, 31-Dec-69 23:59:59 GMT") == 3155759999); /* 2069 */
    assert_true(parse_ok("Thu Jan  1 00:00:00 1970") == 0);
}

static void test_parse_leap_years(void **state)
{
    (void)state;
    assert_true(parse_ok("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    assert_true(parse_ok("Thu, 29 Feb 2024 12:00:00 GMT") == 1709208000);
    assert_true(parse_ok("Thu Feb 29 12:00:00 2024") == 1709208000);
    assert_invalid("Mon, 29 Feb 2100 00:00:00 GMT");
    assert_invalid("Sat, 29 Feb 2003 00:00:00 GMT");
    assert_invalid("Tue, 30 Feb 2000 00:00:00 GMT");
    assert_true(parse_ok("Mon, 01 Mar 2100 00:00:00 GMT") == 4107542400);
}

static void test_parse_2038_and_after(void **state)
{
    (void)state;
    assert_true(parse_ok("Tue, 19 Jan 2038 03:14:08 GMT") == 2147483648);
    assert_true(parse_ok("Sun, 07 Feb 2106 06:28:16 GMT") == 4294967296);
    assert_true(parse_ok("Fri, 31 Dec 9999 23:59:59 GMT") == 253402300799);
    assert_true(parse_ok("Tue Jan 19 03:14:08 2038") == 2147483648);
}

/* RFC 9110 §5.6.7: a two-digit year is at most 50 years ahead. */
static void test_parse_rfc850_century(void **state)
{
    time_t t;

    (void)state;
    assert_true(parse_ok("Thursday, 01-Jan-76 00:00:00 GMT") == 189302400); /* 1976 */
    assert_true(parse_ok("Tuesday, 01-Jan-30 00:00:00 GMT") == 1893456000); /* 2030 */
    assert_true(parse_ok("Tuesday, 01-Jan-75 00:00:00 GMT") == 3313526400); /* 2075: 50 ahead */
    /* From 2090, "94" is 2094; from 2099, "01" is 2101. */
    assert_int_equal(http_date_parse("Saturday, 06-Nov-94 08:49:37 GMT", 32, 3786912000, &t), 0);
    assert_true(t == 3939871777);
    assert_int_equal(http_date_parse("Saturday, 01-Jan-01 00:00:00 GMT", 32, 4083955200, &t), 0);
    assert_true(t == 4133980800);
}

static void test_parse_strict(void **state)
{
    static const char *const bad[] = {
        "",
        "Sun",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08.49.37 GMT",
        "Sun 06 Nov 1994 08:49:37 GMT",
        "Mon, 06 Nov 1994 08:49:37 GMT", /* the wrong day */
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:60:00 GMT",
        "Sun, 06 Nov 1994 23:59:60 GMT", /* no leap seconds in time_t */
        "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun, 06 Nov -994 08:49:37 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sundae, 06-Nov-94 08:49:37 GMT",
        "Monday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov   6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov  6 08:49:37 1994\n",
        "1994-11-06T08:49:37Z",
        "784111777",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_invalid(bad[i]);
}

/* No proper prefix of a valid date is one, and a NUL anywhere spoils it. */
static void test_parse_truncated_and_nul(void **state)
{
    static const char *const good[] = {"Sun, 06 Nov 1994 08:49:37 GMT",
                                       "Sunday, 06-Nov-94 08:49:37 GMT",
                                       "Sun Nov  6 08:49:37 1994"};
    time_t t;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(good[i]);
        char buf[40];
        for (size_t cut = 0; cut < n; cut++)
            assert_int_equal(http_date_parse(good[i], cut, NOW_2025, &t), -EINVAL);
        for (size_t j = 0; j < n; j++) {
            memcpy(buf, good[i], n);
            buf[j] = '\0';
            assert_int_equal(http_date_parse(buf, n, NOW_2025, &t), -EINVAL);
        }
    }
}

/* format and parse agree with each other and with the C library. */
static void test_sweep_against_gmtime(void **state)
{
    (void)state;
    for (int64_t v = -62167219200; v < 253402300800; v += 977777) {
        time_t t = (time_t)v, back = 0;
        struct tm tm;
        char out[HTTP_DATE_SIZE], want[64];
        assert_int_equal(http_date_format(t, out), 0);
        assert_non_null(gmtime_r(&t, &tm));
        snprintf(want, sizeof(want), "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT",
                 "SunMonTueWedThuFriSat" + 3 * tm.tm_wday, tm.tm_mday,
                 "JanFebMarAprMayJunJulAugSepOctNovDec" + 3 * tm.tm_mon, tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_string_equal(out, want);
        assert_int_equal(http_date_parse(out, HTTP_DATE_LEN, NOW_2025, &back), 0);
        assert_true(back == t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_2038_and_after),
        cmocka_unit_test(test_format_range),
        cmocka_unit_test(test_parse_three_formats),
        cmocka_unit_test(test_parse_leap_years),
        cmocka_unit_test(test_parse_2038_and_after),
        cmocka_unit_test(test_parse_rfc850_century),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_parse_truncated_and_nul),
        cmocka_unit_test(test_sweep_against_gmtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
