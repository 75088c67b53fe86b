/*
 * fuzz_http_parse: the HTTP request-head parser, http_parse()
 * (worker/http_parse.c), fed as a socket would feed it.
 *
 * Each input is parsed three ways, as tests/unit/test_http_parse.c does:
 * whole, one byte at a time, and in random pieces with each call given a
 * fresh copy of exactly the bytes so far (a caller that moves its buffer;
 * AddressSanitizer sees any read past them). All three must agree on the
 * status and, when the head is complete, on every field.
 *
 * Invariants on a complete head: it ends with CRLF CRLF, within
 * HTTP_HEAD_MAX bytes and the input; every span lies inside the head; the
 * method is a token, the target VCHARs without '#', the version 1.0 or 1.1,
 * an HTTP/1.1 request has a Host; path and query lie inside the target; a
 * field value has no CR, LF or NUL and no surrounding whitespace. Errors
 * are one of the statuses the header lists, and once the parser answered
 * anything but MORE it answers the same again.
 */
#include "fuzz/fuzz.h"

#include "worker/http_parse.h"

#include <string.h>

struct outcome {
    enum http_parse_status status;
    size_t head_len;
    struct http_request req;
};

static bool span_equal(struct http_span a, struct http_span b)
{
    return a.set == b.set && (!a.set || (a.off == b.off && a.len == b.len));
}

static bool outcome_equal(const struct outcome *a, const struct outcome *b)
{
    const struct http_request *x = &a->req, *y = &b->req;

    if (a->status != b->status)
        return false;
    if (a->status != HTTP_PARSE_DONE)
        return true;
    return a->head_len == b->head_len && x->method == y->method &&
           x->version_minor == y->version_minor && x->form == y->form &&
           span_equal(x->method_name, y->method_name) && span_equal(x->target, y->target) &&
           span_equal(x->path, y->path) && span_equal(x->query, y->query) &&
           span_equal(x->host, y->host) && span_equal(x->range, y->range) &&
           span_equal(x->if_none_match, y->if_none_match) &&
           span_equal(x->if_modified_since, y->if_modified_since) &&
           span_equal(x->if_range, y->if_range) && span_equal(x->user_agent, y->user_agent) &&
           span_equal(x->referer, y->referer) && x->conn_close == y->conn_close &&
           x->conn_keep_alive == y->conn_keep_alive &&
           x->has_content_length == y->has_content_length && x->content_length == y->content_length;
}

static struct outcome outcome_of(const struct http_parser *p, enum http_parse_status st)
{
    struct outcome o = {.status = st, .head_len = p->head_len, .req = p->req};

    if (st != HTTP_PARSE_DONE) {
        o.head_len = 0;
        memset(&o.req, 0, sizeof(o.req));
    }
    return o;
}

static bool known_status(enum http_parse_status st)
{
    switch (st) {
    case HTTP_PARSE_MORE:
    case HTTP_PARSE_DONE:
    case HTTP_PARSE_BAD_REQUEST:
    case HTTP_PARSE_URI_TOO_LONG:
    case HTTP_PARSE_FIELDS_TOO_LARGE:
    case HTTP_PARSE_NOT_IMPLEMENTED:
    case HTTP_PARSE_BAD_VERSION:
        return true;
    }
    return false;
}

/* A span inside the head; when value, also a clean field value. */
static void check_span(const uint8_t *buf, size_t head_len, struct http_span s, bool value)
{
    if (!s.set)
        return;
    FUZZ_CHECK((size_t)s.off + s.len <= head_len);
    if (!value)
        return;
    for (uint32_t i = 0; i < s.len; i++) {
        uint8_t c = buf[s.off + i];
        FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    }
    if (s.len > 0) {
        uint8_t first = buf[s.off], last = buf[s.off + s.len - 1];
        FUZZ_CHECK(first != ' ' && first != '\t' && last != ' ' && last != '\t');
    }
}

static bool in_span(struct http_span inner, struct http_span outer)
{
    return inner.off >= outer.off && (size_t)inner.off + inner.len <= (size_t)outer.off + outer.len;
}

