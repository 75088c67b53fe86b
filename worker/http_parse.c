/*
 * http_parse: the request-head parser. See http_parse.h.
 *
 * A state machine fed one byte at a time, one function per state, driven
 * by a table that also says which size limit a state's bytes count against.
 * It stops at the first byte that decides the outcome, so the outcome is a
 * function of the bytes alone. A line is interpreted (method, version,
 * target, field value) once, when its LF arrives: each byte is looked at
 * once by the machine and at most once more with its line, O(n) in all.
 *
 * Why the strict choices (RFC 9112 unless named):
 * - Bare LF (§2.2 lets a recipient accept it) and bare CR: 400. A server
 *   and a proxy in front of it that split lines differently is how
 *   request smuggling starts; ferry accepts only CRLF.
 * - obs-fold (§5.2) and whitespace before the first field line (§2.2): 400,
 *   both options the RFC gives a server; folding is also a smuggling vector.
 * - Whitespace between a field name and its colon: 400 (§5.1 MUST).
 * - Field values: VCHAR, SP, HT and obs-text (RFC 9110 §5.5). CR, LF and
 *   NUL are a MUST-reject; other controls are invalid, so 400 too.
 * - Leading empty lines (§2.2 SHOULD ignore at least one): up to 8, so a
 *   client's stray CRLF after a body is harmless but a stream of them ends.
 * - The request line (§3): exactly single spaces, no HT (the RFC lets a
 *   server accept other whitespace; ferry does not). A target byte outside
 *   VCHAR or a '#' (a fragment is never sent, RFC 9110 §7.1) is 400; raw
 *   UTF-8 in a target is not a URI (RFC 3986) and is 400 too.
 * - The version: "HTTP/1.0" and "HTTP/1.1" are served; a well-formed other
 *   version ("HTTP/" DIGIT "." DIGIT, or the "HTTP/2" and "HTTP/3" a
 *   confused client may send) is 505; anything else, lower case
 *   included (§2.3: HTTP-name is case-sensitive), is 400. A request line
 *   without a version (HTTP/0.9's "GET /") is 400.
 * - Host (§3.2): missing in 1.1, repeated or not made of authority bytes
 *   (RFC 3986 §3.2.2; no '@', '/' or space): 400. With an absolute-form
 *   target the authority replaces it (§3.2.2) but Host is still required.
 * - Content-Length (§6.3): digits only; repeated lines must agree; a list
 *   ("4, 4") is 400, which the RFC allows; values over 2^64-1 are 400.
 * - Transfer-Encoding of any value: 501 (§6.1: a server that does not
 *   understand a coding SHOULD answer 501; ferry takes no request bodies
 *   in chunks). The connection must close after it, as after any error.
 * - Range, If-Range, If-None-Match, If-Modified-Since twice: 400. No
 *   client sends them twice, and picking one could change what is served
 *   (two Range lines, or If-Range dropped while Range stays).
 * - Targets (§3.2): the http scheme only (case-insensitive), no userinfo
 *   (RFC 9110 §4.2.4), a non-empty authority. "*" and "host:port" are
 *   400 with GET and HEAD and parse with any other method, so that
 *   "OPTIONS *" and "CONNECT host:443" get the handler's 405.
 */
#include "worker/http_parse.h"

#include <string.h>

#include "worker/http_ascii.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum hp_state_id {
    HP_START,    /* before the request line: an empty line or the method */
    HP_START_LF, /* an empty line's LF */
    HP_METHOD,
    HP_TARGET,
    HP_VERSION,
    HP_LINE_LF, /* the request line's LF */
    HP_FIELD,   /* a field line's first byte, or the final empty line's CR */
    HP_NAME,
    HP_OWS, /* the whitespace before a field value */
    HP_VALUE,
    HP_FIELD_LF,
    HP_END_LF,
};

/* Byte classes. */
#define T 0x01 /* tchar (RFC 9110 §5.6.2) */
#define V 0x02 /* VCHAR */
#define W 0x04 /* SP, HT */
#define H 0x08 /* may appear in an authority: unreserved, sub-delims, '%', ':', '[', ']' */
#define O 0x10 /* obs-text, 0x80-0xFF (not in the table) */

/* Combinations, to keep the table's rows short. */
#define TV  (T | V)
#define VH  (V | H)
#define TVH (T | V | H)

