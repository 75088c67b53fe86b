/*
 * webstat: the master's monitoring endpoint over HTTP. See webstat.h.
 *
 * The request head is read with the workers' own parser (worker/http_parse,
 * pure, no I/O): one parser, one set of rules. The answers are the admin
 * socket's commands, run as they are: the same JSON and the same
 * exposition, so the two ways in never disagree.
 *
 * --allow/--deny apply here as on every listener the workers serve: the
 * status page names clients and files, and a rule written to keep a
 * network out should keep it out of that too. A denied client is counted
 * and logged at accept, and answered 403 once its head is in (as every
 * answer here: no unread request for close() to turn into a reset).
 */
#include "master/webstat.h"

#include "common/acl.h"
#include "common/addr.h"
#include "common/log.h"
#include "master/admin_int.h"
#include "worker/http_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct webstat_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    struct webstat *w;
    struct webstat_conn *next;
    struct http_parser p;
    char in[WEBSTAT_HEAD_MAX];
    size_t len;
    char *out;   /* the response, head and body */
    int handles; /* still open: freed at 0 */
    bool done;   /* answered, or closing */
    bool denied; /* by --allow/--deny: 403 whatever it asks */
};

static void webstat_on_listen(uv_poll_t *h, int status, int events);

/* Polls the listeners, or stops polling them while full. */
static void webstat_poll(struct webstat *w, bool on)
{
    for (size_t i = 0; i < w->n; i++) {
        if (on)
            uv_poll_start(&w->polls[i], UV_READABLE, webstat_on_listen);
        else
            uv_poll_stop(&w->polls[i]);
    }
}

static void webstat_unlink(struct webstat *w, struct webstat_conn *c)
{
    for (struct webstat_conn **p = &w->conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
}

static void webstat_on_closed(uv_handle_t *h)
{
    struct webstat_conn *c = h->data;
    struct webstat *w = c->w;

    if (--c->handles > 0)
        return;
    webstat_unlink(w, c);
    free(c->out);
    free(c);
    if (w->nconns-- == WEBSTAT_CONNS && w->a != NULL && !w->paused) /* room again */
        webstat_poll(w, true);
}

static void webstat_close(struct webstat_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    c->done = true;
    uv_close((uv_handle_t *)&c->tcp, webstat_on_closed);
    uv_close((uv_handle_t *)&c->timer, webstat_on_closed);
}

static void webstat_on_timeout(uv_timer_t *t)
{
    webstat_close(t->data); /* the head, or the taking of the answer, was too slow */
}

static void webstat_after_write(uv_write_t *req, int status)
{
    (void)status; /* sent or not, the exchange is over */
    webstat_close(req->data);
}

/* Queues the response: status, type, body (len bytes, copied), close. */
static void webstat_send(struct webstat_conn *c, int code, const char *type, const char *body,
                         size_t len, bool head_only)
{
    const char *reason = http_status_reason(code);
    size_t cap = len + 512;
    int n;
    uv_buf_t buf;

    c->done = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->out = malloc(cap);
    if (c->out == NULL) {
        webstat_close(c);
        return;
    }
    n = snprintf(c->out, cap,
                 "HTTP/1.1 %d %s\r\nServer: ferry/%s\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\nCache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                 code, reason, FERRY_VERSION, type, len, code == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head_only)
        memcpy(c->out + n, body, len);
    buf = uv_buf_init(c->out, (unsigned)n + (head_only ? 0 : (unsigned)len));
    uv_timer_start(&c->timer, webstat_on_timeout, WEBSTAT_SEND_MS, 0); /* now the answer's */
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, webstat_after_write) < 0)
        webstat_close(c);
}

/* Runs an admin command as the admin socket would, for its answer. */
static json_t *webstat_command(struct webstat *w, const char *name)
{
    const struct admin_cmd *cmd = admin_cmd_find(name);
    json_t *req = json_pack("{s:s}", "cmd", name), *resp = admin_response();

    if (cmd == NULL || req == NULL || resp == NULL || cmd->fn(w->a, NULL, req, resp) < 0) {
        json_decref(resp);
        resp = NULL;
    } else {
        json_object_set_new(resp, "ok", json_true()); /* as the admin socket settles it */
    }
    json_decref(req);
    return resp;
}

