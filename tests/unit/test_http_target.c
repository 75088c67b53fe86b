/* Unit tests for worker/http_target: decoding, normalisation, every
 * traversal trick we know of, and the two encoders. */
#include "worker/http_target.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define REJECT NULL

/* Asserts that name is a relative path strictly beneath the root: no
 * leading '/', no empty, "." or ".." segment, no NUL inside. */
static void assert_beneath(const char *name, size_t len)
{
    size_t start = 0;

    assert_int_equal(strlen(name), len);
    if (len == 0)
        return;
    assert_true(name[0] != '/');
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/')
            continue;
        assert_true(i > start);
        assert_false(i - start == 1 && name[start] == '.');
        assert_false(i - start == 2 && name[start] == '.' && name[start + 1] == '.');
        start = i + 1;
    }
}

/* Decodes in; want is the decoded name, or REJECT for -EINVAL. */
static void check(const char *in, const char *want)
{
    char out[256];
    struct http_path res;
    int rc = http_target_decode(in, strlen(in), out, sizeof(out), &res);

    if (want == REJECT) {
        assert_int_equal(rc, -EINVAL);
        assert_string_equal(out, "");
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(res.len, strlen(want));
    assert_string_equal(out, want);
    assert_beneath(out, res.len);
}

static const struct {
    const char *in;
    const char *want;
} traversals[] = {
    {"/../etc/passwd", REJECT},
    {"/..", REJECT},
    {"/../", REJECT},
    {"/%2e%2e/etc/passwd", REJECT},
    {"/%2E%2E%2Fetc%2Fpasswd", REJECT},
    {"/..%2fetc", REJECT},
    {"/..%2F", REJECT},
    {"/a/../../etc", REJECT},
    {"/a/..", REJECT},
    {"/a/b/../c", REJECT}, /* refused even though it stays inside */
    {"/.%2e/", REJECT},
    {"/%2e./x", REJECT},
    {"/%2e%2e", REJECT},
    {"//../x", REJECT},
    {"/./../x", REJECT},
    {"/%2f..%2f", REJECT},
    {"/x/%2e%2e%2f%2e%2e%2fetc", REJECT},
    {"/a/./../b", REJECT},
    {"/a/%2E%2e", REJECT},
    {"/a/.%2E/", REJECT},
    {"/%00../x", REJECT},
    {"/..%00/", REJECT},
    {"/a%00.html", REJECT},
    {"/%%32%65%%32%65/", REJECT}, /* "%%32" is not an escape */
    {"/%u002e%u002e/", REJECT},
    {"/\t../", REJECT},
    {"/%0a../", REJECT},
    {"relative/../x", REJECT},
    {"%2e%2e/x", REJECT},
    {"%2Fetc/passwd", REJECT},     /* must start with a raw '/' */
    {"/%252e%252e/x", "%2e%2e/x"}, /* decoded once: a literal name */
    {"/%252e%252e%252fetc", "%2e%2e%2fetc"},
    {"/.%252e/", ".%2e"},
    {"/%c0%ae%c0%ae/etc", "\xc0\xae\xc0\xae/etc"}, /* overlong UTF-8 is not a dot */
    {"/%c0%af", "\xc0\xaf"},
    {"/..%c0%af", "..\xc0\xaf"},
    {"/..%ef%bc%8f", "..\xef\xbc\x8f"}, /* U+FF0F FULLWIDTH SOLIDUS */
    {"/..\\..\\etc", "..\\..\\etc"},    /* a backslash is a byte like any other */
    {"/%5c..%5c", "\\..\\"},
    {"/%2e%2e%5c", "..\\"},
    {"/..;/x", "..;/x"},
    {"/%2e%2e;/x", "..;/x"},
    {"/...", "..."},
    {"/.../x", ".../x"},
    {"/..a/a..", "..a/a.."},
    {"/. ./", ". ."},
    {"/.hidden", ".hidden"}, /* the handler decides about dotfiles */
    {"/%2e", ""},
    {"/%2f%2f", ""},
    {"/./././", ""},
};

static void test_traversals(void **state)
{
    (void)state;
    assert_true(sizeof(traversals) / sizeof(traversals[0]) >= 30);
    for (size_t i = 0; i < sizeof(traversals) / sizeof(traversals[0]); i++)
        check(traversals[i].in, traversals[i].want);
}

/* Every traversal with its dots and slashes upper-cased, lower-cased or raw
 * stays refused or beneath the root. */
static void test_traversals_any_case(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(traversals) / sizeof(traversals[0]); i++) {
        char in[128], out[256];
        struct http_path res;
        size_t n = strlen(traversals[i].in);
        int rc;

        memcpy(in, traversals[i].in, n + 1);
        for (size_t j = 0; j < n; j++)
            if (in[j] >= 'a' && in[j] <= 'f')
                in[j] = (char)(in[j] - 32);
        rc = http_target_decode(in, n, out, sizeof(out), &res);
        assert_int_equal(rc, traversals[i].want == REJECT ? -EINVAL : 0);
        if (rc == 0)
            assert_beneath(out, res.len);
    }
}

