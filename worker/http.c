/*
 * http: HTTP/1.1 as a state machine over one connection. See http.h and
 * docs/HTTP.md.
 *
 * Phases: HEAD (reading a request head; idle between two requests of a
 * persistent connection), SEND (a response queued), INDEX (a directory
 * listing queued in batches). A response is a head built here into the
 * connection's output buffer and, for a file, a range of the opened file
 * that the engine sends with sendfile(); header and body leave together
 * (MSG_MORE, or TCP_CORK on a connection's last response).
 */
#include "worker/http.h"

#include "common/log.h"
#include "common/text.h"
#include "worker/http_cond.h"
#include "worker/http_date.h"
#include "worker/http_mime.h"
#include "worker/http_parse.h"
#include "worker/http_range.h"
#include "worker/http_target.h"
#include "worker/tree.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define HTTP_PATH_MAX  4096 /* a decoded path, NUL included */
#define HTTP_PART_MAX  8192 /* one piece of a directory listing */
#define HTTP_TITLE_MAX 1024 /* path bytes shown in a listing's title */

enum http_phase { HTTP_HEAD, HTTP_SEND, HTTP_INDEX };

struct http_state {
    struct http_parser p;
    enum http_phase phase;
    bool keep; /* the connection persists after the response in hand */
    bool idle; /* kept alive, and no byte of the next request yet */
    bool head_only;
    struct tree_list list; /* INDEX: the directory's entries */
    size_t next;           /* INDEX: the next part to queue (0 the prologue) */
};

_Static_assert(sizeof(struct http_state) <= CONN_STATE_MAX, "http state too large");

/* What a response head carries beyond the status line. */
struct http_resp {
    int code;
    const char *type;          /* Content-Type, or NULL */
    uint64_t length;           /* Content-Length (the would-be body's for HEAD) */
    bool no_length;            /* 304: no Content-Length */
    const struct stat *file;   /* Last-Modified, ETag, Accept-Ranges */
    const char *content_range; /* or NULL */
    const char *location;      /* or NULL */
    const char *location_tail; /* appended to location ("/"), or NULL */
    const char *query;         /* appended after '?', or NULL */
    size_t query_len;
    bool allow;       /* 405: Allow: GET, HEAD */
    bool retry_after; /* 503: Retry-After: 1 */
};

static const struct http_config *http_cfg(const struct conn *c)
{
    return c->env->http;
}

static enum sb_outcome http_outcome(int code)
{
    if (code < 300)
        return SB_OUT_OK;
    if (code < 400)
        return SB_OUT_REDIRECT;
    return code < 500 ? SB_OUT_CLIENT_ERROR : SB_OUT_SERVER_ERROR;
}

