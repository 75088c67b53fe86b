/*
 * fuzz_http_target: request paths to names under the served root,
 * http_target_decode(), and names back to URI and HTML text,
 * http_target_encode() and http_target_escape_html() (worker/http_target.c).
 *
 * The first byte picks the output's capacity (often small, to reach the
 * -ENAMETOOLONG edges); the rest is the path as it came in the target.
 *
 * Invariants: a decoded path never holds a NUL, a control byte, an empty
 * segment (no leading, trailing or double '/'), a "." or a ".." segment;
 * its length is res.len and it equals an independent decoder's result
 * (percent-decode once, split on '/', drop "" and ".", refuse ".."); with
 * a small capacity the answer is the same path when it fits, else
 * -ENAMETOOLONG (or the -EINVAL a later byte earns); out is "" after an
 * error. Encoding a decoded path and decoding it again gives it back; the
 * HTML escape leaves no bare & < > " '.
 */
#include "fuzz/fuzz.h"

#include "worker/http_target.h"

#include <errno.h>
#include <string.h>

#define BIG 16384

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The reference: 0 with out and *is_dir set, or -EINVAL. Never too long (out is big). */
static int ref_decode(const uint8_t *p, size_t n, char *out, size_t *out_len, bool *is_dir)
{
    static uint8_t dec[BIG];
    size_t m = 0, o = 0, start;

    if (n > 0 && p[0] != '/')
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = p[i];
        if (p[i] == '%') {
            if (i + 2 >= n || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
                return -EINVAL;
            v = hexval(p[i + 1]) << 4 | hexval(p[i + 2]);
            i += 2;
        }
        if (v < 0x20 || v == 0x7f)
            return -EINVAL;
        dec[m++] = (uint8_t)v;
    }
    *is_dir = true;
    for (size_t i = 0; i <= m; i = start + 1) {
        size_t len;
        for (start = i; start < m && dec[start] != '/'; start++)
            ;
        len = start - i;
        if (len == 2 && dec[i] == '.' && dec[i + 1] == '.')
            return -EINVAL;
        *is_dir = len == 0 || (len == 1 && dec[i] == '.');
        if (*is_dir)
            continue;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, dec + i, len);
        o += len;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

static void check_path(const char *out, const struct http_path *res)
{
    size_t n = res->len, seg = 0;

    FUZZ_CHECK(strlen(out) == n);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && out[i] != '/') {
            FUZZ_CHECK((uint8_t)out[i] >= 0x20 && out[i] != 0x7f);
            continue;
        }
        /* A segment out[seg, i): never empty, ".", or "..". */
        FUZZ_CHECK(n == 0 || i > seg);
        FUZZ_CHECK(!(i - seg == 1 && out[seg] == '.'));
        FUZZ_CHECK(!(i - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'));
        seg = i + 1;
    }
}

static void check_round_trip(const char *path, size_t n)
{
    static char enc[3 * BIG + 2], back[BIG];
    size_t len = 0;
    struct http_path res;

    enc[0] = '/';
    FUZZ_CHECK(http_target_encode(path, n, enc + 1, sizeof(enc) - 1, &len) == 0);
    for (size_t i = 1; i <= len; i++)
        FUZZ_CHECK(enc[i] != '?' && enc[i] != '#' && enc[i] != ' ');
    FUZZ_CHECK(http_target_decode(enc, len + 1, back, sizeof(back), &res) == 0);
    FUZZ_CHECK(res.len == n && memcmp(back, path, n) == 0);
}

static void check_html(const uint8_t *s, size_t n)
{
    static char out[6 * BIG + 1];
    size_t len = 0;

    FUZZ_CHECK(http_target_escape_html((const char *)s, n, out, sizeof(out), &len) == 0);
    FUZZ_CHECK(strlen(out) == len || memchr(s, '\0', n) != NULL);
    for (size_t i = 0; i < len; i++) {
        FUZZ_CHECK(out[i] != '<' && out[i] != '>' && out[i] != '"' && out[i] != '\'');
        if (out[i] == '&')
            FUZZ_CHECK(strncmp(out + i, "&amp;", 5) == 0 || strncmp(out + i, "&lt;", 4) == 0 ||
                       strncmp(out + i, "&gt;", 4) == 0 || strncmp(out + i, "&quot;", 6) == 0 ||
                       strncmp(out + i, "&#39;", 5) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[BIG], want[BIG];
    size_t cap, n, want_len = 0;
    struct http_path res;
    bool want_dir = false;
    char *small, *path;
    int rc, ref;

    if (size < 1 || size > BIG)
        return 0;
    cap = data[0];
    n = size - 1;
    path = (char *)fuzz_copy(data + 1, n);
    ref = ref_decode(data + 1, n, want, &want_len, &want_dir);

    /* Room enough: exactly the reference. */
    rc = http_target_decode(path, n, out, sizeof(out), &res);
    FUZZ_CHECK(rc == ref);
    if (rc == 0) {
        check_path(out, &res);
        FUZZ_CHECK(res.len == want_len && strcmp(out, want) == 0 && res.is_dir == want_dir);
        check_round_trip(out, res.len);
    } else {
        FUZZ_CHECK(out[0] == '\0' && res.len == 0);
    }

    /* cap bytes: the same when it fits, else too long (or a later -EINVAL). */
    small = malloc(cap ? cap : 1);
    rc = http_target_decode(path, n, small, cap, &res);
    if (ref == 0 && want_len < cap) {
        FUZZ_CHECK(rc == 0 && strcmp(small, want) == 0 && res.is_dir == want_dir);
    } else {
        FUZZ_CHECK(rc == -ENAMETOOLONG || (rc == -EINVAL && ref == -EINVAL));
        FUZZ_CHECK(cap == 0 || small[0] == '\0');
    }
    free(small);
    check_html(data + 1, n);
    free(path);
    return 0;
}
