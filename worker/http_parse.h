/*
 * http_parse: an incremental parser for HTTP/1.0 and 1.1 request heads
 * (RFC 9112: the request line and the header section, not the body).
 *
 * Pure: no I/O, no allocation, no clock, no logging. The caller keeps a
 * request's bytes in its own buffer, starting with the request's first byte,
 * and calls http_parse() with the whole buffer each time more bytes arrive;
 * the parser resumes at the first byte it has not seen, so a head arriving
 * one byte at a time costs O(n) in all. Every result is a span (an offset
 * and a length into that buffer), never a pointer: the caller may move or
 * grow the buffer between calls, as long as the bytes it already passed keep
 * their offsets. The outcome depends only on the bytes, never on how reads
 * split them.
 *
 * Limits (exact): the request line may hold HTTP_REQUEST_LINE_MAX bytes, its
 * CRLF not counted (one byte more: 414); the field lines together may hold
 * HTTP_FIELDS_MAX bytes, their CRLFs counted and the final empty line not
 * (one byte more: 431); up to HTTP_LEADING_EMPTY_MAX empty lines before the
 * request line are skipped (one more: 400). So HTTP_HEAD_MAX bytes hold any
 * head this parser accepts.
 *
 * Strict choices (each answered 400 unless named), see http_parse.c for the
 * RFC rule behind each: bare LF or bare CR anywhere; obs-fold and any
 * whitespace at the start of a field line; whitespace before a field's
 * colon; an empty or non-token field name; a control byte other than HT in a
 * field value (obs-text 0x80-0xFF is allowed); NUL anywhere; a request line
 * that is not exactly "method SP target SP version"; a target byte outside
 * VCHAR or a '#'; a version that is not "HTTP/" DIGIT "." DIGIT (a well-formed
 * one other than 1.0 and 1.1, or "HTTP/" DIGIT other than 1: 505); no Host in
 * HTTP/1.1, two Host lines, or a Host outside the authority characters;
 * Content-Length not all digits, over 2^64-1, a list, or two that differ;
 * Transfer-Encoding of any value (501); Range, If-Range, If-None-Match or
 * If-Modified-Since sent twice; an absolute-form target with a scheme other
 * than http, an empty authority or userinfo; asterisk-form and authority-form
 * with GET or HEAD (with any other method they parse, for the handler's 405).
 */
#ifndef FERRY_HTTP_PARSE_H
#define FERRY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REQUEST_LINE_MAX  8192  /* request-line bytes, CRLF excluded */
#define HTTP_FIELDS_MAX        16384 /* field-line bytes with their CRLFs, final CRLF excluded */
#define HTTP_LEADING_EMPTY_MAX 8     /* empty lines (CRLF) skipped before the request line */
#define HTTP_HEAD_MAX          (2 * HTTP_LEADING_EMPTY_MAX + HTTP_REQUEST_LINE_MAX + 2 + HTTP_FIELDS_MAX + 2)

/* What http_parse() returns: the errors are the HTTP status to answer. */
enum http_parse_status {
    HTTP_PARSE_MORE = 0,               /* the head is incomplete: read more */
    HTTP_PARSE_DONE = 1,               /* the head is complete: see head_len and req */
    HTTP_PARSE_BAD_REQUEST = 400,      /* malformed */
    HTTP_PARSE_URI_TOO_LONG = 414,     /* request line over HTTP_REQUEST_LINE_MAX */
    HTTP_PARSE_FIELDS_TOO_LARGE = 431, /* field lines over HTTP_FIELDS_MAX */
    HTTP_PARSE_NOT_IMPLEMENTED = 501,  /* Transfer-Encoding in the request */
    HTTP_PARSE_BAD_VERSION = 505,      /* an HTTP version other than 1.0 and 1.1 */
};

enum http_method {
    HTTP_METHOD_OTHER = 0, /* any other valid token: the handler answers 405 */
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
};

/* The request-target's form (RFC 9112 §3.2). */
enum http_form {
    HTTP_FORM_ORIGIN = 0, /* "/path?query" */
    HTTP_FORM_ABSOLUTE,   /* "http://authority/path?query" */
    HTTP_FORM_AUTHORITY,  /* "host:port", only with a method other than GET and HEAD */
    HTTP_FORM_ASTERISK,   /* "*", only with a method other than GET and HEAD */
};

/* Bytes [off, off + len) of the caller's buffer; set tells an empty value from none. */
struct http_span {
    uint32_t off;
    uint32_t len;
    bool set;
};

/* A parsed request head. Field spans exclude the surrounding whitespace. */
struct http_request {
    enum http_method method;
    unsigned version_minor; /* 0 or 1: the version is 1.x */
    enum http_form form;
    struct http_span method_name; /* the method token as sent */
    struct http_span target;      /* the request-target as sent (for the log) */
    struct http_span path;        /* origin or absolute form: the path, before '?'; empty
                                     for "http://host" (meaning "/"), unset otherwise */
    struct http_span query;       /* after '?', when there is one */
    struct http_span host;        /* Host, or the authority of an absolute-form target */
    struct http_span range;
    struct http_span if_none_match;
    struct http_span if_modified_since;
    struct http_span if_range;
    struct http_span user_agent; /* the first one when repeated */
    struct http_span referer;    /* the first one when repeated */
    bool conn_close;             /* Connection lists "close" */
    bool conn_keep_alive;        /* Connection lists "keep-alive" */
    bool has_content_length;
    uint64_t content_length; /* 0 when absent */
};

/* The parser's state; zero it with http_parse_init(), then only read req and head_len. */
struct http_parser {
    struct http_request req; /* meaningful once http_parse() returned DONE */
    size_t head_len;         /* DONE: the head's bytes, leading empty lines included */
    /* Private. */
    size_t pos;                 /* the next byte to look at */
    size_t line;                /* where the request line or the current field line starts */
    size_t target;              /* where the target starts */
    size_t version;             /* where the version starts */
    size_t fields;              /* where the field lines start */
    size_t name_end;            /* the current field's colon */
    size_t value;               /* the current field value's first byte */
    size_t value_end;           /* one past its last non-whitespace byte */
    struct http_span authority; /* an absolute-form target's authority */
    unsigned empties;           /* leading empty lines seen */
    unsigned state;
    enum http_parse_status status;
};

/* Prepares p for a new request head. */
void http_parse_init(struct http_parser *p);

/*
 * Parses buf[0, len), the request's bytes so far (buf[0] its first byte,
 * the bytes of earlier calls unchanged). Returns HTTP_PARSE_MORE, or
 * HTTP_PARSE_DONE (p->head_len and p->req are then set; the bytes after
 * head_len are a body or the next pipelined request, never looked at), or an
 * error whose value is the status to answer before closing. Once it returned
 * anything but MORE, it returns the same again.
 */
enum http_parse_status http_parse(struct http_parser *p, const char *buf, size_t len);

/*
 * Returns whether the connection persists after this request (RFC 9112
 * §9.3): never with "close", by default in HTTP/1.1, in HTTP/1.0 only with
 * "keep-alive".
 */
bool http_keep_alive(const struct http_request *req);

/* Returns the reason phrase of status code ("Not Found"), or "" for one it does not know. */
const char *http_status_reason(int code);

/*
 * Walks a comma-separated list (RFC 9110 §5.6.1: "#rule"): from *pos in
 * s[0, len), finds the next non-empty element, sets *elem and *elem_len to
 * it without its surrounding whitespace and moves *pos past it. Returns
 * false when no element is left. Elements cannot hold a quoted comma.
 */
bool http_list_next(const char *s, size_t len, size_t *pos, const char **elem, size_t *elem_len);

#endif
