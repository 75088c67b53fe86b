/* Unit tests for worker/http_parse. Every request is parsed three ways by
 * parse(): all at once, one byte at a time (each call with a fresh copy of
 * the bytes so far, as a caller that moves its buffer), and, for short
 * heads, split in two at every byte; all must agree. */
#include "worker/http_parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define OK11 "GET / HTTP/1.1\r\nHost: h\r\n"

struct outcome {
    enum http_parse_status status;
    size_t head_len;
    struct http_request req;
};

static void assert_span_equal(struct http_span a, struct http_span b)
{
    assert_int_equal(a.set, b.set);
    assert_int_equal(a.off, b.off);
    assert_int_equal(a.len, b.len);
}

static void assert_outcome_equal(const struct outcome *a, const struct outcome *b)
{
    const struct http_request *x = &a->req, *y = &b->req;

    assert_int_equal(a->status, b->status);
    if (a->status != HTTP_PARSE_DONE)
        return;
    assert_int_equal(a->head_len, b->head_len);
    assert_int_equal(x->method, y->method);
    assert_int_equal(x->version_minor, y->version_minor);
    assert_int_equal(x->form, y->form);
    assert_span_equal(x->method_name, y->method_name);
    assert_span_equal(x->target, y->target);
    assert_span_equal(x->path, y->path);
    assert_span_equal(x->query, y->query);
    assert_span_equal(x->host, y->host);
    assert_span_equal(x->range, y->range);
    assert_span_equal(x->if_none_match, y->if_none_match);
    assert_span_equal(x->if_modified_since, y->if_modified_since);
    assert_span_equal(x->if_range, y->if_range);
    assert_span_equal(x->user_agent, y->user_agent);
    assert_span_equal(x->referer, y->referer);
    assert_int_equal(x->conn_close, y->conn_close);
    assert_int_equal(x->conn_keep_alive, y->conn_keep_alive);
    assert_int_equal(x->has_content_length, y->has_content_length);
    assert_true(x->content_length == y->content_length);
}

/* Calls http_parse with a buffer of exactly len bytes at a new address. */
static enum http_parse_status parse_copy(struct http_parser *p, const char *text, size_t len)
{
    char *buf = malloc(len ? len : 1);
    enum http_parse_status st;

    assert_non_null(buf);
    memcpy(buf, text, len);
    st = http_parse(p, buf, len);
    free(buf);
    return st;
}

static struct outcome outcome_of(const struct http_parser *p, enum http_parse_status st)
{
    struct outcome o = {.status = st, .head_len = p->head_len, .req = p->req};
    return o;
}

static struct outcome feed_whole(const char *text, size_t n)
{
    struct http_parser p;

    http_parse_init(&p);
    return outcome_of(&p, parse_copy(&p, text, n));
}

/* One byte at a time; a fresh copy per call for heads small enough to afford it. */
static struct outcome feed_bytes(const char *text, size_t n)
{
    struct http_parser p;
    enum http_parse_status st = HTTP_PARSE_MORE;

    http_parse_init(&p);
    for (size_t i = 1; i <= n && st == HTTP_PARSE_MORE; i++) {
        st = n <= 4096 ? parse_copy(&p, text, i) : http_parse(&p, text, i);
        /* Peeks at a private field: every byte given was consumed, so the
         * next call starts at the new byte and the total work is O(n). */
        if (st == HTTP_PARSE_MORE)
            assert_int_equal(p.pos, i);
    }
    if (n == 0)
        st = parse_copy(&p, text, 0);
    return outcome_of(&p, st);
}

static struct outcome feed_split(const char *text, size_t n, size_t cut)
{
    struct http_parser p;
    enum http_parse_status st;

    http_parse_init(&p);
    st = parse_copy(&p, text, cut);
    if (st == HTTP_PARSE_MORE)
        st = parse_copy(&p, text, n);
    return outcome_of(&p, st);
}

/* Parses text[0, n) every way; asserts they agree and that a repeated call
 * says the same; returns the outcome. */
static struct outcome parse(const char *text, size_t n)
{
    struct outcome whole = feed_whole(text, n), bytes = feed_bytes(text, n);

    assert_outcome_equal(&whole, &bytes);
    for (size_t cut = 0; n <= 600 && cut <= n; cut++) {
        struct outcome split = feed_split(text, n, cut);
        assert_outcome_equal(&whole, &split);
    }
    return whole;
}

#define PARSE(s) parse(s, sizeof(s) - 1)

/* Asserts that span s of text is the string want. */
static void assert_span(const char *text, struct http_span s, const char *want)
{
    assert_true(s.set);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(text + s.off, want, s.len);
}

/* A test that only checks the status of one request. */
#define EXPECT(name, text, want)                                                                   \
    static void name(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        assert_int_equal(PARSE(text).status, want);                                                \
    }