/* clang-format off */
static const unsigned char hp_ascii[128] = {
    /* 0_ */   0,   0,   0,   0,   0,   0,   0,   0,   0,   W,   0,   0,   0,   0,   0,   0,
    /* 1_ */   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    /* 2_ */   W, TVH,   V,  TV, TVH, TVH, TVH, TVH,  VH,  VH, TVH, TVH,  VH, TVH, TVH,   V,
    /* 3_ */ TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH,  VH,  VH,   V,  VH,   V,   V,
    /* 4_ */   V, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH,
    /* 5_ */ TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH,  VH,   V,  VH,  TV, TVH,
    /* 6_ */  TV, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH,
    /* 7_ */ TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH, TVH,   V,  TV,   V, TVH,   0,
};
/* clang-format on */

static unsigned hp_class(unsigned char c)
{
    return c < 0x80 ? hp_ascii[c] : O;
}

/* Returns whether all of s[0, n) are in class. */
static bool hp_all(const char *s, size_t n, unsigned class)
{
    for (size_t i = 0; i < n; i++)
        if (!(hp_class((unsigned char)s[i]) & class))
            return false;
    return true;
}

static struct http_span hp_span(size_t off, size_t len)
{
    return (struct http_span){(uint32_t)off, (uint32_t)len, true};
}

/* ---- Interpreting a complete request line ---- */

static const struct {
    const char *name;
    size_t len;
    enum http_method method;
} hp_methods[] = {
    {"GET", 3, HTTP_METHOD_GET},
    {"HEAD", 4, HTTP_METHOD_HEAD},
};

static enum http_method hp_method_of(const char *s, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(hp_methods); i++)
        if (n == hp_methods[i].len && memcmp(s, hp_methods[i].name, n) == 0)
            return hp_methods[i].method;
    return HTTP_METHOD_OTHER;
}

/* Returns 0 for HTTP/1.0 or 1.1 (setting *minor), else the status to answer. */
static int hp_version_of(const char *v, size_t n, unsigned *minor)
{
    if (n < 6 || memcmp(v, "HTTP/", 5) != 0 || !http_ascii_digit((unsigned char)v[5]))
        return HTTP_PARSE_BAD_REQUEST;
    if (n == 6) /* "HTTP/2", "HTTP/3" */
        return v[5] == '1' ? HTTP_PARSE_BAD_REQUEST : HTTP_PARSE_BAD_VERSION;
    if (n != 8 || v[6] != '.' || !http_ascii_digit((unsigned char)v[7]))
        return HTTP_PARSE_BAD_REQUEST;
    if (v[5] != '1' || v[7] > '1')
        return HTTP_PARSE_BAD_VERSION;
    *minor = (unsigned)(v[7] - '0');
    return 0;
}

/* Sets the path and query of the target part that starts at off (a '/' or '?' or the end). */
static void hp_path_query(struct http_request *r, const char *buf, size_t off, size_t end)
{
    const char *q = memchr(buf + off, '?', end - off);
    size_t path_end = q ? (size_t)(q - buf) : end;

    r->path = hp_span(off, path_end - off);
    if (q)
        r->query = hp_span(path_end + 1, end - path_end - 1);
}

/* "http://authority[/path][?query]": returns 0 or 400. */
static int hp_absolute(struct http_parser *p, const char *buf, size_t off, size_t end)
{
    size_t a = off;

    while (a < end && buf[a] != '/' && buf[a] != '?')
        a++;
    if (a == off || !hp_all(buf + off, a - off, H))
        return HTTP_PARSE_BAD_REQUEST;
    p->authority = hp_span(off, a - off);
    p->req.form = HTTP_FORM_ABSOLUTE;
    hp_path_query(&p->req, buf, a, end);
    return 0;
}

/* Classifies the target (RFC 9112 §3.2): returns 0 or 400. */
static int hp_target_of(struct http_parser *p, const char *buf)
{
    struct http_request *r = &p->req;
    const char *t = buf + r->target.off;
    size_t n = r->target.len, end = r->target.off + n;
    bool other = r->method == HTTP_METHOD_OTHER;

    if (t[0] == '/') {
        r->form = HTTP_FORM_ORIGIN;
        hp_path_query(r, buf, r->target.off, end);
        return 0;
    }
    if (n >= 7 && http_ascii_ci_equal(t, "http://", 7))
        return hp_absolute(p, buf, r->target.off + 7, end);
    if (n == 1 && t[0] == '*') {
        r->form = HTTP_FORM_ASTERISK;
        return other ? 0 : HTTP_PARSE_BAD_REQUEST;
    }
    r->form = HTTP_FORM_AUTHORITY;
    return other && hp_all(t, n, H) ? 0 : HTTP_PARSE_BAD_REQUEST;
}

