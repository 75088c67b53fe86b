/*
 * fuzz_http_range: the Range field, http_range_parse(), and the
 * Content-Range that answers it (worker/http_range.c).
 *
 * The first byte picks the file's size (0, one byte, two, or a full u64 from
 * the bytes after it, so that tiny files and huge ones are both common);
 * the rest is the field value.
 *
 * Invariants: a range served (OK, or the first of MULTI) lies inside the
 * file, first <= last < size, and its length is last - first + 1 without
 * wrapping; the verdict equals an independent reading of RFC 9110 §14.1
 * with exact big-number comparison; a Content-Range is the printf of its
 * numbers and fits HTTP_CONTENT_RANGE_SIZE.
 */
#include "fuzz/fuzz.h"

#include "common/wire.h"
#include "worker/http_range.h"

#include <inttypes.h>
#include <string.h>

/* A decimal number of any length, for the reference reading. */
struct num {
    const char *d; /* without leading zeros (one '0' for zero) */
    size_t n;
};

static bool ref_num(const char *s, size_t n, struct num *out)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    while (n > 1 && s[0] == '0')
        s++, n--;
    *out = (struct num){s, n};
    return true;
}

/* -1, 0, 1 as a <, ==, > b. */
static int ref_cmp(struct num a, struct num b)
{
    int c;

    if (a.n != b.n)
        return a.n < b.n ? -1 : 1;
    c = memcmp(a.d, b.d, a.n);
    return c < 0 ? -1 : c > 0;
}

/* The number as a u64, saturated at UINT64_MAX (exact below that). */
static uint64_t ref_u64(struct num a)
{
    uint64_t v = 0;

    if (a.n > 20)
        return UINT64_MAX;
    for (size_t i = 0; i < a.n; i++) {
        unsigned d = (unsigned)(a.d[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return UINT64_MAX;
        v = v * 10 + d;
    }
    return v;
}

enum spec { SPEC_INVALID, SPEC_OK, SPEC_UNSAT, SPEC_INEXPRESSIBLE };

static enum spec ref_spec(const char *s, size_t n, uint64_t size, struct http_range *r)
{
    const char *dash = memchr(s, '-', n);
    struct num a, b;
    size_t k;

    if (dash == NULL)
        return SPEC_INVALID;
    k = (size_t)(dash - s);
    if (k == 0) { /* "-n": the last n bytes */
        if (!ref_num(s + 1, n - 1, &a))
            return SPEC_INVALID;
        if (a.n == 1 && a.d[0] == '0')
            return SPEC_UNSAT;
        if (size == 0)
            return SPEC_INEXPRESSIBLE;
        r->first = a.n > 20 || ref_u64(a) >= size ? 0 : size - ref_u64(a);
        r->last = size - 1;
        return SPEC_OK;
    }
    if (!ref_num(s, k, &a))
        return SPEC_INVALID;
    if (k + 1 < n && (!ref_num(s + k + 1, n - k - 1, &b) || ref_cmp(b, a) < 0))
        return SPEC_INVALID;
    /* a >= size, exactly: a saturated a is at least UINT64_MAX, so at least size. */
    if (a.n > 20 || ref_u64(a) >= size)
        return SPEC_UNSAT;
    r->first = ref_u64(a);
    r->last = k + 1 < n && b.n <= 20 && ref_u64(b) < size ? ref_u64(b) : size - 1;
    return SPEC_OK;
}

static enum http_range_result ref_parse(const char *v, size_t len, uint64_t size,
                                        struct http_range *first)
{
    static const char unit[] = "bytes=";
    size_t i = 6, specs = 0, ok = 0;
    bool inexpressible = false;

    if (len < 6)
        return HTTP_RANGE_IGNORE;
    for (size_t j = 0; j < 6; j++)
        if ((v[j] | (v[j] >= 'A' && v[j] <= 'Z' ? 0x20 : 0)) != unit[j])
            return HTTP_RANGE_IGNORE;
    while (i < len) {
        size_t start, end;
        struct http_range r;
        enum spec sp;

        while (i < len && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
            i++;
        for (start = i; i < len && v[i] != ','; i++)
            ;
        for (end = i; end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'); end--)
            ;
        if (end == start)
            continue;
        sp = ref_spec(v + start, end - start, size, &r);
        if (sp == SPEC_INVALID)
            return HTTP_RANGE_IGNORE;
        if (sp == SPEC_OK && ok++ == 0)
            *first = r;
        inexpressible |= sp == SPEC_INEXPRESSIBLE;
        specs++;
    }
    if (specs == 0 || (ok == 0 && inexpressible))
        return HTTP_RANGE_IGNORE;
    if (ok == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    return ok == 1 ? HTTP_RANGE_OK : HTTP_RANGE_MULTI;
}

static void check_content_range(const struct http_range *r, uint64_t size)
{
    char out[HTTP_CONTENT_RANGE_SIZE], want[96];
    size_t n = http_range_content_range(out, r, size);

    if (r != NULL)
        snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->first, r->last,
                 size);
    else
        snprintf(want, sizeof(want), "bytes */%" PRIu64, size);
    FUZZ_CHECK(n < HTTP_CONTENT_RANGE_SIZE && n == strlen(out));
    FUZZ_CHECK(strcmp(out, want) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t file = 0;
    size_t skip = 1;
    struct http_range r = {0, 0}, want = {0, 0};
    enum http_range_result res, ref;
    char *v;

    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 1:
        file = size > 1 ? data[1] : 0, skip = 2;
        break;
    case 2:
        file = size > 2 ? (uint64_t)data[1] << 8 | data[2] : 0, skip = 3;
        break;
    case 3:
        file = size > 8 ? wire_get_u64(data + 1) : UINT64_MAX, skip = 9;
        break;
    }
    if (skip > size)
        skip = size;
    v = (char *)fuzz_copy(data + skip, size - skip);
    res = http_range_parse(v, size - skip, file, &r);
    ref = ref_parse(v, size - skip, file, &want);
    FUZZ_CHECK(res == ref);
    if (res == HTTP_RANGE_OK || res == HTTP_RANGE_MULTI) {
        FUZZ_CHECK(r.first == want.first && r.last == want.last);
        FUZZ_CHECK(r.first <= r.last && r.last < file);
        FUZZ_CHECK(http_range_length(&r) == r.last - r.first + 1 && http_range_length(&r) <= file);
        check_content_range(&r, file);
    }
    if (res == HTTP_RANGE_UNSATISFIABLE)
        check_content_range(NULL, file);
    free(v);
    return 0;
}
