/*
 * http_range: Range field values. See http_range.h.
 *
 * The grammar (RFC 9110 §14.1.1, §14.1.2):
 *   ranges-specifier = range-unit "=" range-set
 *   range-set  = 1#range-spec
 *   range-spec = int-range / suffix-range
 *   int-range  = first-pos "-" [ last-pos ]
 *   suffix-range = "-" suffix-length
 * A syntax error anywhere, or an int-range whose last is below its first,
 * makes the whole field invalid: RFC 9110 §14.2 says to ignore it (200).
 * No whitespace is allowed inside a range-spec or around '='; OWS around
 * list commas is, as for every list (RFC 9110 §5.6.1).
 */
#include "worker/http_range.h"

#include <stdbool.h>
#include <string.h>

#include "common/text.h"
#include "worker/http_ascii.h"
#include "worker/http_parse.h"

/* A decimal number of any length: its value, or that it is over 2^64-1. */
struct hr_num {
    uint64_t v;
    bool big;
    const char *digits; /* without leading zeros, for comparing two big ones */
    size_t n;
};

/* Reads s[0, n), all digits and at least one: returns false otherwise. */
static bool hr_num(const char *s, size_t n, struct hr_num *num)
{
    *num = (struct hr_num){0, false, s, n};
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (!http_ascii_digit((unsigned char)s[i]))
            return false;
        d = (unsigned)(s[i] - '0');
        if (num->v > (UINT64_MAX - d) / 10)
            num->big = true;
        else
            num->v = num->v * 10 + d;
    }
    while (num->n > 1 && num->digits[0] == '0')
        num->digits++, num->n--;
    return true;
}

/* Returns whether a < b, exactly. */
static bool hr_less(const struct hr_num *a, const struct hr_num *b)
{
    if (a->big != b->big)
        return b->big;
    if (!a->big)
        return a->v < b->v;
    if (a->n != b->n)
        return a->n < b->n;
    return memcmp(a->digits, b->digits, a->n) < 0;
}

/* What one range-spec means for the file. */
enum hr_spec {
    HR_INVALID,
    HR_SATISFIABLE, /* *r set */
    HR_UNSATISFIABLE,
    HR_INEXPRESSIBLE, /* a suffix range of an empty file */
};

static enum hr_spec hr_suffix(const char *s, size_t n, uint64_t size, struct http_range *r)
{
    struct hr_num len;

    if (!hr_num(s, n, &len))
        return HR_INVALID;
    if (len.v == 0 && !len.big)
        return HR_UNSATISFIABLE;
    if (size == 0)
        return HR_INEXPRESSIBLE;
    r->first = len.big || len.v >= size ? 0 : size - len.v;
    r->last = size - 1;
    return HR_SATISFIABLE;
}

static enum hr_spec hr_spec(const char *s, size_t n, uint64_t size, struct http_range *r)
{
    const char *dash = memchr(s, '-', n);
    size_t k = dash ? (size_t)(dash - s) : n;
    struct hr_num first, last;
    bool has_last = dash && k + 1 < n;

    if (!dash)
        return HR_INVALID;
    if (k == 0)
        return hr_suffix(s + 1, n - 1, size, r);
    if (!hr_num(s, k, &first) || (has_last && !hr_num(dash + 1, n - k - 1, &last)))
        return HR_INVALID;
    if (has_last && hr_less(&last, &first))
        return HR_INVALID;
    if (first.big || first.v >= size)
        return HR_UNSATISFIABLE;
    r->first = first.v;
    r->last = !has_last || last.big || last.v >= size ? size - 1 : last.v;
    return HR_SATISFIABLE;
}

enum http_range_result http_range_parse(const char *v, size_t len, uint64_t size,
                                        struct http_range *r)
{
    const char *e;
    size_t pos = 6, n, specs = 0, satisfiable = 0;
    bool inexpressible = false;

    if (len < 6 || !http_ascii_ci_equal(v, "bytes=", 6))
        return HTTP_RANGE_IGNORE;
    while (http_list_next(v, len, &pos, &e, &n)) {
        struct http_range one;
        enum hr_spec spec = hr_spec(e, n, size, &one);
        if (spec == HR_INVALID)
            return HTTP_RANGE_IGNORE;
        if (spec == HR_SATISFIABLE && satisfiable++ == 0)
            *r = one;
        inexpressible |= spec == HR_INEXPRESSIBLE;
        specs++;
    }
    if (specs == 0 || (satisfiable == 0 && inexpressible))
        return HTTP_RANGE_IGNORE;
    if (satisfiable == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    return satisfiable == 1 ? HTTP_RANGE_OK : HTTP_RANGE_MULTI;
}

uint64_t http_range_length(const struct http_range *r)
{
    return r->last - r->first + 1;
}

size_t http_range_content_range(char out[HTTP_CONTENT_RANGE_SIZE], const struct http_range *r,
                                uint64_t size)
{
    struct text t;

    text_init(&t, out, HTTP_CONTENT_RANGE_SIZE);
    text_str(&t, "bytes ");
    if (r) {
        text_u64(&t, r->first);
        text_str(&t, "-");
        text_u64(&t, r->last);
    } else {
        text_str(&t, "*");
    }
    text_str(&t, "/");
    text_u64(&t, size);
    return t.len;
}