static void check_done(const uint8_t *buf, size_t len, const struct outcome *o)
{
    const struct http_request *r = &o->req;

    FUZZ_CHECK(o->head_len >= 4 && o->head_len <= len && o->head_len <= HTTP_HEAD_MAX);
    FUZZ_CHECK(memcmp(buf + o->head_len - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK(r->version_minor <= 1);
    FUZZ_CHECK(r->version_minor == 0 || r->host.set);
    FUZZ_CHECK(r->method_name.set && r->method_name.len > 0 && r->target.set && r->target.len > 0);
    check_span(buf, o->head_len, r->method_name, false);
    check_span(buf, o->head_len, r->target, false);
    for (uint32_t i = 0; i < r->method_name.len; i++) {
        uint8_t c = buf[r->method_name.off + i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c));
    }
    for (uint32_t i = 0; i < r->target.len; i++) {
        uint8_t c = buf[r->target.off + i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '#');
    }
    FUZZ_CHECK((r->method == HTTP_METHOD_GET) ==
               (r->method_name.len == 3 && memcmp(buf + r->method_name.off, "GET", 3) == 0));
    FUZZ_CHECK((r->method == HTTP_METHOD_HEAD) ==
               (r->method_name.len == 4 && memcmp(buf + r->method_name.off, "HEAD", 4) == 0));
    if (r->form == HTTP_FORM_ORIGIN || r->form == HTTP_FORM_ABSOLUTE) {
        FUZZ_CHECK(r->path.set && in_span(r->path, r->target));
        FUZZ_CHECK(r->path.len == 0 || buf[r->path.off] == '/');
    } else {
        FUZZ_CHECK(!r->path.set && r->method == HTTP_METHOD_OTHER);
    }
    if (r->form == HTTP_FORM_ORIGIN)
        FUZZ_CHECK(r->path.off == r->target.off && buf[r->target.off] == '/');
    if (r->query.set)
        FUZZ_CHECK(in_span(r->query, r->target) && buf[r->query.off - 1] == '?');
    FUZZ_CHECK(r->has_content_length || r->content_length == 0);
    check_span(buf, o->head_len, r->host, true);
    check_span(buf, o->head_len, r->range, true);
    check_span(buf, o->head_len, r->if_none_match, true);
    check_span(buf, o->head_len, r->if_modified_since, true);
    check_span(buf, o->head_len, r->if_range, true);
    check_span(buf, o->head_len, r->user_agent, true);
    check_span(buf, o->head_len, r->referer, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_parser p;
    struct outcome whole, bytes, pieces;
    uint8_t *buf = fuzz_copy(data, size);
    uint64_t seed = fuzz_seed(data, size);
    enum http_parse_status st;

    http_parse_init(&p);
    st = http_parse(&p, (const char *)buf, size);
    FUZZ_CHECK(known_status(st));
    whole = outcome_of(&p, st);
    FUZZ_CHECK(http_parse(&p, (const char *)buf, size) == st); /* the same again */
    if (st == HTTP_PARSE_DONE)
        check_done(buf, size, &whole);

    /* One byte at a time, on the same buffer. */
    http_parse_init(&p);
    st = HTTP_PARSE_MORE;
    for (size_t l = 0; l <= size && st == HTTP_PARSE_MORE; l++)
        st = http_parse(&p, (const char *)buf, l);
    bytes = outcome_of(&p, st);
    FUZZ_CHECK(outcome_equal(&whole, &bytes));

    /* Random pieces, each call with a fresh copy of the bytes so far. */
    http_parse_init(&p);
    st = HTTP_PARSE_MORE;
    for (size_t l = 0; st == HTTP_PARSE_MORE;) {
        uint8_t *copy;

        l += size - l <= 1 ? size - l : 1 + fuzz_mix(&seed) % (size - l);
        copy = fuzz_copy(data, l);
        st = http_parse(&p, (const char *)copy, l);
        free(copy);
        if (l == size)
            break;
    }
    pieces = outcome_of(&p, st);
    FUZZ_CHECK(outcome_equal(&whole, &pieces));
    free(buf);
    return 0;
}
