/* Unit tests for common/name: a table of hostile and valid names. */
#include "common/name.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct name_case {
    const char *bytes;
    size_t len; /* 0: strlen(bytes) */
    bool valid;
    const char *why;
};

#define N(s, v, why)                                                                               \
    {                                                                                              \
        s, sizeof(s) - 1, v, why                                                                   \
    }

static const struct name_case name_cases[] = {
    N("hello.txt", true, "plain"),
    N("a", true, "one byte"),
    N("README", true, "no extension"),
    N("with space", true, "space is printable"),
    N(" leading-space", true, "leading space"),
    N("trailing-space ", true, "trailing space"),
    N("~", true, "tilde"),
    N("...", true, "three dots is a name"),
    N(".hidden", true, "dotfile"),
    N("..x", true, "dot-dot prefix"),
    N("x..", true, "dot-dot suffix"),
    N("a\\b", true, "backslash is not a separator here"),
    N("!\"#$%&'()*+,-.:;<=>?@[]^_`{|}", true, "punctuation"),
    N("", false, "empty"),
    N(".", false, "current directory"),
    N("..", false, "parent directory"),
    N("/", false, "root"),
    N("/etc/passwd", false, "absolute"),
    N("../etc/passwd", false, "traversal"),
    N("../../../../etc/shadow", false, "deep traversal"),
    N("a/b", false, "subdirectory"),
    N("a/", false, "trailing slash"),
    N("./a", false, "dot slash"),
    N("..\\/..", false, "mixed separators"),
    N("a\0b", false, "NUL inside"),
    N("\0", false, "NUL alone"),
    N("abc\0", false, "NUL at the end"),
    N("\x01", false, "SOH"),
    N("a\tb", false, "tab"),
    N("a\nb", false, "newline"),
    N("a\rb", false, "carriage return"),
    N("\x1b[31m", false, "escape sequence"),
    N("\x1f", false, "unit separator"),
    N("a\x7f", false, "DEL"),
    N("\x80", false, "first non-ASCII byte"),
    N("\xff", false, "0xff"),
    N("caf\xc3\xa9", false, "UTF-8 e-acute"),
    N("\xe2\x80\xae", false, "UTF-8 right-to-left override"),
    N("\xc0\xaf", false, "overlong UTF-8 slash"),
    N("%2e%2e", true, "percent-encoding is just text"),
    N("con", true, "no Windows reserved names here"),
};

static void test_name_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
        const struct name_case *c = &name_cases[i];
        if (name_valid(c->bytes, c->len) != c->valid)
            fail_msg("case %zu (%s): expected %s", i, c->why, c->valid ? "valid" : "invalid");
    }
}

/* The bounds: 255 bytes is the longest valid name, 256 is too long. */
static void test_name_length_bounds(void **state)
{
    char buf[300];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    assert_true(name_valid(buf, 255));
    assert_false(name_valid(buf, 256));
    assert_false(name_valid(buf, 300));
    assert_true(name_valid(buf, 1));
    assert_false(name_valid(buf, 0));
}

/* Every single byte, alone: exactly 0x20..0x7e minus '/' and '.' pass. */
static void test_name_every_byte(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        char c = (char)b;
        bool expect = b >= 0x20 && b <= 0x7e && b != '/' && b != '.';
        if (name_valid(&c, 1) != expect)
            fail_msg("byte 0x%02x: expected %s", b, expect ? "valid" : "invalid");
    }
}

/* Every control byte class, in the middle of an otherwise good name. */
static void test_name_control_bytes_inside(void **state)
{
    char buf[] = "abcXdef";

    (void)state;
    for (unsigned b = 0; b < 0x20; b++) {
        buf[3] = (char)b;
        assert_false(name_valid(buf, 7));
    }
    buf[3] = 0x7f;
    assert_false(name_valid(buf, 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_table),
        cmocka_unit_test(test_name_length_bounds),
        cmocka_unit_test(test_name_every_byte),
        cmocka_unit_test(test_name_control_bytes_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
