/*
 * http_target: request paths to relative names, names to URI and HTML
 * text. See http_target.h.
 *
 * The decoder makes one pass: it decodes a byte, and either ends a segment
 * (a '/', raw or from "%2F") or adds the byte to it. A segment's first two
 * bytes are held back until the segment is known not to be "." or "..",
 * so out only ever receives bytes of the result and the size check is exact.
 *
 * Why (RFC 3986 §6.2.2 and §5.2.4 describe normalisation; these go further):
 * - Decoding happens once: "%252e" is the three bytes "%2e", a name like
 *   any other, never a dot. Decoding twice is how "%252e%252e" escapes.
 * - ".." is refused rather than resolved: resolving "/a/../b" to "b" is
 *   correct but buys nothing for a file server and invites mistakes;
 *   clients normalise dot segments before sending (RFC 3986 §5.2).
 * - NUL would cut the name openat() sees; the other controls have no
 *   business in a file name served over HTTP and would reach the logs.
 * - Bytes 0x80-0xFF pass as they are: file names are bytes on Linux, and
 *   an overlong UTF-8 "%c0%ae" is two bytes that are not a dot. A
 *   backslash is an ordinary byte on Linux too.
 */
#include "worker/http_target.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* A bounded output string. */
struct ht_out {
    char *buf;
    size_t cap;
    size_t len;
};

/* Appends n bytes, keeping room for the NUL: returns 0 or -ENOSPC. */
static int ht_put(struct ht_out *o, const char *s, size_t n)
{
    if (o->cap == 0 || n > o->cap - 1 - o->len)
        return -ENOSPC;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

/* NUL-terminates o after success, empties it after an error; returns err. */
static int ht_end(struct ht_out *o, int err, size_t *out_len)
{
    if (o->cap == 0 && err == 0)
        err = -ENOSPC; /* no room even for the NUL */
    if (err != 0)
        o->len = 0;
    if (o->cap > 0)
        o->buf[o->len] = '\0';
    if (out_len)
        *out_len = o->len;
    return err;
}

static int ht_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes the byte at s[*i] ("%XX" or a raw byte) and moves *i past it:
 * returns the byte, or -EINVAL for a bad escape or a control byte. */
static int ht_decode_byte(const char *s, size_t len, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    int v = c;

    if (c == '%') {
        int hi = *i + 2 < len ? ht_hex((unsigned char)s[*i + 1]) : -1;
        int lo = hi >= 0 ? ht_hex((unsigned char)s[*i + 2]) : -1;
        if (lo < 0)
            return -EINVAL;
        v = hi << 4 | lo;
        *i += 2;
    }
    (*i)++;
    return v < 0x20 || v == 0x7f ? -EINVAL : v;
}

/* The segment being decoded: its first two bytes wait in head. */
struct ht_seg {
    char head[2];
    size_t n;    /* bytes so far */
    bool is_dir; /* the last segment ended was empty or "." */
};

/* Writes the segment's held bytes, after a '/' unless it is the first segment. */
static int ht_flush(struct ht_out *o, const struct ht_seg *g)
{
    if (o->len > 0 && ht_put(o, "/", 1) != 0)
        return -ENOSPC;
    return ht_put(o, g->head, g->n < 2 ? g->n : 2);
}

/* Ends the segment at a '/' or the end: drops "" and ".", refuses "..". */
static int ht_seg_end(struct ht_out *o, struct ht_seg *g)
{
    bool dot = g->n >= 1 && g->head[0] == '.', dots = g->n == 2 && dot && g->head[1] == '.';
    int err = 0;

    if (dots)
        return -EINVAL;
    g->is_dir = g->n == 0 || (g->n == 1 && dot);
    if (g->n > 0 && g->n <= 2 && !g->is_dir)
        err = ht_flush(o, g);
    g->n = 0;
    return err;
}

/* Adds byte c to the segment. */
static int ht_seg_add(struct ht_out *o, struct ht_seg *g, char c)
{
    int err = 0;

    if (g->n < 2) {
        g->head[g->n++] = c;
        return 0;
    }
    if (g->n == 2)
        err = ht_flush(o, g);
    g->n++;
    return err ? err : ht_put(o, &c, 1);
}

static int ht_decode(const char *path, size_t len, struct ht_out *o, struct http_path *res)
{
    struct ht_seg g = {.n = 0, .is_dir = true};
    size_t i = 0;
    int err = 0;

    if (len > 0 && path[0] != '/')
        return -EINVAL;
    while (i < len && err == 0) {
        int c = ht_decode_byte(path, len, &i);
        if (c < 0)
            return c;
        err = c == '/' ? ht_seg_end(o, &g) : ht_seg_add(o, &g, (char)c);
    }
    if (err == 0)
        err = ht_seg_end(o, &g);
    res->len = o->len;
    res->is_dir = g.is_dir;
    return err;
}

int http_target_decode(const char *path, size_t len, char *out, size_t cap, struct http_path *res)
{
    struct ht_out o = {out, cap, 0};
    int err = ht_end(&o, ht_decode(path, len, &o, res), NULL);

    if (err != 0) {
        res->len = 0;
        res->is_dir = false;
    }
    return err == -ENOSPC ? -ENAMETOOLONG : err;
}

/* What HTML needs escaped, in text and in quoted attribute values alike. */
static const char *const ht_html[128] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

int http_target_escape_html(const char *s, size_t len, char *out, size_t cap, size_t *out_len)
{
    struct ht_out o = {out, cap, 0};
    int err = 0;

    for (size_t i = 0; i < len && err == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = c < 128 ? ht_html[c] : NULL;
        err = e ? ht_put(&o, e, strlen(e)) : ht_put(&o, s + i, 1);
    }
    return ht_end(&o, err, out_len);
}

/* Returns whether c stays as it is in an encoded path: RFC 3986 unreserved, or '/'. */
static bool ht_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
}

int http_target_encode(const char *s, size_t len, char *out, size_t cap, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    struct ht_out o = {out, cap, 0};
    int err = 0;

    for (size_t i = 0; i < len && err == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        err = ht_plain(c) ? ht_put(&o, s + i, 1) : ht_put(&o, esc, 3);
    }
    return ht_end(&o, err, out_len);
}