/* The request line [p->line, p->pos - 1) is complete: returns 0 or the status to answer. */
static int hp_request_line(struct http_parser *p, const char *buf)
{
    struct http_request *r = &p->req;
    size_t cr = p->pos - 1;
    int st;

    r->method_name = hp_span(p->line, p->target - 1 - p->line);
    r->method = hp_method_of(buf + p->line, r->method_name.len);
    st = hp_version_of(buf + p->version, cr - p->version, &r->version_minor);
    if (st != 0)
        return st;
    r->target = hp_span(p->target, p->version - 1 - p->target);
    return hp_target_of(p, buf);
}

/* ---- Interpreting a complete field line ---- */

struct hp_field;
typedef int hp_apply_fn(struct http_parser *p, const char *buf, const struct hp_field *f,
                        struct http_span v);

struct hp_field {
    const char *name; /* lower case */
    size_t len;
    hp_apply_fn *apply;
    size_t span; /* offsetof the span in struct http_request, for the span fields */
};

static struct http_span *hp_span_at(struct http_parser *p, const struct hp_field *f)
{
    return (struct http_span *)(void *)((char *)&p->req + f->span);
}

/* A field that may appear once. */
static int hp_once(struct http_parser *p, const char *buf, const struct hp_field *f,
                   struct http_span v)
{
    struct http_span *s = hp_span_at(p, f);

    (void)buf;
    if (s->set)
        return HTTP_PARSE_BAD_REQUEST;
    *s = v;
    return 0;
}

/* A field only logged: the first one counts. */
static int hp_first(struct http_parser *p, const char *buf, const struct hp_field *f,
                    struct http_span v)
{
    struct http_span *s = hp_span_at(p, f);

    (void)buf;
    if (!s->set)
        *s = v;
    return 0;
}

static int hp_host(struct http_parser *p, const char *buf, const struct hp_field *f,
                   struct http_span v)
{
    if (!hp_all(buf + v.off, v.len, H))
        return HTTP_PARSE_BAD_REQUEST;
    return hp_once(p, buf, f, v);
}

static int hp_content_length(struct http_parser *p, const char *buf, const struct hp_field *f,
                             struct http_span v)
{
    struct http_request *r = &p->req;
    uint64_t n = 0;

    (void)f;
    if (v.len == 0)
        return HTTP_PARSE_BAD_REQUEST;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)buf[v.off + i];
        if (!http_ascii_digit(c) || n > (UINT64_MAX - (c - '0')) / 10)
            return HTTP_PARSE_BAD_REQUEST;
        n = n * 10 + (c - '0');
    }
    if (r->has_content_length && r->content_length != n)
        return HTTP_PARSE_BAD_REQUEST;
    r->has_content_length = true;
    r->content_length = n;
    return 0;
}

static int hp_transfer_encoding(struct http_parser *p, const char *buf, const struct hp_field *f,
                                struct http_span v)
{
    (void)p, (void)buf, (void)f, (void)v;
    return HTTP_PARSE_NOT_IMPLEMENTED;
}

static int hp_connection(struct http_parser *p, const char *buf, const struct hp_field *f,
                         struct http_span v)
{
    const char *e;
    size_t pos = 0, n;

    (void)f;
    while (http_list_next(buf + v.off, v.len, &pos, &e, &n)) {
        if (n == 5 && http_ascii_ci_equal(e, "close", 5))
            p->req.conn_close = true;
        else if (n == 10 && http_ascii_ci_equal(e, "keep-alive", 10))
            p->req.conn_keep_alive = true;
    }
    return 0;
}

#define HP_SPAN_FIELD(name, fn, member)                                                            \
    {                                                                                              \
        name, sizeof(name) - 1, fn, offsetof(struct http_request, member)                          \
    }
#define HP_FN_FIELD(name, fn)                                                                      \
    {                                                                                              \
        name, sizeof(name) - 1, fn, 0                                                              \
    }

/* The fields ferry reads; the others are skipped. */
static const struct hp_field hp_fields[] = {
    HP_SPAN_FIELD("host", hp_host, host),
    HP_FN_FIELD("connection", hp_connection),
    HP_FN_FIELD("content-length", hp_content_length),
    HP_FN_FIELD("transfer-encoding", hp_transfer_encoding),
    HP_SPAN_FIELD("range", hp_once, range),
    HP_SPAN_FIELD("if-none-match", hp_once, if_none_match),
    HP_SPAN_FIELD("if-modified-since", hp_once, if_modified_since),
    HP_SPAN_FIELD("if-range", hp_once, if_range),
    HP_SPAN_FIELD("user-agent", hp_first, user_agent),
    HP_SPAN_FIELD("referer", hp_first, referer),
};

