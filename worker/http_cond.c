/*
 * http_cond: ETags and preconditions. See http_cond.h.
 *
 * entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E /
 * obs-text (RFC 9110 §8.8.3): a tag may hold a comma, so If-None-Match is
 * tokenised tag by tag, never split on commas. Everything malformed makes
 * a condition fail towards sending the full response, which is always
 * correct, only less economical: a wrong 304 or 206 is not.
 */
#include "worker/http_cond.h"

#include <string.h>

#include "worker/http_ascii.h"
#include "worker/http_date.h"

/* Writes v in lower-case hex without leading zeros; returns the digits written. */
static size_t hc_hex(char *p, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t http_etag_format(char out[HTTP_ETAG_SIZE], uint64_t size, int64_t mtime_sec, long mtime_nsec)
{
    size_t n = 0;

    out[n++] = '"';
    n += hc_hex(out + n, (uint64_t)mtime_sec);
    out[n++] = '.';
    n += hc_hex(out + n, (uint64_t)mtime_nsec & 0xffffffffu);
    out[n++] = '-';
    n += hc_hex(out + n, size);
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

/* An entity-tag found in a field value. */
struct hc_tag {
    const char *opaque; /* with its quotes */
    size_t len;
    bool weak;
};

static bool hc_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* Reads an entity-tag at v[*pos]; returns false when there is none. */
static bool hc_tag(const char *v, size_t len, size_t *pos, struct hc_tag *t)
{
    size_t i = *pos;

    t->weak = len - i >= 2 && v[i] == 'W' && v[i + 1] == '/';
    if (t->weak)
        i += 2;
    if (i >= len || v[i] != '"')
        return false;
    t->opaque = v + i++;
    while (i < len && hc_etagc((unsigned char)v[i]))
        i++;
    if (i >= len || v[i] != '"')
        return false;
    t->len = (size_t)(v + i + 1 - t->opaque);
    *pos = i + 1;
    return true;
}

/* Moves *pos past commas and OWS: empty list elements are allowed (RFC 9110 §5.6.1.2). */
static void hc_skip(const char *v, size_t len, size_t *pos)
{
    while (*pos < len && (v[*pos] == ',' || http_ascii_ows((unsigned char)v[*pos])))
        (*pos)++;
}

/* After an element: returns whether OWS then a comma or the end follow, and moves past them. */
static bool hc_next(const char *v, size_t len, size_t *pos)
{
    while (*pos < len && http_ascii_ows((unsigned char)v[*pos]))
        (*pos)++;
    if (*pos < len && v[*pos] != ',')
        return false;
    hc_skip(v, len, pos);
    return true;
}

/* Returns whether t is our etag, the opaque parts compared. */
static bool hc_same(const struct hc_tag *t, const char *etag, size_t etag_len)
{
    return t->len == etag_len && memcmp(t->opaque, etag, etag_len) == 0;
}

bool http_cond_none_match(const char *v, size_t len, const char *etag, size_t etag_len)
{
    size_t pos = 0;
    bool match = false, any = false;

    if (len == 1 && v[0] == '*')
        return true;
    hc_skip(v, len, &pos);
    while (pos < len) {
        struct hc_tag t;
        if (!hc_tag(v, len, &pos, &t) || !hc_next(v, len, &pos))
            return false;
        match |= hc_same(&t, etag, etag_len);
        any = true;
    }
    return any && match;
}

bool http_cond_if_range(const char *v, size_t len, const char *etag, size_t etag_len, time_t mtime,
                        time_t now)
{
    struct hc_tag t;
    size_t pos = 0;
    time_t date;

    if ((len > 0 && v[0] == '"') || (len > 1 && v[0] == 'W' && v[1] == '/'))
        return hc_tag(v, len, &pos, &t) && pos == len && !t.weak && hc_same(&t, etag, etag_len);
    return http_date_parse(v, len, now, &date) == 0 && date == mtime && mtime < now;
}

/* If-Modified-Since (RFC 9110 §13.1.3): returns whether it says "not modified". */
static bool hc_not_modified_since(const char *v, size_t len, time_t mtime, time_t now)
{
    time_t since;

    if (http_date_parse(v, len, now, &since) != 0 || since > now)
        return false;
    return mtime <= since;
}

enum http_cond_result http_cond_eval(const struct http_request *req, const char *buf,
                                     const char *etag, size_t etag_len, time_t mtime, time_t now)
{
    const struct http_span *inm = &req->if_none_match, *ims = &req->if_modified_since;
    const struct http_span *ir = &req->if_range;

    if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD)
        return HTTP_COND_SEND_FULL;
    if (inm->set) {
        if (http_cond_none_match(buf + inm->off, inm->len, etag, etag_len))
            return HTTP_COND_NOT_MODIFIED;
    } else if (ims->set && hc_not_modified_since(buf + ims->off, ims->len, mtime, now)) {
        return HTTP_COND_NOT_MODIFIED;
    }
    if (req->method != HTTP_METHOD_GET || !req->range.set)
        return HTTP_COND_SEND_FULL;
    if (ir->set && !http_cond_if_range(buf + ir->off, ir->len, etag, etag_len, mtime, now))
        return HTTP_COND_SEND_FULL;
    return HTTP_COND_SEND_RANGE_OK;
}