/* ---- Basics ---- */

static void test_simple_get(void **state)
{
    static const char r[] = OK11 "\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.head_len, sizeof(r) - 1);
    assert_int_equal(o.req.method, HTTP_METHOD_GET);
    assert_int_equal(o.req.version_minor, 1);
    assert_int_equal(o.req.form, HTTP_FORM_ORIGIN);
    assert_span(r, o.req.method_name, "GET");
    assert_span(r, o.req.target, "/");
    assert_span(r, o.req.path, "/");
    assert_false(o.req.query.set);
    assert_span(r, o.req.host, "h");
    assert_false(o.req.range.set);
    assert_false(o.req.has_content_length);
    assert_true(o.req.content_length == 0);
    assert_true(http_keep_alive(&o.req));
}

static void test_head(void **state)
{
    static const char r[] = "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.method, HTTP_METHOD_HEAD);
    assert_span(r, o.req.path, "/x");
}

static void test_other_method(void **state)
{
    static const char r[] = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.method, HTTP_METHOD_OTHER);
    assert_span(r, o.req.method_name, "POST");
    assert_int_equal(o.head_len, sizeof(r) - 1 - 3);
    assert_true(o.req.has_content_length);
    assert_true(o.req.content_length == 3);
}

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is another method. */
static void test_method_case(void **state)
{
    static const char r[] = "get / HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.method, HTTP_METHOD_OTHER);
    assert_int_equal(PARSE("GETS / HTTP/1.1\r\nHost: h\r\n\r\n").req.method, HTTP_METHOD_OTHER);
    assert_int_equal(PARSE("HEA / HTTP/1.1\r\nHost: h\r\n\r\n").req.method, HTTP_METHOD_OTHER);
}

static void test_method_all_tchars(void **state)
{
    static const char r[] = "A!#$%&'*+-.^_`|~9z / HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.method_name, "A!#$%&'*+-.^_`|~9z");
}

EXPECT(test_method_bad_char, "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_method_at_sign, "@ / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_method_high_byte, "G\xc3\xa9T / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_empty_method, " / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

static void test_http10_no_host(void **state)
{
    static const char r[] = "GET /a HTTP/1.0\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.version_minor, 0);
    assert_false(o.req.host.set);
    assert_false(http_keep_alive(&o.req));
}

/* ---- Connection and keep-alive (RFC 9112 §9.3) ---- */

static void test_keep_alive_http10(void **state)
{
    struct outcome o = PARSE("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_true(o.req.conn_keep_alive);
    assert_true(http_keep_alive(&o.req));
}

static void test_close_http11(void **state)
{
    struct outcome o = PARSE(OK11 "Connection: close\r\n\r\n");

    (void)state;
    assert_true(o.req.conn_close);
    assert_false(http_keep_alive(&o.req));
}

static void test_connection_list(void **state)
{
    struct outcome o = PARSE(OK11 "Connection: ,foo , Keep-Alive ,\t CLOSE\t,\r\n\r\n");

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_true(o.req.conn_close);
    assert_true(o.req.conn_keep_alive);
    assert_false(http_keep_alive(&o.req)); /* close wins */
}

static void test_connection_several_lines(void **state)
{
    struct outcome o =
        PARSE("GET / HTTP/1.0\r\nConnection: upgrade\r\nconnection: keep-alive\r\n\r\n");

    (void)state;
    assert_false(o.req.conn_close);
    assert_true(http_keep_alive(&o.req));
}

static void test_connection_not_substrings(void **state)
{
    struct outcome o = PARSE(OK11 "Connection: closed, notclose, keep-alive2, \"close\"\r\n\r\n");

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_false(o.req.conn_close);
    assert_false(o.req.conn_keep_alive);
    assert_true(http_keep_alive(&o.req));
}

static void test_keep_alive_table(void **state)
{
    static const struct {
        unsigned minor;
        bool close, keep, want;
    } cases[] = {
        {1, false, false, true}, {1, true, false, false},  {1, false, true, true},
        {1, true, true, false},  {0, false, false, false}, {0, false, true, true},
        {0, true, true, false},  {0, true, false, false},
    };
    struct http_request r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&r, 0, sizeof(r));
        r.version_minor = cases[i].minor;
        r.conn_close = cases[i].close;
        r.conn_keep_alive = cases[i].keep;
        assert_int_equal(http_keep_alive(&r), cases[i].want);
    }
}

/* ---- Versions ---- */