/* The field line at p->line is complete: returns 0 or the status to answer. */
static int hp_field_line(struct http_parser *p, const char *buf)
{
    const char *name = buf + p->line;
    size_t n = p->name_end - p->line;
    struct http_span v = hp_span(p->value, p->value_end - p->value);

    for (size_t i = 0; i < ARRAY_LEN(hp_fields); i++)
        if (n == hp_fields[i].len && http_ascii_ci_equal(name, hp_fields[i].name, n))
            return hp_fields[i].apply(p, buf, &hp_fields[i], v);
    return 0;
}

/* The final CRLF arrived. */
static int hp_finish(struct http_parser *p)
{
    struct http_request *r = &p->req;

    if (r->version_minor == 1 && !r->host.set)
        return HTTP_PARSE_BAD_REQUEST;
    if (r->form == HTTP_FORM_ABSOLUTE)
        r->host = p->authority;
    p->head_len = p->pos + 1;
    return HTTP_PARSE_DONE;
}

/* ---- The states: each returns MORE to go on, or the outcome ---- */

typedef int hp_state_fn(struct http_parser *p, const char *buf, unsigned char c);

static int hp_goto(struct http_parser *p, unsigned state)
{
    p->state = state;
    return HTTP_PARSE_MORE;
}

static int hp_start(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == '\r')
        return p->empties == HTTP_LEADING_EMPTY_MAX ? HTTP_PARSE_BAD_REQUEST
                                                    : hp_goto(p, HP_START_LF);
    if (!(hp_class(c) & T))
        return HTTP_PARSE_BAD_REQUEST;
    p->line = p->pos;
    return hp_goto(p, HP_METHOD);
}

static int hp_start_lf(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c != '\n')
        return HTTP_PARSE_BAD_REQUEST;
    p->empties++;
    return hp_goto(p, HP_START);
}

static int hp_method(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == ' ') {
        p->target = p->pos + 1;
        return hp_goto(p, HP_TARGET);
    }
    return hp_class(c) & T ? HTTP_PARSE_MORE : HTTP_PARSE_BAD_REQUEST;
}

static int hp_target(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == ' ') {
        if (p->pos == p->target)
            return HTTP_PARSE_BAD_REQUEST;
        p->version = p->pos + 1;
        return hp_goto(p, HP_VERSION);
    }
    return (hp_class(c) & V) && c != '#' ? HTTP_PARSE_MORE : HTTP_PARSE_BAD_REQUEST;
}

static int hp_version(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == '\r')
        return hp_goto(p, HP_LINE_LF);
    /* "HTTP/1.1" is 8 bytes: a 9th is never valid. */
    if (!(hp_class(c) & V) || p->pos - p->version >= 8)
        return HTTP_PARSE_BAD_REQUEST;
    return HTTP_PARSE_MORE;
}

static int hp_line_lf(struct http_parser *p, const char *buf, unsigned char c)
{
    int st;

    if (c != '\n')
        return HTTP_PARSE_BAD_REQUEST;
    st = hp_request_line(p, buf);
    if (st != 0)
        return st;
    p->fields = p->pos + 1;
    return hp_goto(p, HP_FIELD);
}

static int hp_field(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == '\r')
        return hp_goto(p, HP_END_LF);
    if (!(hp_class(c) & T)) /* obs-fold, whitespace, ':' (an empty name), a control */
        return HTTP_PARSE_BAD_REQUEST;
    p->line = p->pos;
    return hp_goto(p, HP_NAME);
}

static int hp_name(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == ':') {
        p->name_end = p->pos;
        p->value = p->value_end = p->pos + 1;
        return hp_goto(p, HP_OWS);
    }
    return hp_class(c) & T ? HTTP_PARSE_MORE : HTTP_PARSE_BAD_REQUEST;
}

static int hp_value(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    if (c == '\r')
        return hp_goto(p, HP_FIELD_LF);
    if (!(hp_class(c) & (V | W | O)))
        return HTTP_PARSE_BAD_REQUEST;
    if (!(hp_class(c) & W))
        p->value_end = p->pos + 1;
    return HTTP_PARSE_MORE;
}