/* What each path answers: an admin command's JSON (or, for metrics, its
 * text), or the status page. One table serves the dispatch and the 404's
 * list. */
enum webstat_kind { WEBSTAT_TEXT, WEBSTAT_JSON, WEBSTAT_PAGE };

static const struct {
    const char *path;
    const char *cmd; /* the admin command, or NULL */
    enum webstat_kind kind;
    const char *type;
} webstat_routes[] = {
    {"/metrics", "metrics", WEBSTAT_TEXT, "text/plain; version=0.0.4; charset=utf-8"},
    {"/status", "status", WEBSTAT_JSON, "application/json"},
    {"/workers", "workers", WEBSTAT_JSON, "application/json"},
    {"/connections", "connections", WEBSTAT_JSON, "application/json"},
    {"/", NULL, WEBSTAT_PAGE, "text/html; charset=utf-8"},
};

#define WEBSTAT_ROUTES (sizeof(webstat_routes) / sizeof(webstat_routes[0]))

/* The route of the request's path, or -1. */
static int webstat_route(const struct webstat_conn *c)
{
    const struct http_request *r = &c->p.req;

    for (size_t i = 0; i < WEBSTAT_ROUTES; i++) {
        size_t n = strlen(webstat_routes[i].path);

        if (r->path.len == n && memcmp(c->in + r->path.off, webstat_routes[i].path, n) == 0)
            return (int)i;
    }
    return -1;
}

/* Answers with an admin command's answer, as its route says. */
static void webstat_answer_cmd(struct webstat_conn *c, int route, bool head)
{
    json_t *resp = webstat_command(c->w, webstat_routes[route].cmd);
    const char *type = webstat_routes[route].type;
    char *text;

    if (resp == NULL) {
        webstat_send(c, 503, "text/plain", "busy, try again\n", 16, head);
    } else if (webstat_routes[route].kind == WEBSTAT_TEXT) {
        json_t *t = json_object_get(resp, "text");
        webstat_send(c, 200, type, json_string_value(t), json_string_length(t), head);
    } else if ((text = json_dumps(resp, JSON_COMPACT)) != NULL) {
        webstat_send(c, 200, type, text, strlen(text), head);
        free(text);
    } else {
        webstat_close(c);
    }
    json_decref(resp);
}

#define WEBSTAT_404 "/, /metrics, /status, /workers or /connections\n"

/* A whole head arrived: answers its route, or an error. */
static void webstat_answer(struct webstat_conn *c)
{
    bool head = c->p.req.method == HTTP_METHOD_HEAD;
    int route = webstat_route(c);

    if (c->p.req.method == HTTP_METHOD_OTHER)
        webstat_send(c, 405, "text/plain", "GET or HEAD\n", 12, false);
    else if (route < 0)
        webstat_send(c, 404, "text/plain", WEBSTAT_404, sizeof(WEBSTAT_404) - 1, head);
    else if (webstat_routes[route].kind == WEBSTAT_PAGE)
        webstat_send(c, 200, webstat_routes[route].type, (const char *)webstat_page,
                     webstat_page_len, head);
    else
        webstat_answer_cmd(c, route, head);
}

static void webstat_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct webstat_conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->in + c->len, (unsigned)(sizeof(c->in) - c->len));
}

/* A denied client's head is in (or is malformed, or too large): 403. */
static void webstat_forbid(struct webstat_conn *c, enum http_parse_status rc)
{
    bool head = rc == HTTP_PARSE_DONE && c->p.req.method == HTTP_METHOD_HEAD;

    webstat_send(c, 403, "text/plain", "forbidden\n", 10, head);
}