static void test_root(void **state)
{
    char out[8];
    struct http_path res;

    (void)state;
    assert_int_equal(http_target_decode("/", 1, out, sizeof(out), &res), 0);
    assert_string_equal(out, "");
    assert_int_equal(res.len, 0);
    assert_true(res.is_dir);
    /* An absolute-form target without a path. */
    assert_int_equal(http_target_decode("", 0, out, sizeof(out), &res), 0);
    assert_string_equal(out, "");
    assert_true(res.is_dir);
    assert_int_equal(http_target_decode("//", 2, out, 1, &res), 0);
    assert_true(res.is_dir);
}

static void test_plain_paths(void **state)
{
    char out[64];
    struct http_path res;

    (void)state;
    check("/a/b/ref.html", "a/b/ref.html");
    http_target_decode("/a/b/ref.html", 13, out, sizeof(out), &res);
    assert_false(res.is_dir);
    check("/a//b///c/", "a/b/c");
    http_target_decode("/a//b///c/", 10, out, sizeof(out), &res);
    assert_true(res.is_dir);
    check("/a/./b/.", "a/b");
    http_target_decode("/a/./b/.", 8, out, sizeof(out), &res);
    assert_true(res.is_dir);
    check("/a/b%2F", "a/b");
    http_target_decode("/a/b%2F", 7, out, sizeof(out), &res);
    assert_true(res.is_dir);
    check("/ab", "ab");
    check("/a/bc/d", "a/bc/d");
}

static void test_percent_decoding(void **state)
{
    (void)state;
    check("/%41", "A");
    check("/%4a%4A", "JJ");
    check("/a%20b", "a b");
    check("/%7e%25", "~%");
    check("/caf%C3%A9", "caf\xc3\xa9");
    check("/%80%ff", "\x80\xff");
    check("/%3f%23", "?#");
}