static int hp_ows(struct http_parser *p, const char *buf, unsigned char c)
{
    if (hp_class(c) & W) {
        p->value = p->value_end = p->pos + 1;
        return HTTP_PARSE_MORE;
    }
    p->state = HP_VALUE;
    return hp_value(p, buf, c);
}

static int hp_field_lf(struct http_parser *p, const char *buf, unsigned char c)
{
    int st;

    if (c != '\n')
        return HTTP_PARSE_BAD_REQUEST;
    st = hp_field_line(p, buf);
    if (st != 0)
        return st;
    return hp_goto(p, HP_FIELD);
}

static int hp_end_lf(struct http_parser *p, const char *buf, unsigned char c)
{
    (void)buf;
    return c == '\n' ? hp_finish(p) : HTTP_PARSE_BAD_REQUEST;
}

/* Which size limit a state's bytes count against. */
enum hp_limit {
    HP_NO_LIMIT,
    HP_LINE,      /* the request line; its CR does not count */
    HP_FIELDS,    /* the field lines, CRLFs included */
    HP_FIELDS_CR, /* a field line's first byte: the final empty line's CR does not count */
};

static const struct {
    hp_state_fn *fn;
    enum hp_limit limit;
} hp_states[] = {
    [HP_START] = {hp_start, HP_NO_LIMIT},     [HP_START_LF] = {hp_start_lf, HP_NO_LIMIT},
    [HP_METHOD] = {hp_method, HP_LINE},       [HP_TARGET] = {hp_target, HP_LINE},
    [HP_VERSION] = {hp_version, HP_LINE},     [HP_LINE_LF] = {hp_line_lf, HP_NO_LIMIT},
    [HP_FIELD] = {hp_field, HP_FIELDS_CR},    [HP_NAME] = {hp_name, HP_FIELDS},
    [HP_OWS] = {hp_ows, HP_FIELDS},           [HP_VALUE] = {hp_value, HP_FIELDS},
    [HP_FIELD_LF] = {hp_field_lf, HP_FIELDS}, [HP_END_LF] = {hp_end_lf, HP_NO_LIMIT},
};

/* Returns the status when byte c at p->pos would break its state's limit, else 0. */
static int hp_over(const struct http_parser *p, enum hp_limit limit, unsigned char c)
{
    switch (limit) {
    case HP_LINE:
        return c != '\r' && p->pos - p->line >= HTTP_REQUEST_LINE_MAX ? HTTP_PARSE_URI_TOO_LONG : 0;
    case HP_FIELDS_CR:
        if (c == '\r')
            return 0;
        /* fall through */
    case HP_FIELDS:
        return p->pos - p->fields >= HTTP_FIELDS_MAX ? HTTP_PARSE_FIELDS_TOO_LARGE : 0;
    case HP_NO_LIMIT:
        break;
    }
    return 0;
}

void http_parse_init(struct http_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->state = HP_START;
    p->status = HTTP_PARSE_MORE;
}

enum http_parse_status http_parse(struct http_parser *p, const char *buf, size_t len)
{
    while (p->status == HTTP_PARSE_MORE && p->pos < len) {
        unsigned char c = (unsigned char)buf[p->pos];
        int st = hp_over(p, hp_states[p->state].limit, c);

        if (st == 0)
            st = hp_states[p->state].fn(p, buf, c);
        p->status = (enum http_parse_status)st;
        p->pos++;
    }
    return p->status;
}

bool http_keep_alive(const struct http_request *req)
{
    if (req->conn_close)
        return false;
    return req->version_minor >= 1 || req->conn_keep_alive;
}

static const struct {
    int code;
    const char *reason;
} http_reasons[] = {
    {200, "OK"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {416, "Range Not Satisfiable"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

const char *http_status_reason(int code)
{
    for (size_t i = 0; i < ARRAY_LEN(http_reasons); i++)
        if (http_reasons[i].code == code)
            return http_reasons[i].reason;
    return "";
}

bool http_list_next(const char *s, size_t len, size_t *pos, const char **elem, size_t *elem_len)
{
    size_t i = *pos;

    while (i < len) {
        size_t start, end;

        while (i < len && (s[i] == ',' || http_ascii_ows((unsigned char)s[i])))
            i++;
        start = i;
        while (i < len && s[i] != ',')
            i++;
        end = i;
        while (end > start && http_ascii_ows((unsigned char)s[end - 1]))
            end--;
        if (end > start) {
            *pos = i;
            *elem = s + start;
            *elem_len = end - start;
            return true;
        }
    }
    *pos = i;
    return false;
}