EXPECT(test_version_2_0, "GET / HTTP/2.0\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_VERSION)
EXPECT(test_version_0_9, "GET / HTTP/0.9\r\n\r\n", HTTP_PARSE_BAD_VERSION)
EXPECT(test_version_1_2, "GET / HTTP/1.2\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_VERSION)
EXPECT(test_version_3, "GET / HTTP/3\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_VERSION)
EXPECT(test_version_h2_preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_PARSE_BAD_VERSION)
EXPECT(test_version_httx, "GET / HTTX/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_version_trailing_junk, "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_version_leading_zero, "GET / HTTP/01.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_version_lower_case, "GET / http/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

static void test_version_malformed_others(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1\r\n\r\n",
        "GET / HTTP/1.\r\n\r\n",
        "GET / HTTP/\r\n\r\n",
        "GET / HTTP/a.1\r\n\r\n",
        "GET / HTTP/1.a\r\n\r\n",
        "GET / HTTP/1,1\r\n\r\n",
        "GET / HTTP/10.1\r\n\r\n",
        "GET / HTTP 1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / \r\n\r\n",
        "GET /\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/1.1\t\r\n\r\n",
        "GET / HTTP/1.1\r\r\n\r\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], strlen(bad[i])).status, HTTP_PARSE_BAD_REQUEST);
}

/* ---- The request line's spaces ---- */

EXPECT(test_double_space_before_target, "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_double_space_before_version, "GET /  HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_tab_separator, "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_space_in_target, "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

/* ---- Targets ---- */

static void test_origin_query(void **state)
{
    static const char r[] = "GET /a/b?x=1&y=/?z HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.path, "/a/b");
    assert_span(r, o.req.query, "x=1&y=/?z");
    assert_span(r, o.req.target, "/a/b?x=1&y=/?z");
}

static void test_origin_empty_query(void **state)
{
    static const char r[] = "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_span(r, o.req.path, "/a");
    assert_span(r, o.req.query, "");
}

static void test_absolute_form(void **state)
{
    static const char r[] = "GET http://example.com:8080/p/q?x HTTP/1.1\r\nHost: other\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.form, HTTP_FORM_ABSOLUTE);
    assert_span(r, o.req.host, "example.com:8080"); /* the authority replaces Host */
    assert_span(r, o.req.path, "/p/q");
    assert_span(r, o.req.query, "x");
}

static void test_absolute_form_scheme_case(void **state)
{
    static const char r[] = "GET HtTp://H/x HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.host, "H");
    assert_span(r, o.req.path, "/x");
}

static void test_absolute_form_no_path(void **state)
{
    static const char r1[] = "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char r2[] = "GET http://[::1]:80?q HTTP/1.0\r\n\r\n";
    struct outcome o1 = PARSE(r1), o2 = PARSE(r2);

    (void)state;
    assert_int_equal(o1.status, HTTP_PARSE_DONE);
    assert_span(r1, o1.req.path, "");
    assert_false(o1.req.query.set);
    assert_int_equal(o2.status, HTTP_PARSE_DONE);
    assert_span(r2, o2.req.host, "[::1]:80");
    assert_span(r2, o2.req.path, "");
    assert_span(r2, o2.req.query, "q");
}

/* RFC 9112 §3.2: Host is required in 1.1 even when the target names the host. */
EXPECT(test_absolute_form_needs_host, "GET http://h/ HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_absolute_form_empty_authority, "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_absolute_form_userinfo, "GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_absolute_form_https, "GET https://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_absolute_form_other_scheme, "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_asterisk_get, "GET * HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_authority_get, "GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_relative_target, "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_fragment, "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_target_high_byte, "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_target_control, "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

/* OPTIONS * and CONNECT parse, so that the handler answers 405. */
static void test_options_asterisk(void **state)
{
    static const char r[] = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.method, HTTP_METHOD_OTHER);
    assert_int_equal(o.req.form, HTTP_FORM_ASTERISK);
    assert_false(o.req.path.set);
}

static void test_connect_authority(void **state)
{
    static const char r[] = "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.form, HTTP_FORM_AUTHORITY);
    assert_false(o.req.path.set);
    assert_int_equal(PARSE("CONNECT h/x HTTP/1.1\r\nHost: h\r\n\r\n").status,
                     HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(PARSE("OPTIONS */x HTTP/1.1\r\nHost: h\r\n\r\n").status,
                     HTTP_PARSE_BAD_REQUEST);
}

/* ---- Field syntax ---- */

EXPECT(test_obs_fold, OK11 "X-A: a\r\n b\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_obs_fold_tab, OK11 "X-A: a\r\n\tb\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_space_before_first_field, "GET / HTTP/1.1\r\n Host: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_space_before_colon, "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_tab_before_colon, OK11 "Range\t: bytes=0-1\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_empty_field_name, OK11 ": x\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_field_name_bad_char, OK11 "X(A): x\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_field_without_colon, OK11 "X-A\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_value_control, OK11 "X-A: a\x01z\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_value_del, OK11 "X-A: a\x7fz\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_value_escape, OK11 "User-Agent: \x1b[31m\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

static void test_value_obs_text(void **state)
{
    static const char r[] = OK11 "User-Agent: caf\xe9 \xff\x80\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.user_agent, "caf\xe9 \xff\x80");
}

static void test_value_whitespace_trimmed(void **state)
{
    static const char r[] = OK11 "Referer: \t a \t b\t \r\nUser-Agent:x\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.referer, "a \t b");
    assert_span(r, o.req.user_agent, "x");
}

static void test_value_empty(void **state)
{
    static const char r[] = OK11 "Referer:\r\nRange:   \r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.referer, "");
    assert_span(r, o.req.range, "");
    assert_false(o.req.user_agent.set);
}

static void test_value_with_colons(void **state)
{
    static const char r[] = OK11 "Referer: http://a:1/b?c=d:e\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_span(r, o.req.referer, "http://a:1/b?c=d:e");
}

static void test_name_case_insensitive(void **state)
{
    static const char r[] =
        "GET / HTTP/1.1\r\nhOsT: h\r\nRANGE: bytes=1-2\r\nif-none-match: \"e\"\r\n"
        "IF-MODIFIED-SINCE: d\r\nIf-rAnGe: \"r\"\r\nuser-AGENT: u\r\n"
        "REFERER: f\r\ncontent-LENGTH: 0\r\nCONNECTION: CLOSE\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.host, "h");
    assert_span(r, o.req.range, "bytes=1-2");
    assert_span(r, o.req.if_none_match, "\"e\"");
    assert_span(r, o.req.if_modified_since, "d");
    assert_span(r, o.req.if_range, "\"r\"");
    assert_span(r, o.req.user_agent, "u");
    assert_span(r, o.req.referer, "f");
    assert_true(o.req.has_content_length);
    assert_true(o.req.conn_close);
}

static void test_unknown_fields_skipped(void **state)
{
    static const char r[] = OK11 "Hostname: x\r\nX-Host: y\r\nRanges: z\r\nExpect: 100-continue\r\n"
                                 "Upgrade: h2c\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.host, "h");
    assert_false(o.req.range.set);
}

/* ---- Line endings ---- */

EXPECT(test_bare_lf_request_line, "GET / HTTP/1.1\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_bare_lf_field, OK11 "X-A: a\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_bare_lf_end, OK11 "\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_bare_lf_everywhere, "GET / HTTP/1.0\n\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_bare_cr_in_value, OK11 "X-A: a\rb\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_bare_cr_end, OK11 "\rX", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_lf_in_value, OK11 "X-A: a\nb\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

/* Every proper prefix of a valid head asks for more, the last CRLF included. */
static void test_every_prefix_is_more(void **state)
{
    static const char r[] = "GET /a?b HTTP/1.1\r\nHost: h\r\nRange: bytes=0-\r\n\r\n";

    (void)state;
    for (size_t n = 0; n < sizeof(r) - 1; n++)
        assert_int_equal(parse(r, n).status, HTTP_PARSE_MORE);
    assert_int_equal(PARSE(r).status, HTTP_PARSE_DONE);
}

EXPECT(test_missing_final_crlf, OK11, HTTP_PARSE_MORE)
EXPECT(test_missing_final_lf, OK11 "\r", HTTP_PARSE_MORE)
EXPECT(test_empty_input, "", HTTP_PARSE_MORE)

/* ---- NUL bytes ---- */

/* A NUL in place of any byte of a valid head is 400, wherever it is. */
static void test_nul_anywhere(void **state)
{
    static const char r[] = "\r\nGET /a?b HTTP/1.1\r\nHost: h\r\nUser-Agent: u a\r\n\r\n";
    char buf[sizeof(r)];

    (void)state;
    for (size_t i = 0; i < sizeof(r) - 1; i++) {
        memcpy(buf, r, sizeof(r));
        buf[i] = '\0';
        assert_int_equal(parse(buf, sizeof(r) - 1).status, HTTP_PARSE_BAD_REQUEST);
    }
}

EXPECT(test_nul_after_head_unseen, OK11 "\r\n\0\0\0", HTTP_PARSE_DONE)

/* ---- Host ---- */

EXPECT(test_missing_host_11, "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_two_hosts, OK11 "Host: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_two_hosts_http10, "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_host_slash, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_host_space, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_host_userinfo, "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_host_obs_text, "GET / HTTP/1.1\r\nHost: h\xe9\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

static void test_host_forms(void **state)
{
    static const char r1[] = "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n";
    static const char r2[] = "GET / HTTP/1.1\r\nHost:\r\n\r\n"; /* RFC 9110 §7.2 */
    static const char r3[] = "GET / HTTP/1.1\r\nHost: xn--caf-dma.example_1.com.\r\n\r\n";
    struct outcome o1 = PARSE(r1), o2 = PARSE(r2), o3 = PARSE(r3);

    (void)state;
    assert_span(r1, o1.req.host, "[::1]:8080");
    assert_span(r2, o2.req.host, "");
    assert_span(r3, o3.req.host, "xn--caf-dma.example_1.com.");
}

/* ---- Content-Length and Transfer-Encoding ---- */

static void test_content_length_values(void **state)
{
    static const struct {
        const char *value;
        enum http_parse_status status;
        uint64_t n;
    } cases[] = {
        {"0", HTTP_PARSE_DONE, 0},
        {"00042", HTTP_PARSE_DONE, 42},
        {"  7 ", HTTP_PARSE_DONE, 7},
        {"18446744073709551615", HTTP_PARSE_DONE, UINT64_MAX},
        {"18446744073709551616", HTTP_PARSE_BAD_REQUEST, 0},
        {"99999999999999999999999", HTTP_PARSE_BAD_REQUEST, 0},
        {"", HTTP_PARSE_BAD_REQUEST, 0},
        {"4x", HTTP_PARSE_BAD_REQUEST, 0},
        {"+4", HTTP_PARSE_BAD_REQUEST, 0},
        {"-1", HTTP_PARSE_BAD_REQUEST, 0},
        {"4 4", HTTP_PARSE_BAD_REQUEST, 0},
        {"4, 4", HTTP_PARSE_BAD_REQUEST, 0},
        {"0x10", HTTP_PARSE_BAD_REQUEST, 0},
    };
    char buf[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = snprintf(buf, sizeof(buf), OK11 "Content-Length:%s\r\n\r\n", cases[i].value);
        struct outcome o = parse(buf, (size_t)n);
        assert_int_equal(o.status, cases[i].status);
        if (o.status == HTTP_PARSE_DONE)
            assert_true(o.req.content_length == cases[i].n);
    }
}

static void test_content_length_repeated_same(void **state)
{
    struct outcome o = PARSE(OK11 "Content-Length: 5\r\ncontent-length: 005\r\n\r\n");

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_true(o.req.content_length == 5);
}

EXPECT(test_content_length_repeated_differ, OK11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_transfer_encoding, OK11 "Transfer-Encoding: chunked\r\n\r\n",
       HTTP_PARSE_NOT_IMPLEMENTED)
EXPECT(test_transfer_encoding_identity, OK11 "transfer-encoding: identity\r\n\r\n",
       HTTP_PARSE_NOT_IMPLEMENTED)
EXPECT(test_transfer_encoding_with_length,
       OK11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_PARSE_NOT_IMPLEMENTED)

/* ---- Repeated fields ---- */

EXPECT(test_two_ranges, OK11 "Range: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_two_if_none_match, OK11 "If-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_two_if_modified_since, OK11 "If-Modified-Since: x\r\nIf-Modified-Since: x\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_two_if_range, OK11 "If-Range: \"a\"\r\nIf-Range: \"a\"\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

static void test_repeated_logged_fields_keep_first(void **state)
{
    static const char r[] = OK11 "User-Agent: one\r\nReferer: r1\r\nUser-Agent: two\r\n"
                                 "Referer: r2\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_span(r, o.req.user_agent, "one");
    assert_span(r, o.req.referer, "r1");
}

/* ---- Leading empty lines ---- */

static void test_leading_empty_line(void **state)
{
    static const char r[] = "\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = PARSE(r);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.head_len, sizeof(r) - 1);
    assert_int_equal(o.req.method_name.off, 2);
    assert_span(r, o.req.path, "/x");
}

EXPECT(test_leading_empty_lines_max,
       "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_DONE)
EXPECT(test_leading_empty_lines_over,
       "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
       HTTP_PARSE_BAD_REQUEST)
EXPECT(test_leading_only_empty_lines, "\r\n\r\n\r\n", HTTP_PARSE_MORE)
EXPECT(test_leading_bare_lf, "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)
EXPECT(test_leading_space, " GET / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST)

/* ---- Pipelining and the parser's life cycle ---- */

static void test_pipelined(void **state)
{
    static const char r[] =
        "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGE";
    struct http_parser p;
    size_t first;

    (void)state;
    http_parse_init(&p);
    assert_int_equal(http_parse(&p, r, sizeof(r) - 1), HTTP_PARSE_DONE);
    first = p.head_len;
    assert_int_equal(first, 28);
    assert_memory_equal(r + p.req.path.off, "/1", 2);
    /* The caller moves the rest to the front and starts again. */
    http_parse_init(&p);
    assert_int_equal(http_parse(&p, r + first, sizeof(r) - 1 - first), HTTP_PARSE_DONE);
    assert_memory_equal(r + first + p.req.path.off, "/2", 2);
    assert_int_equal(p.head_len, 28);
    http_parse_init(&p);
    assert_int_equal(http_parse(&p, r + 2 * first, 2), HTTP_PARSE_MORE);
    assert_int_equal(PARSE("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nBROKEN\n").head_len, 28);
}

static void test_result_is_sticky(void **state)
{
    static const char ok[] = OK11 "\r\n";
    static const char bad[] = "GET / HTTP/1.1\nHost: h\r\n\r\n";
    struct http_parser p;

    (void)state;
    http_parse_init(&p);
    assert_int_equal(http_parse(&p, ok, sizeof(ok) - 1), HTTP_PARSE_DONE);
    assert_int_equal(http_parse(&p, ok, sizeof(ok) - 1), HTTP_PARSE_DONE);
    assert_int_equal(http_parse(&p, bad, sizeof(bad) - 1), HTTP_PARSE_DONE);
    http_parse_init(&p);
    assert_int_equal(http_parse(&p, bad, sizeof(bad) - 1), HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(http_parse(&p, ok, sizeof(ok) - 1), HTTP_PARSE_BAD_REQUEST);
}

/* ---- Size limits ---- */

/* Returns a malloc'd head "GET /aaa... HTTP/1.1" whose request line is
 * line_len bytes (CRLF excluded), then extra; sets *n. */
static char *long_line(size_t line_len, const char *extra, size_t *n)
{
    size_t target = line_len - 4 - 9, elen = strlen(extra);
    char *buf = malloc(line_len + 2 + elen);

    assert_non_null(buf);
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', target - 1);
    memcpy(buf + 4 + target, " HTTP/1.1\r\n", 11);
    memcpy(buf + line_len + 2, extra, elen);
    *n = line_len + 2 + elen;
    return buf;
}

static void test_request_line_at_limit(void **state)
{
    size_t n;
    char *r = long_line(HTTP_REQUEST_LINE_MAX, "Host: h\r\n\r\n", &n);
    struct outcome o = parse(r, n);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.req.target.len, HTTP_REQUEST_LINE_MAX - 13);
    free(r);
}

static void test_request_line_over_limit(void **state)
{
    size_t n;
    char *r = long_line(HTTP_REQUEST_LINE_MAX + 1, "Host: h\r\n\r\n", &n);

    (void)state;
    assert_int_equal(parse(r, n).status, HTTP_PARSE_URI_TOO_LONG);
    free(r);
}

/* 414 comes as soon as the line is too long, without waiting for its end. */
static void test_request_line_endless(void **state)
{
    size_t n = 100000;
    char *r = malloc(n);

    (void)state;
    assert_non_null(r);
    memcpy(r, "GET /", 5);
    memset(r + 5, 'b', n - 5);
    assert_int_equal(parse(r, HTTP_REQUEST_LINE_MAX).status, HTTP_PARSE_MORE);
    assert_int_equal(parse(r, HTTP_REQUEST_LINE_MAX + 1).status, HTTP_PARSE_URI_TOO_LONG);
    assert_int_equal(parse(r, n).status, HTTP_PARSE_URI_TOO_LONG);
    memset(r, 'M', n); /* a method that never ends */
    assert_int_equal(parse(r, n).status, HTTP_PARSE_URI_TOO_LONG);
    free(r);
}

/* Returns a malloc'd head whose field lines are fields_len bytes, CRLFs included. */
static char *big_fields(size_t fields_len, size_t *n)
{
    static const char line[] = "GET / HTTP/1.1\r\n", host[] = "Host: h\r\n";
    size_t value = fields_len - (sizeof(host) - 1) - 5, off = 0;
    char *buf = malloc(fields_len + 64);

    assert_non_null(buf);
    memcpy(buf, line, sizeof(line) - 1);
    off += sizeof(line) - 1;
    memcpy(buf + off, host, sizeof(host) - 1);
    off += sizeof(host) - 1;
    memcpy(buf + off, "X: ", 3);
    memset(buf + off + 3, 'v', value);
    off += 3 + value;
    memcpy(buf + off, "\r\n\r\n", 4);
    *n = off + 4;
    return buf;
}

static void test_fields_at_limit(void **state)
{
    size_t n;
    char *r = big_fields(HTTP_FIELDS_MAX, &n);
    struct outcome o = parse(r, n);

    (void)state;
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.head_len, 16 + HTTP_FIELDS_MAX + 2);
    free(r);
}

static void test_fields_over_limit(void **state)
{
    size_t n;
    char *r = big_fields(HTTP_FIELDS_MAX + 1, &n);

    (void)state;
    assert_int_equal(parse(r, n).status, HTTP_PARSE_FIELDS_TOO_LARGE);
    free(r);
}

/* Many small fields add up; a head at every limit is HTTP_HEAD_MAX bytes. */
static void test_fields_many_small(void **state)
{
    size_t n = 0, fields, cap = HTTP_HEAD_MAX + 64;
    char *r = malloc(cap);

    (void)state;
    assert_non_null(r);
    for (unsigned i = 0; i < HTTP_LEADING_EMPTY_MAX; i++)
        n += (size_t)snprintf(r + n, cap - n, "\r\n");
    n += (size_t)snprintf(r + n, cap - n, "GET /");
    memset(r + n, 'a', HTTP_REQUEST_LINE_MAX - 14);
    n += HTTP_REQUEST_LINE_MAX - 14;
    n += (size_t)snprintf(r + n, cap - n, " HTTP/1.1\r\n");
    fields = n;
    n += (size_t)snprintf(r + n, cap - n, "Host: h\r\n");
    while (n - fields + 8 <= HTTP_FIELDS_MAX)
        n += (size_t)snprintf(r + n, cap - n, "X-Y: z\r\n");
    /* Fill the last bytes with one line "X:...\r\n", then the final CRLF. */
    memcpy(r + n, "X:vvvvvvvv", 10);
    n = fields + HTTP_FIELDS_MAX;
    memcpy(r + n - 2, "\r\n\r\n", 4);
    assert_int_equal(n + 2, HTTP_HEAD_MAX);
    assert_int_equal(parse(r, n + 2).status, HTTP_PARSE_DONE);
    memcpy(r + n - 2, "v\r\n\r\n", 5);
    assert_int_equal(parse(r, n + 3).status, HTTP_PARSE_FIELDS_TOO_LARGE);
    free(r);
}

static void test_field_name_endless(void **state)
{
    size_t n = 16 + HTTP_FIELDS_MAX + 100;
    char *r = malloc(n);

    (void)state;
    assert_non_null(r);
    memcpy(r, "GET / HTTP/1.1\r\n", 16);
    memset(r + 16, 'N', n - 16);
    assert_int_equal(parse(r, 16 + HTTP_FIELDS_MAX).status, HTTP_PARSE_MORE);
    assert_int_equal(parse(r, n).status, HTTP_PARSE_FIELDS_TOO_LARGE);
    free(r);
}

/* ---- Status reasons ---- */

static void test_status_reason(void **state)
{
    static const int codes[] = {200, 206, 301, 304, 400, 403, 404, 405, 408,
                                412, 414, 416, 431, 500, 501, 503, 505};

    (void)state;
    assert_string_equal(http_status_reason(404), "Not Found");
    assert_string_equal(http_status_reason(416), "Range Not Satisfiable");
    assert_string_equal(http_status_reason(505), "HTTP Version Not Supported");
    assert_string_equal(http_status_reason(999), "");
    assert_string_equal(http_status_reason(-1), "");
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_true(http_status_reason(codes[i])[0] != '\0');
    /* Every parse error names a status that has a reason. */
    assert_string_equal(http_status_reason(HTTP_PARSE_FIELDS_TOO_LARGE),
                        "Request Header Fields Too Large");
    assert_string_equal(http_status_reason(HTTP_PARSE_URI_TOO_LONG), "URI Too Long");
}

static void test_list_next(void **state)
{
    static const char s[] = " ,a, b c ,,\t,d\t";
    const char *e;
    size_t pos = 0, n;

    (void)state;
    assert_true(http_list_next(s, sizeof(s) - 1, &pos, &e, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(e, "a", 1);
    assert_true(http_list_next(s, sizeof(s) - 1, &pos, &e, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(e, "b c", 3);
    assert_true(http_list_next(s, sizeof(s) - 1, &pos, &e, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(e, "d", 1);
    assert_false(http_list_next(s, sizeof(s) - 1, &pos, &e, &n));
    pos = 0;
    assert_false(http_list_next(" , ,", 4, &pos, &e, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_other_method),
        cmocka_unit_test(test_method_case),
        cmocka_unit_test(test_method_all_tchars),
        cmocka_unit_test(test_method_bad_char),
        cmocka_unit_test(test_method_at_sign),
        cmocka_unit_test(test_method_high_byte),
        cmocka_unit_test(test_empty_method),
        cmocka_unit_test(test_http10_no_host),
        cmocka_unit_test(test_keep_alive_http10),
        cmocka_unit_test(test_close_http11),
        cmocka_unit_test(test_connection_list),
        cmocka_unit_test(test_connection_several_lines),
        cmocka_unit_test(test_connection_not_substrings),
        cmocka_unit_test(test_keep_alive_table),
        cmocka_unit_test(test_version_2_0),
        cmocka_unit_test(test_version_0_9),
        cmocka_unit_test(test_version_1_2),
        cmocka_unit_test(test_version_3),
        cmocka_unit_test(test_version_h2_preface),
        cmocka_unit_test(test_version_httx),
        cmocka_unit_test(test_version_trailing_junk),
        cmocka_unit_test(test_version_leading_zero),
        cmocka_unit_test(test_version_lower_case),
        cmocka_unit_test(test_version_malformed_others),
        cmocka_unit_test(test_double_space_before_target),
        cmocka_unit_test(test_double_space_before_version),
        cmocka_unit_test(test_tab_separator),
        cmocka_unit_test(test_space_in_target),
        cmocka_unit_test(test_origin_query),
        cmocka_unit_test(test_origin_empty_query),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_absolute_form_scheme_case),
        cmocka_unit_test(test_absolute_form_no_path),
        cmocka_unit_test(test_absolute_form_needs_host),
        cmocka_unit_test(test_absolute_form_empty_authority),
        cmocka_unit_test(test_absolute_form_userinfo),
        cmocka_unit_test(test_absolute_form_https),
        cmocka_unit_test(test_absolute_form_other_scheme),
        cmocka_unit_test(test_asterisk_get),
        cmocka_unit_test(test_authority_get),
        cmocka_unit_test(test_relative_target),
        cmocka_unit_test(test_fragment),
        cmocka_unit_test(test_target_high_byte),
        cmocka_unit_test(test_target_control),
        cmocka_unit_test(test_options_asterisk),
        cmocka_unit_test(test_connect_authority),
        cmocka_unit_test(test_obs_fold),
        cmocka_unit_test(test_obs_fold_tab),
        cmocka_unit_test(test_space_before_first_field),
        cmocka_unit_test(test_space_before_colon),
        cmocka_unit_test(test_tab_before_colon),
        cmocka_unit_test(test_empty_field_name),
        cmocka_unit_test(test_field_name_bad_char),
        cmocka_unit_test(test_field_without_colon),
        cmocka_unit_test(test_value_control),
        cmocka_unit_test(test_value_del),
        cmocka_unit_test(test_value_escape),
        cmocka_unit_test(test_value_obs_text),
        cmocka_unit_test(test_value_whitespace_trimmed),
        cmocka_unit_test(test_value_empty),
        cmocka_unit_test(test_value_with_colons),
        cmocka_unit_test(test_name_case_insensitive),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_bare_lf_request_line),
        cmocka_unit_test(test_bare_lf_field),
        cmocka_unit_test(test_bare_lf_end),
        cmocka_unit_test(test_bare_lf_everywhere),
        cmocka_unit_test(test_bare_cr_in_value),
        cmocka_unit_test(test_bare_cr_end),
        cmocka_unit_test(test_lf_in_value),
        cmocka_unit_test(test_every_prefix_is_more),
        cmocka_unit_test(test_missing_final_crlf),
        cmocka_unit_test(test_missing_final_lf),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_nul_anywhere),
        cmocka_unit_test(test_nul_after_head_unseen),
        cmocka_unit_test(test_missing_host_11),
        cmocka_unit_test(test_two_hosts),
        cmocka_unit_test(test_two_hosts_http10),
        cmocka_unit_test(test_host_slash),
        cmocka_unit_test(test_host_space),
        cmocka_unit_test(test_host_userinfo),
        cmocka_unit_test(test_host_obs_text),
        cmocka_unit_test(test_host_forms),
        cmocka_unit_test(test_content_length_values),
        cmocka_unit_test(test_content_length_repeated_same),
        cmocka_unit_test(test_content_length_repeated_differ),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_transfer_encoding_identity),
        cmocka_unit_test(test_transfer_encoding_with_length),
        cmocka_unit_test(test_two_ranges),
        cmocka_unit_test(test_two_if_none_match),
        cmocka_unit_test(test_two_if_modified_since),
        cmocka_unit_test(test_two_if_range),
        cmocka_unit_test(test_repeated_logged_fields_keep_first),
        cmocka_unit_test(test_leading_empty_line),
        cmocka_unit_test(test_leading_empty_lines_max),
        cmocka_unit_test(test_leading_empty_lines_over),
        cmocka_unit_test(test_leading_only_empty_lines),
        cmocka_unit_test(test_leading_bare_lf),
        cmocka_unit_test(test_leading_space),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_result_is_sticky),
        cmocka_unit_test(test_request_line_at_limit),
        cmocka_unit_test(test_request_line_over_limit),
        cmocka_unit_test(test_request_line_endless),
        cmocka_unit_test(test_fields_at_limit),
        cmocka_unit_test(test_fields_over_limit),
        cmocka_unit_test(test_fields_many_small),
        cmocka_unit_test(test_field_name_endless),
        cmocka_unit_test(test_status_reason),
        cmocka_unit_test(test_list_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