/* The validators of a file, as text: ETag and Last-Modified. */
static void http_validators(struct text *t, const struct stat *st)
{
    char etag[HTTP_ETAG_SIZE], date[HTTP_DATE_SIZE];

    http_etag_format(etag, (uint64_t)st->st_size, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    http_date_format(st->st_mtim.tv_sec, date);
    text_str(t, "Last-Modified: ");
    text_str(t, date);
    text_str(t, "\r\nETag: ");
    text_str(t, etag);
    text_str(t, "\r\nAccept-Ranges: bytes\r\n");
}

/* Location: location + tail (+ ?query). */
static void http_location(struct text *t, const struct http_resp *r)
{
    text_str(t, "Location: ");
    text_str(t, r->location);
    if (r->location_tail != NULL)
        text_str(t, r->location_tail);
    if (r->query != NULL) {
        text_str(t, "?");
        text_mem(t, r->query, r->query_len);
    }
    text_str(t, "\r\n");
}

/* The optional fields of a response head. */
static void http_fields(struct text *t, const struct http_resp *r)
{
    if (r->type != NULL) {
        text_str(t, "Content-Type: ");
        text_str(t, r->type);
        text_str(t, "\r\n");
    }
    if (!r->no_length) {
        text_str(t, "Content-Length: ");
        text_u64(t, r->length);
        text_str(t, "\r\n");
    }
    if (r->file != NULL)
        http_validators(t, r->file);
    if (r->content_range != NULL) {
        text_str(t, "Content-Range: ");
        text_str(t, r->content_range);
        text_str(t, "\r\n");
    }
    if (r->location != NULL)
        http_location(t, r);
    if (r->allow)
        text_str(t, "Allow: GET, HEAD\r\n");
    if (r->retry_after)
        text_str(t, "Retry-After: 1\r\n");
}

/*
 * Queues a response head and records the answer. Returns 0, or -ENOBUFS
 * when it does not fit in the output buffer (a Location that long: the
 * caller answers 414 instead).
 */
static int http_head(struct conn *c, const struct http_resp *r)
{
    struct http_state *st = c->state;
    char date[HTTP_DATE_SIZE];
    size_t room;
    char *buf = (char *)conn_room(c, &room);
    struct text t;

    http_date_format(c->wall, date);
    text_init(&t, buf, room);
    text_str(&t, "HTTP/1.1 "); /* our version, whatever the request's (RFC 9110 §6.2) */
    text_u64(&t, (uint64_t)r->code);
    text_str(&t, " ");
    text_str(&t, http_status_reason(r->code));
    text_str(&t, "\r\nDate: ");
    text_str(&t, date);
    text_str(&t, "\r\nServer: ferry/" FERRY_VERSION "\r\n");
    http_fields(&t, r);
    if (!st->keep)
        text_str(&t, "Connection: close\r\n");
    else if (st->p.req.version_minor == 0)
        text_str(&t, "Connection: keep-alive\r\n");
    text_str(&t, "\r\n");
    if (t.len + 1 >= room) /* text cuts silently: a full buffer means cut */
        return -ENOBUFS;
    conn_commit(c, t.len);
    c->close_after = !st->keep;
    text_init(&t, c->req.status, sizeof(c->req.status));
    text_u64(&t, (uint64_t)r->code);
    conn_answer(c, http_outcome(r->code), r->code, c->req.status, r->length,
                r->code == 200 || r->code == 206 ? SB_SENDING : SB_CLOSING);
    return 0;
}

/* A short HTML body for an error or a redirect. */
static size_t http_error_body(char *buf, size_t cap, int code)
{
    struct text t;

    text_init(&t, buf, cap);
    text_str(&t, "<!DOCTYPE html>\n<html><head><title>");
    text_u64(&t, (uint64_t)code);
    text_str(&t, " ");
    text_str(&t, http_status_reason(code));
    text_str(&t, "</title></head>\n<body><h1>");
    text_u64(&t, (uint64_t)code);
    text_str(&t, " ");
    text_str(&t, http_status_reason(code));
    text_str(&t, "</h1></body></html>\n");
    return t.len;
}

/* Answers with code, its short HTML page (not for HEAD), and the extra
 * fields in r (code, type and length are set here). */
static enum conn_wait http_answer_page(struct conn *c, struct http_resp *r)
{
    struct http_state *st = c->state;
    char body[512];
    size_t n = http_error_body(body, sizeof(body), r->code);

    r->type = "text/html; charset=utf-8";
    r->length = n;
    if (http_head(c, r) < 0) {
        struct http_resp big = {.code = 414};

        st->keep = false;
        return http_answer_page(c, &big);
    }
    if (!st->head_only)
        conn_put_body(c, body, n);
    st->phase = HTTP_SEND;
    return CONN_WRITE;
}

static enum conn_wait http_answer(struct conn *c, int code)
{
    struct http_resp r = {.code = code};

    return http_answer_page(c, &r);
}

/* Malformed framing, or a head that never came whole: answer and close,
 * discarding what the client still sends. */
static enum conn_wait http_fail(struct conn *c, int code)
{
    struct http_state *st = c->state;

    st->keep = false;
    c->linger = true;
    return http_answer(c, code);
}

/* Fills the log's view of the request from the parsed head. */
static void http_note_request(struct conn *c, const struct http_request *req)
{
    const char *in = (const char *)c->in;
    size_t m = req->method_name.len < sizeof(c->req.method) - 1 ? req->method_name.len
                                                                : sizeof(c->req.method) - 1;

    memcpy(c->req.method, in + req->method_name.off, m);
    c->req.method[m] = '\0';
    log_escape(c->req.target, sizeof(c->req.target), in + req->target.off, req->target.len);
    c->req.version = req->version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
    if (req->referer.set)
        log_escape(c->req.referer, sizeof(c->req.referer), in + req->referer.off, req->referer.len);
    if (req->user_agent.set)
        log_escape(c->req.agent, sizeof(c->req.agent), in + req->user_agent.off,
                   req->user_agent.len);
}

/* A regular file: 200, 206, 304 or 416, and the body unless HEAD. */
static enum conn_wait http_file(struct conn *c, int fd, const struct stat *sb, const char *name)
{
    struct http_state *st = c->state;
    const struct http_request *req = &st->p.req;
    char crange[HTTP_CONTENT_RANGE_SIZE], etag[HTTP_ETAG_SIZE];
    struct http_resp r = {.code = 200, .file = sb, .length = (uint64_t)sb->st_size};
    struct http_range range = {0, sb->st_size > 0 ? (uint64_t)sb->st_size - 1 : 0};
    size_t etag_len =
        http_etag_format(etag, (uint64_t)sb->st_size, sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
    enum http_cond_result cond =
        http_cond_eval(req, (const char *)c->in, etag, etag_len, sb->st_mtim.tv_sec, c->wall);
    if (cond == HTTP_COND_NOT_MODIFIED) {
        close(fd);
        r.code = 304;
        r.no_length = true;
        r.length = 0;
        if (http_head(c, &r) < 0)
            return http_fail(c, 500);
        st->phase = HTTP_SEND;
        return CONN_WRITE;
    }
    if (cond == HTTP_COND_SEND_RANGE_OK) {
        switch (http_range_parse((const char *)c->in + req->range.off, req->range.len,
                                 (uint64_t)sb->st_size, &range)) {
        case HTTP_RANGE_OK:
            r.code = 206;
            r.length = http_range_length(&range);
            http_range_content_range(crange, &range, (uint64_t)sb->st_size);
            r.content_range = crange;
            break;
        case HTTP_RANGE_UNSATISFIABLE:
            close(fd);
            http_range_content_range(crange, NULL, (uint64_t)sb->st_size);
            r = (struct http_resp){.code = 416, .content_range = crange};
            return http_answer_page(c, &r);
        default: /* several ranges, or none we understand: the whole file */
            break;
        }
    }
    r.type = http_mime_type(name, strlen(name));
    if (http_head(c, &r) < 0) {
        close(fd);
        return http_fail(c, 500);
    }
    if (st->head_only || r.length == 0)
        close(fd);
    else
        conn_body(c, fd, range.first, range.first + r.length);
    st->phase = HTTP_SEND;
    return CONN_WRITE;
}

/* Why a path could not be served -> the status code: a symbolic link is
 * not worth admitting (404); a special file is refused unopened (403). */
static const int http_whys[TREE_WHY_COUNT] = {
    [TREE_WHY_NOT_FOUND] = 404, [TREE_WHY_LINK] = 404,   [TREE_WHY_DIR] = 404,
    [TREE_WHY_SPECIAL] = 403,   [TREE_WHY_DENIED] = 403, [TREE_WHY_TOO_LONG] = 414,
    [TREE_WHY_INVALID] = 404,   [TREE_WHY_FAILED] = 500,
};

static int http_code_of(int err)
{
    return http_whys[tree_why(err)];
}

/* "/" + the path encoded, for a Location or a title. Returns 0 or -ENOSPC. */
static int http_self(const char *path, char *out, size_t cap)
{
    size_t n;

    out[0] = '/';
    return http_target_encode(path, strlen(path), out + 1, cap - 1, &n);
}

static size_t http_index_part(const struct http_state *st, size_t i, const char *path, char *buf,
                              size_t cap);

/* Queues the listing's parts that fit. Returns CONN_WRITE, or the end. */
static enum conn_wait http_index_fill(struct conn *c)
{
    struct http_state *st = c->state;
    char part[HTTP_PART_MAX];

    while (st->next <= st->list.n + 1) {
        size_t room, n = http_index_part(st, st->next, NULL, part, sizeof(part));

        conn_room(c, &room);
        if (n > room)
            break;
        conn_put_body(c, part, n);
        st->next++;
    }
    return CONN_WRITE;
}

/* A directory without an index.html, with --autoindex: a listing whose
 * length is known before it is sent (two passes), so the connection can
 * be kept alive. */
static enum conn_wait http_index(struct conn *c, const char *path)
{
    struct http_state *st = c->state;
    struct http_resp r = {.code = 200, .type = "text/html; charset=utf-8"};
    char part[HTTP_PART_MAX];
    int rc = tree_list(c->env->dirfd, path, TREE_FILES_DIRS, c->env->tree_flags, &st->list);

    if (rc < 0)
        return http_answer(c, http_code_of(-rc));
    for (size_t i = 0; i <= st->list.n + 1; i++)
        r.length += http_index_part(st, i, path, part, sizeof(part));
    if (http_head(c, &r) < 0)
        return http_fail(c, 500);
    if (st->head_only) {
        st->phase = HTTP_SEND;
        return CONN_WRITE;
    }
    conn_put_body(c, part, http_index_part(st, 0, path, part, sizeof(part)));
    st->next = 1;
    st->phase = HTTP_INDEX;
    return http_index_fill(c);
}

/* A directory: 301 to the slashed form, its index.html, a listing or 404. */
static enum conn_wait http_dir(struct conn *c, char *path, bool slashed)
{
    struct http_state *st = c->state;
    const struct http_request *req = &st->p.req;
    char self[3 * HTTP_PATH_MAX + 2];
    size_t len = strlen(path);
    struct stat sb;
    int fd;

    if (!slashed) {
        struct http_resp r = {.code = 301, .location = self, .location_tail = "/"};

        if (http_self(path, self, sizeof(self)) < 0)
            return http_answer(c, 414);
        r.query = req->query.set ? (const char *)c->in + req->query.off : NULL;
        r.query_len = req->query.len;
        return http_answer_page(c, &r);
    }
    if (len + sizeof("/index.html") > HTTP_PATH_MAX)
        return http_answer(c, 414);
    strcpy(path + len, len > 0 ? "/index.html" : "index.html");
    fd = tree_open(c->env->dirfd, path, c->env->tree_flags, &sb);
    path[len] = '\0';
    if (fd >= 0)
        return http_file(c, fd, &sb, "index.html");
    if ((fd == -ENOENT || fd == -EISDIR) && http_cfg(c)->autoindex)
        return http_index(c, path); /* no index.html, or one that is no file */
    return http_answer(c, http_code_of(-fd));
}

/* --redirect: the decoded path is a moved file's. Returns its target or NULL. */
static const char *http_redirected(const struct conn *c, const char *path)
{
    const struct http_config *cfg = http_cfg(c);

    for (size_t i = 0; i < cfg->nredirects; i++) {
        const char *from = cfg->redirects[i].from;

        if (from[0] == '/' && strcmp(from + 1, path) == 0)
            return cfg->redirects[i].to;
    }
    return NULL;
}

/* A complete, well-formed head of a GET or HEAD: find what it names. */
static enum conn_wait http_resolve(struct conn *c)
{
    struct http_state *st = c->state;
    const struct http_request *req = &st->p.req;
    char path[HTTP_PATH_MAX];
    struct http_path res;
    struct stat sb;
    const char *to;
    int fd, rc;

    rc = http_target_decode((const char *)c->in + req->path.off, req->path.len, path, sizeof(path),
                            &res);
    if (rc < 0)
        return http_answer(c, rc == -ENAMETOOLONG ? 414 : 400);
    if ((to = http_redirected(c, path)) != NULL) {
        struct http_resp r = {.code = 301, .location = to};

        return http_answer_page(c, &r);
    }
    /* A hidden path is -ENOENT before anything is looked at: a 404 like
     * any missing name's, never the 301 a directory would get. */
    fd = tree_open(c->env->dirfd, path, c->env->tree_flags, &sb);
    if (fd == -EISDIR)
        return http_dir(c, path, res.is_dir);
    if (fd < 0)
        return http_answer(c, http_code_of(-fd));
    if (res.is_dir) { /* "/file.txt/": a file is no directory */
        close(fd);
        return http_answer(c, 404);
    }
    return http_file(c, fd, &sb, path);
}

/* A head arrived whole: answer it. */
static enum conn_wait http_request(struct conn *c)
{
    struct http_state *st = c->state;
    const struct http_request *req = &st->p.req;
    const struct http_config *cfg = http_cfg(c);
    enum conn_wait want;

    http_note_request(c, req);
    c->cut_on_stop = false;
    c->phase = "response";
    st->head_only = req->method == HTTP_METHOD_HEAD;
    /* A request body is never read: after one, the connection closes. */
    st->keep = http_keep_alive(req) && c->requests + 1 < cfg->keepalive_requests &&
               req->content_length == 0;
    /* Closing while the client may still send (a body, or requests it
     * pipelined expecting the connection to persist): unread input would
     * make close() reset the connection and discard this very response. */
    c->linger = c->linger || req->content_length > 0 ||
                (!st->keep && (http_keep_alive(req) || c->in_len > st->p.head_len));
    if (req->method == HTTP_METHOD_OTHER) {
        struct http_resp r = {.code = 405, .allow = true};

        want = http_answer_page(c, &r);
    } else {
        want = http_resolve(c);
    }
    conn_consume(c, st->p.head_len); /* the head's spans are not used after this */
    return want;
}

static enum conn_wait http_start(struct conn *c, int64_t now)
{
    struct http_state *st = c->state;

    (void)now;
    http_parse_init(&st->p);
    st->phase = HTTP_HEAD;
    /* A new connection's head is due within --header-timeout of accept. */
    c->read_deadline = c->accepted_ns + (int64_t)http_cfg(c)->header_timeout_ms * 1000000;
    return CONN_READ;
}

/*
 * Kept alive, between two requests: drops the empty lines (CRLF) a client
 * may send after a request (RFC 9112 §2.2). Returns true while nothing
 * else arrived (a lone CR may be the start of another one).
 */
static bool http_idle_skip(struct conn *c)
{
    size_t n = 0;

    while (n + 1 < c->in_len && c->in[n] == '\r' && c->in[n + 1] == '\n')
        n += 2;
    conn_consume(c, n);
    return c->in_len == 0 || (c->in_len == 1 && c->in[0] == '\r');
}

/* Idle, and bytes arrived: the next request begins, or they were empty
 * lines and the connection stays idle (its keep-alive deadline unchanged,
 * free to yield to a waiting client). Returns false while idle. */
static bool http_idle_end(struct conn *c, int64_t now)
{
    struct http_state *st = c->state;

    if (http_idle_skip(c)) {
        if (c->req.active) { /* the empty lines looked like a request: undo */
            c->req.active = false;
            sb_req_next(c->rec, SB_KEEPALIVE);
        }
        return false;
    }
    st->idle = false;
    /* The head is due within --header-timeout of its first byte. */
    c->read_deadline = now + (int64_t)http_cfg(c)->header_timeout_ms * 1000000;
    if (!c->req.active) { /* pipelined: its bytes came with the one before */
        c->req.active = true;
        c->req.start_ns = now;
        sb_req_next(c->rec, SB_READING);
    }
    return true;
}

static enum conn_wait http_input(struct conn *c, int64_t now)
{
    struct http_state *st = c->state;
    enum http_parse_status rc;

    if (st->idle && c->in_len > 0 && !http_idle_end(c, now))
        return c->eof ? CONN_DONE : CONN_READ;
    rc = http_parse(&st->p, (const char *)c->in, c->in_len);
    if (rc == HTTP_PARSE_DONE)
        return http_request(c);
    if (rc != HTTP_PARSE_MORE) {
        c->cut_on_stop = false;
        return http_fail(c, (int)rc);
    }
    if (c->eof && c->in_len == 0) /* closed between two requests: fine */
        return CONN_DONE;
    if (c->eof)
        return conn_trouble(c, "client closed early", 0, false);
    return CONN_READ;
}

/* The response in hand is sent: the next request, or the end. */
static enum conn_wait http_sent(struct conn *c, int64_t now)
{
    struct http_state *st = c->state;
    const struct http_config *cfg = http_cfg(c);

    if (st->phase == HTTP_INDEX && st->next <= st->list.n + 1)
        return http_index_fill(c);
    tree_list_free(&st->list);
    conn_request_end(c, now);
    if (!st->keep)
        return CONN_DONE;
    http_parse_init(&st->p);
    st->phase = HTTP_HEAD;
    st->head_only = false; /* an error page before the next head is parsed has a body */
    st->idle = true;
    c->cut_on_stop = true;
    c->phase = "request";
    c->read_deadline = now + (int64_t)cfg->keepalive_timeout_ms * 1000000;
    sb_req_next(c->rec, SB_KEEPALIVE);
    /* Pipelined: the next head may have begun already. */
    return c->in_len > 0 ? http_input(c, now) : CONN_READ;
}

static enum conn_wait http_expired(struct conn *c, int64_t now)
{
    struct http_state *st = c->state;

    (void)now;
    /* Kept alive and silent, or a new connection that never spoke: close
     * without a word. A head begun and not finished: 408. */
    if (st->idle || c->in_len == 0)
        return CONN_DONE;
    c->cut_on_stop = false;
    c->problem = "timed out";
    c->err = ETIMEDOUT;
    return http_fail(c, 408);
}

/* Over --max-conn-per-ip: 503 at once, and close. */
static enum conn_wait http_busy(struct conn *c, int64_t now)
{
    struct http_state *st = c->state;
    struct http_resp r = {.code = 503, .retry_after = true};

    (void)now;
    st->keep = false;
    c->cut_on_stop = false;
    c->linger = true; /* the request may be arriving */
    return http_answer_page(c, &r);
}

/* Denied by --allow/--deny: 403 before the request is read, then a
 * lingering close (the request is likely arriving). */
static enum conn_wait http_denied(struct conn *c, int64_t now)
{
    (void)now;
    return http_fail(c, 403);
}

static void http_finish(struct conn *c)
{
    struct http_state *st = c->state;

    tree_list_free(&st->list);
}

/* Part i of a listing: 0 the prologue (needs path), 1..n the entries,
 * n + 1 the epilogue. Returns its length (cut at cap, which is ample). */
static size_t http_index_part(const struct http_state *st, size_t i, const char *path, char *buf,
                              size_t cap)
{
    char name[3 * NAME_MAX + 2], esc[6 * NAME_MAX + 2];
    size_t n;
    struct text t;

    text_init(&t, buf, cap);
    if (i == 0) {
        char title[6 * HTTP_TITLE_MAX + 8];
        size_t plen = strlen(path) < HTTP_TITLE_MAX ? strlen(path) : HTTP_TITLE_MAX;

        http_target_escape_html(path, plen, title, sizeof(title), &n);
        text_str(&t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of /");
        text_str(&t, title);
        text_str(&t, plen > 0 ? "/</title></head>\n<body><h1>Index of /"
                              : "</title></head>\n"
                                "<body><h1>Index of /");
        text_str(&t, title);
        text_str(&t, plen > 0 ? "/</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)"
                                "</th></tr>\n<tr><td><a href=\"../\">../</a></td><td></td>"
                                "<td></td></tr>\n"
                              : "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)"
                                "</th></tr>\n");
    } else if (i <= st->list.n) {
        const struct tree_entry *e = &st->list.v[i - 1];
        char date[32];
        struct tm tm;
        time_t mt = (time_t)e->mtime;

        http_target_encode(e->name, strlen(e->name), name, sizeof(name), &n);
        http_target_escape_html(e->name, strlen(e->name), esc, sizeof(esc), &n);
        gmtime_r(&mt, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
        text_str(&t, "<tr><td><a href=\"");
        text_str(&t, name);
        text_str(&t, e->dir ? "/\">" : "\">");
        text_str(&t, esc);
        text_str(&t, e->dir ? "/</a></td><td>-</td><td>" : "</a></td><td>");
        if (!e->dir) {
            text_u64(&t, e->size);
            text_str(&t, "</td><td>");
        }
        text_str(&t, date);
        text_str(&t, "</td></tr>\n");
    } else {
        text_str(&t, "</table>\n</body></html>\n");
    }
    return t.len;
}

const struct conn_handler http_handler = {
    .proto = PROTO_HTTP,
    .state_size = sizeof(struct http_state),
    .start = http_start,
    .input = http_input,
    .sent = http_sent,
    .expired = http_expired,
    .busy = http_busy,
    .denied = http_denied,
    .finish = http_finish,
};