static void webstat_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct webstat_conn *c = s->data;
    enum http_parse_status rc;

    (void)buf;
    if (c->done || nread == 0)
        return;
    if (nread < 0) { /* EOF or an error before a whole head: nothing to answer */
        webstat_close(c);
        return;
    }
    c->len += (size_t)nread;
    rc = http_parse(&c->p, c->in, c->len);
    if (c->denied && (rc != HTTP_PARSE_MORE || c->len == sizeof(c->in)))
        webstat_forbid(c, rc);
    else if (rc == HTTP_PARSE_DONE)
        webstat_answer(c);
    else if (rc != HTTP_PARSE_MORE)
        webstat_send(c, (int)rc, "text/plain", "bad request\n", 12, false);
    else if (c->len == sizeof(c->in))
        webstat_send(c, 431, "text/plain", "head too large\n", 15, false);
}

/* True when --allow/--deny refuse peer on the master's listener i: then
 * counted, and logged at most once a second per address (pool-wide, as
 * the workers' refusals). */
static bool webstat_denied(struct webstat *w, size_t i, const struct sockaddr *peer)
{
    const struct acl_rule *r = acl_denied_by(cfg_acl_for(w->a->cfg, PROTO_METRICS), peer);
    char addr[ADDR_STR_MAX];

    if (r == NULL)
        return false;
    sb_count_denied(w->a->sb, true, (unsigned)i);
    if (!sb_quiet(w->a->sb, peer, clock_now_ns()))
        log_info("conn %s proto=metrics status=403 problem=\"denied: %s\" during=accept",
                 addr_format(peer, addr), r->text);
    return true;
}

/* Takes one connection accepted on listener i from peer. */
static void webstat_conn_open(struct webstat *w, int fd, size_t i, const struct sockaddr *peer)
{
    uv_loop_t *loop = w->polls[0].loop;
    struct webstat_conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        close(fd);
        return;
    }
    c->w = w;
    c->denied = webstat_denied(w, i, peer);
    c->next = w->conns;
    w->conns = c;
    if (++w->nconns == WEBSTAT_CONNS)
        webstat_poll(w, false); /* full: the next wait in the backlog */
    http_parse_init(&c->p);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    if (uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
        webstat_close(c);
        return;
    }
    uv_timer_start(&c->timer, webstat_on_timeout, WEBSTAT_HEAD_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, webstat_alloc, webstat_read);
}

static void webstat_on_unpause(uv_timer_t *t)
{
    struct webstat *w = t->data;

    w->paused = false;
    if (w->nconns < WEBSTAT_CONNS)
        webstat_poll(w, true);
}

static void webstat_on_listen(uv_poll_t *h, int status, int events)
{
    struct webstat *w = h->data;
    size_t which = (size_t)(h - w->polls);
    int lfd = w->fds[which];

    (void)status;
    (void)events;
    for (int i = 0; i < 16 && w->nconns < WEBSTAT_CONNS; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* The listener stays readable: polling it now would spin. */
            w->paused = true;
            webstat_poll(w, false);
            uv_timer_start(&w->unpause, webstat_on_unpause, WEBSTAT_PAUSE_MS, 0);
            return;
        }
        if (fd < 0)
            return; /* EAGAIN, or a connection gone already */
        webstat_conn_open(w, fd, which, (struct sockaddr *)&peer);
    }
}

int webstat_start(struct webstat *w, uv_loop_t *loop, struct admin *a, const int *fds, size_t n)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < n && i < WEBSTAT_LISTENERS; i++) {
        int rc = uv_poll_init(loop, &w->polls[i], fds[i]);

        if (rc < 0)
            return rc;
        w->polls[i].data = w;
        w->fds[i] = fds[i];
        w->n++;
    }
    uv_timer_init(loop, &w->unpause);
    w->unpause.data = w;
    w->a = a;
    webstat_poll(w, true);
    return 0;
}

void webstat_stop(struct webstat *w)
{
    for (struct webstat_conn *c = w->conns; c != NULL; c = c->next)
        webstat_close(c);
    for (size_t i = 0; i < w->n; i++)
        uv_close((uv_handle_t *)&w->polls[i], NULL);
    if (w->a != NULL)
        uv_close((uv_handle_t *)&w->unpause, NULL);
    w->n = 0;
    w->a = NULL;
}
