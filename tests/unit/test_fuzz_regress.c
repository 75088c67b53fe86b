/* Regression cases from the fuzzers (fuzz/, docs/FUZZING.md): each input
 * a fuzz target once failed on, minimised, with the answer it must get.
 * The admin cases go through a real admin socket in a temporary
 * directory, with stub pool operations: tests/unit/admin_fixture.h, as
 * test_admin.c's. */
#include "master/admin.h"
#include "tests/unit/admin_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* A failure's answer: {"ok": false, "schema": 1, "error": code, "message": text}. */
static void assert_failure(json_t *r, const char *code)
{
    const char *err = json_string_value(json_object_get(r, "error"));

    assert_non_null(r);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "schema")), 1);
    assert_non_null(err);
    assert_string_equal(err, code);
    assert_true(json_is_string(json_object_get(r, "message")));
}

/* fuzz_admin: "+N" past LLONG_MAX saturates strtoll(), and adding the
 * current target to it overflowed a long long (UBSan: signed integer
 * overflow in admin_workers_arg()); without UBSan it wrapped to a negative
 * count. It is out of range, and reported as the large number it is. */
static void test_admin_relative_workers_overflow(void **state)
{
    static const char line[] =
        "{\"cmd\":\"resize\",\"workers\":\"+19223372036854775807\",\"wait\":false}";
    struct admin_fixture *f = *state;
    json_t *r = admin_fixture_ask(f, line, sizeof(line) - 1);

    assert_failure(r, "out_of_range");
    assert_int_equal(f->stub.resized_to, 0); /* it never reached the pool */
    assert_null(strstr(json_string_value(json_object_get(r, "message")), "asked for -"));
    json_decref(r);
}

/* fuzz_admin: a bad_json answer quotes jansson's error text, which quotes
 * the request up to the bad byte, here cut inside the two-byte UTF-8
 * character U+0233: the message was not UTF-8, json_string() refused it,
 * and the answer went out without a "message". */
static void test_admin_bad_json_message_cut_utf8(void **state)
{
    static const char line[] = "\"\\\xc8\xb3";
    json_t *r = admin_fixture_ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "bad_json");
    json_decref(r);
}

/* fuzz_admin: "no command \"%.64s\"" cuts a long name after 64 bytes,
 * here inside "é" (0xC3 0xA9): the same missing "message". */
static void test_admin_unknown_command_message_cut_utf8(void **state)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "{\"cmd\":\"%.63s\xc3\xa9\"}",
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    json_t *r = admin_fixture_ask(*state, line, (size_t)n);

    assert_failure(r, "unknown_command");
    json_decref(r);
}

/* fuzz_admin's own list of commands had fallen behind the dispatch table
 * (no reload, config, upgrade) and took "reload" for unknown. The daemon
 * was right: without a reload operation (as in these stubs) it is
 * unsupported. The harness now asks the table. */
static void test_admin_reload_without_operation(void **state)
{
    static const char line[] = "{\"cmd\":\"reload\"}";
    json_t *r = admin_fixture_ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "unsupported");
    json_decref(r);
}

/* Command names are matched as C strings, which is sound only because
 * "\u0000" never parses (no JSON_ALLOW_NUL): "ping\u0000x" must not run
 * ping. */
static void test_admin_command_name_with_nul(void **state)
{
    static const char line[] = "{\"cmd\":\"ping\\u0000x\"}";
    json_t *r = admin_fixture_ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "bad_json");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ADMIN_FIXTURE_TEST(test_admin_relative_workers_overflow),
        ADMIN_FIXTURE_TEST(test_admin_bad_json_message_cut_utf8),
        ADMIN_FIXTURE_TEST(test_admin_unknown_command_message_cut_utf8),
        ADMIN_FIXTURE_TEST(test_admin_reload_without_operation),
        ADMIN_FIXTURE_TEST(test_admin_command_name_with_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