static void test_bad_escapes(void **state)
{
    static const char *const bad[] = {"/%zz", "/%4", "/%", "/%4g", "/%g4", "/a%", "/%%", "/%-1"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check(bad[i], REJECT);
}

static void test_control_bytes(void **state)
{
    char in[8];

    (void)state;
    for (unsigned c = 0; c < 0x20; c++) {
        char out[8];
        struct http_path res;
        snprintf(in, sizeof(in), "/%%%02x", c);
        assert_int_equal(http_target_decode(in, 4, out, sizeof(out), &res), -EINVAL);
        in[1] = (char)c;
        assert_int_equal(http_target_decode(in, 2, out, sizeof(out), &res), -EINVAL);
    }
    check("/%7f", REJECT);
    check("/%7F", REJECT);
    check("/\x7f", REJECT);
}

static void test_size_limit(void **state)
{
    char out[8];
    struct http_path res;

    (void)state;
    assert_int_equal(http_target_decode("/abcdefg", 8, out, 8, &res), 0);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(http_target_decode("/abcdefgh", 9, out, 8, &res), -ENAMETOOLONG);
    assert_string_equal(out, "");
    assert_int_equal(res.len, 0);
    assert_int_equal(http_target_decode("/abc/defg", 9, out, 8, &res), -ENAMETOOLONG);
    assert_int_equal(http_target_decode("/abc/def", 8, out, 8, &res), 0);
    /* Dropped segments need no room, even on the way. */
    assert_int_equal(http_target_decode("/a/.", 4, out, 2, &res), 0);
    assert_string_equal(out, "a");
    assert_int_equal(http_target_decode("/././/./a/./", 12, out, 2, &res), 0);
    assert_string_equal(out, "a");
    /* Escapes count once decoded. */
    assert_int_equal(http_target_decode("/%41%42%43%44%45%46%47", 22, out, 8, &res), 0);
    assert_string_equal(out, "ABCDEFG");
    assert_int_equal(http_target_decode("/", 1, out, 0, &res), -ENAMETOOLONG);
    assert_int_equal(http_target_decode("/", 1, out, 1, &res), 0);
    assert_int_equal(http_target_decode("/a", 2, out, 1, &res), -ENAMETOOLONG);
}

/* An error after bytes were written still leaves out empty. */
static void test_error_clears_output(void **state)
{
    char out[32];
    struct http_path res;

    (void)state;
    memset(out, 'x', sizeof(out));
    assert_int_equal(http_target_decode("/abcdef/..", 10, out, sizeof(out), &res), -EINVAL);
    assert_string_equal(out, "");
    assert_false(res.is_dir);
}

static void test_escape_html(void **state)
{
    char out[64];
    size_t n;

    (void)state;
    assert_int_equal(http_target_escape_html("a<b>&\"c'", 8, out, sizeof(out), &n), 0);
    assert_string_equal(out, "a&lt;b&gt;&amp;&quot;c&#39;");
    assert_int_equal(n, strlen(out));
    assert_int_equal(http_target_escape_html("caf\xc3\xa9 %2e", 9, out, sizeof(out), &n), 0);
    assert_string_equal(out, "caf\xc3\xa9 %2e");
    assert_int_equal(http_target_escape_html("", 0, out, sizeof(out), &n), 0);
    assert_string_equal(out, "");
    assert_int_equal(http_target_escape_html("<", 1, out, 5, &n), 0);
    assert_string_equal(out, "&lt;");
    assert_int_equal(http_target_escape_html("<", 1, out, 4, &n), -ENOSPC);
    assert_string_equal(out, "");
    assert_int_equal(n, 0);
    assert_int_equal(http_target_escape_html("", 0, out, 0, &n), -ENOSPC);
}

static void test_encode(void **state)
{
    char out[128];
    size_t n;

    (void)state;
    assert_int_equal(http_target_encode("a-Z_9.~/b", 9, out, sizeof(out), &n), 0);
    assert_string_equal(out, "a-Z_9.~/b");
    assert_int_equal(http_target_encode("a b%?#&\"<'", 10, out, sizeof(out), &n), 0);
    assert_string_equal(out, "a%20b%25%3F%23%26%22%3C%27");
    assert_int_equal(n, strlen(out));
    assert_int_equal(http_target_encode("caf\xc3\xa9\x01\x7f\xff", 8, out, sizeof(out), &n), 0);
    assert_string_equal(out, "caf%C3%A9%01%7F%FF");
    assert_int_equal(http_target_encode("\\;:@+,=", 7, out, sizeof(out), &n), 0);
    assert_string_equal(out, "%5C%3B%3A%40%2B%2C%3D");
    assert_int_equal(http_target_encode(" ", 1, out, 4, &n), 0);
    assert_int_equal(http_target_encode(" ", 1, out, 3, &n), -ENOSPC);
    assert_string_equal(out, "");
}

/* What encode writes, decode reads back: the href of a name finds it. */
static void test_encode_decode_roundtrip(void **state)
{
    static const char *const names[] = {"a b", "100%", "x?y#z", "caf\xc3\xa9", "%2e%2e",
                                        "..a", "\\",   "a&b",   "[1]",         "\x80\xff"};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char href[64] = "/", back[64];
        struct http_path res;
        size_t n;
        assert_int_equal(
            http_target_encode(names[i], strlen(names[i]), href + 1, sizeof(href) - 1, &n), 0);
        assert_int_equal(http_target_decode(href, n + 1, back, sizeof(back), &res), 0);
        assert_string_equal(back, names[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traversals),
        cmocka_unit_test(test_traversals_any_case),
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_plain_paths),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_error_clears_output),
        cmocka_unit_test(test_escape_html),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_decode_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
