/*
 * admin: the JSON admin socket. See admin.h and docs/ADMIN.md.
 */
#include "master/admin.h"

#include "common/addr.h"
#include "common/log.h"
#include "master/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct admin_conn {
    uv_pipe_t pipe;
    struct admin *a;
    struct admin_conn *next;
    bool control; /* may use control commands */
    bool closing;
    size_t discard;  /* > 0: cut off; bytes still to drop before closing */
    bool in_lines;   /* admin_lines() is on the stack */
    bool subscribed; /* an event stream now: input is ignored */
    uint64_t token;  /* != 0: pending holds an answer still to come */
    json_t *pending;
    pid_t pid;
    uid_t uid;
    size_t len;
    char buf[ADMIN_LINE_MAX + 1];
};

/* A command handler: 0 (resp answers), -1 (resp holds the error) or 1
 * (the answer comes later: resp now belongs to the connection). */
typedef int (*admin_fn)(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);

/* ---- responses --------------------------------------------------------- */

/* Records a stable error code and a human message in resp; returns -1. */
static int admin_fail(json_t *resp, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int admin_fail(json_t *resp, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object_set_new(resp, "error", json_string(code));
    json_object_set_new(resp, "message", json_string(msg));
    return -1;
}

static void admin_conn_free(uv_handle_t *h)
{
    free(h->data);
}

/* Closes c (at once; pending writes are dropped) and unlinks it. */
static void admin_conn_close(struct admin_conn *c)
{
    struct admin_conn **pp;

    if (c->closing)
        return;
    c->closing = true;
    json_decref(c->pending); /* a resize finishing later finds no one */
    c->pending = NULL;
    c->token = 0;
    for (pp = &c->a->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&c->pipe, admin_conn_free);
}

static void admin_after_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

/* Ends c's output once what was queued has been written; the connection
 * closes when the client closes its end (or the discard bound is hit). */
static void admin_half_close(struct admin_conn *c)
{
    uv_shutdown_t *req = malloc(sizeof(*req));

    if (req == NULL || c->closing ||
        uv_shutdown(req, (uv_stream_t *)&c->pipe, admin_after_shutdown) < 0) {
        free(req);
        admin_conn_close(c);
    }
}

struct admin_write {
    uv_write_t req;
    char *text;
};

static void admin_after_write(uv_write_t *req, int status)
{
    struct admin_write *w = (struct admin_write *)req;

    (void)status;
    free(w->text);
    free(w);
}

/* Queues len bytes of text (malloc'd, ending in '\n'; taken over) to c. A
 * client that lets too much pile up unread is cut off rather than allowed
 * to grow memory. */
static void admin_send_text(struct admin_conn *c, char *text, size_t len)
{
    struct admin_write *w;
    uv_buf_t buf;

    if (c->closing) {
        free(text);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > ADMIN_QUEUE_MAX) {
        log_warn("admin: client pid %ld does not read its answers: cutting it off", (long)c->pid);
        free(text);
        admin_conn_close(c);
        return;
    }
    w = malloc(sizeof(*w));
    if (w == NULL) {
        free(text);
        admin_conn_close(c);
        return;
    }
    w->text = text;
    buf = uv_buf_init(text, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, admin_after_write) < 0) {
        admin_after_write(&w->req, 0);
        admin_conn_close(c);
    }
}

/* Dumps j as one line: malloc'd text ending in '\n', its length in *len. */
static char *admin_dump(json_t *j, size_t *len)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));

    if (text == NULL)
        return NULL;
    *len = strlen(text);
    text[(*len)++] = '\n'; /* json_dumps' NUL becomes the line end */
    return text;
}

/* Queues resp as one line to c, and frees resp. */
static void admin_send(struct admin_conn *c, json_t *resp)
{
    size_t len;
    char *text = admin_dump(resp, &len);

    json_decref(resp);
    if (text != NULL)
        admin_send_text(c, text, len);
}

/* A fresh response object; "ok" comes first and is settled at the end. */
static json_t *admin_response(void)
{
    json_t *resp = json_object();

    json_object_set_new(resp, "ok", json_false());
    json_object_set_new(resp, "schema", json_integer(ADMIN_SCHEMA));
    return resp;
}

/* ---- commands ---------------------------------------------------------- */

static void admin_lines(struct admin_conn *c);
static void admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void admin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static const char *const admin_state_names[] = {"running", "draining", "stopping"};

static json_t *admin_counters(const struct sb_counters *c)
{
    json_t *o = json_object(), *st = json_object();

    json_object_set_new(o, "connections", json_integer((json_int_t)c->connections));
    json_object_set_new(o, "requests", json_integer((json_int_t)c->requests));
    json_object_set_new(o, "bytes", json_integer((json_int_t)c->bytes));
    for (unsigned i = 0; i < WIRE_STATUS_COUNT; i++)
        json_object_set_new(st, wire_status_name(i), json_integer((json_int_t)c->status[i]));
    json_object_set_new(o, "status", st);
    return o;
}

static json_t *admin_time(int64_t unix_s)
{
    char buf[32];
    struct tm tm;
    time_t t = (time_t)unix_s;

    if (unix_s == 0)
        return json_null();
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* Seconds from nanoseconds, to the millisecond. */
static json_t *admin_seconds(int64_t ns)
{
    return json_real((double)llround((double)ns / 1e6) / 1e3);
}

/* A rate, to the unit: nobody needs fractions of a byte per second. */
static json_t *admin_rate(double per_s)
{
    return json_integer((json_int_t)llround(per_s));
}

/* Takes a fresh snapshot into a->snap. Returns 0 or fails resp. */
static int admin_snapshot(struct admin *a, json_t *resp)
{
    if (snap_take(a->sb, &a->snap) < 0)
        return admin_fail(resp, "busy", "a scoreboard slot stayed mid-update; try again");
    return 0;
}

static int admin_cmd_ping(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    (void)a;
    (void)c;
    (void)req;
    json_object_set_new(resp, "pong", json_true());
    return 0;
}

static json_t *admin_throughput(struct admin *a)
{
    static const unsigned windows[] = {1, 10, 60};
    json_t *o = json_object();

    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        json_t *w = json_object();
        double rq, by;
        char key[8];

        snap_rate(&a->hist, &a->snap, windows[i], &rq, &by);
        json_object_set_new(w, "requests_per_s", admin_rate(rq));
        json_object_set_new(w, "bytes_per_s", admin_rate(by));
        snprintf(key, sizeof(key), "%us", windows[i]);
        json_object_set_new(o, key, w);
    }
    return o;
}

/* Queue depth of the first listener, from TCP_INFO (for a listening
 * socket the kernel reports the accept queue in tcpi_unacked). */
static json_t *admin_saturation(struct admin *a, enum admin_state state)
{
    json_t *o = json_object();
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    /* Once stopping, the master has closed its listeners. */
    if (state != ADMIN_STOPPING && a->nlisteners > 0 &&
        getsockopt(a->lfd0, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
        json_object_set_new(o, "listen_queue", json_integer(ti.tcpi_unacked));
        json_object_set_new(o, "listen_backlog", json_integer(ti.tcpi_sacked));
    } else {
        json_object_set_new(o, "listen_queue", json_null());
        json_object_set_new(o, "listen_backlog", json_null());
    }
    json_object_set_new(o, "at_limit_count", json_integer((json_int_t)a->snap.pool.at_limit));
    json_object_set_new(o, "last_at_limit", admin_time(a->snap.pool.at_limit_unix));
    json_object_set_new(o, "oldest_wait_ms", json_null()); /* the kernel does not tell */
    return o;
}

static int admin_cmd_status(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    const struct snapshot *s = &a->snap;
    enum admin_state state = a->ops->state(a->ops_ctx);
    json_t *lis = json_array(), *lim = json_object(), *pool = json_object(), *tot;

    (void)c;
    (void)req;
    if (admin_snapshot(a, resp) < 0)
        return -1;
    json_object_set_new(resp, "version", json_string(FERRY_VERSION));
    json_object_set_new(resp, "pid", json_integer(getpid()));
    json_object_set_new(resp, "mode", json_string(cfg_mode_name(a->cfg->mode)));
    json_object_set_new(resp, "state", json_string(admin_state_names[state]));
    json_object_set_new(resp, "started", admin_time(s->pool.started_unix));
    json_object_set_new(resp, "uptime_s", admin_seconds(s->taken_ns - s->pool.started_ns));
    for (unsigned i = 0; i < a->nlisteners; i++)
        json_array_append_new(lis, json_string(a->listeners[i]));
    json_object_set_new(resp, "listeners", lis);
    json_object_set_new(lim, "workers", json_integer(s->pool.target));
    json_object_set_new(lim, "max_children", json_integer(a->cfg->max_children));
    json_object_set_new(lim, "io_timeout_s", json_integer(a->cfg->io_timeout));
    json_object_set_new(lim, "shutdown_timeout_s", json_integer(a->cfg->shutdown_timeout));
    json_object_set_new(lim, "stall_timeout_s", json_integer(a->cfg->stall_timeout));
    json_object_set_new(lim, "chunk_size", json_integer(a->cfg->chunk_size));
    json_object_set_new(resp, "limits", lim);
    json_object_set_new(pool, "processes", json_integer(s->nlive));
    for (unsigned i = SB_STARTING; i < SB_STATE_COUNT; i++)
        json_object_set_new(pool, sb_state_name(i), json_integer(s->by_state[i]));
    json_object_set_new(resp, "pool", pool);
    tot = admin_counters(&s->totals.c);
    json_object_set_new(tot, "worker_exits", json_integer((json_int_t)s->totals.worker_exits));
    json_object_set_new(tot, "crashes", json_integer((json_int_t)s->totals.crashes));
    json_object_set_new(tot, "respawns", json_integer((json_int_t)s->pool.respawns));
    json_object_set_new(resp, "totals", tot);
    json_object_set_new(resp, "throughput", admin_throughput(a));
    json_object_set_new(resp, "saturation", admin_saturation(a, state));
    return 0;
}

static json_t *admin_transfer(struct admin *a, uint32_t i)
{
    const struct sb_slot *w = &a->snap.live[i];
    json_t *t = json_object();
    char peer[ADDR_STR_MAX];
    double rate, avg;

    snap_transfer_rates(&a->hist, &a->snap, i, &rate, &avg);
    json_object_set_new(t, "peer", json_string(addr_format(&w->t.peer.sa, peer)));
    json_object_set_new(t, "file", w->t.file[0] ? json_string(w->t.file) : json_null());
    json_object_set_new(t, "size", json_integer((json_int_t)w->t.size));
    json_object_set_new(t, "sent", json_integer((json_int_t)w->t.sent));
    json_object_set_new(t, "rate_bps", admin_rate(rate));
    json_object_set_new(t, "avg_rate_bps", admin_rate(avg));
    json_object_set_new(t, "idle_ms",
                        json_integer((a->snap.taken_ns - w->t.progress_ns) / 1000000));
    return t;
}

static int admin_cmd_workers(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    json_t *list = json_array();

    (void)c;
    (void)req;
    if (admin_snapshot(a, resp) < 0) {
        json_decref(list);
        return -1;
    }
    for (uint32_t i = 0; i < a->snap.nlive; i++) {
        const struct sb_slot *w = &a->snap.live[i];
        json_t *o = json_object();

        json_object_set_new(o, "slot", json_integer(a->snap.live_slot[i]));
        json_object_set_new(o, "pid", json_integer(w->pid));
        json_object_set_new(o, "generation", json_integer(w->generation));
        json_object_set_new(o, "state", json_string(sb_state_name(w->state)));
        json_object_set_new(o, "age_s", admin_seconds(a->snap.taken_ns - w->started_ns));
        json_object_set_new(o, "requests", json_integer((json_int_t)w->c.requests));
        json_object_set_new(o, "bytes", json_integer((json_int_t)w->c.bytes));
        if (w->state == SB_READING || w->state == SB_SENDING || w->state == SB_CLOSING)
            json_object_set_new(o, "transfer", admin_transfer(a, i));
        json_array_append_new(list, o);
    }
    json_object_set_new(resp, "workers", list);
    return 0;
}

/* Reads an optional integer argument within [min, max]. Returns 0 (with
 * *out untouched when absent) or fails resp. */
static int admin_int_arg(json_t *req, const char *name, json_int_t min, json_int_t max,
                         json_int_t *out, json_t *resp)
{
    json_t *v = json_object_get(req, name);

    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return admin_fail(resp, "bad_argument", "\"%s\" must be an integer", name);
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return admin_fail(resp, "out_of_range", "\"%s\" must be within %lld..%lld", name,
                          (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static int admin_cmd_shutdown(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    json_t *g = json_object_get(req, "graceful");
    json_int_t timeout = -1;

    (void)c;
    if (g != NULL && !json_is_boolean(g))
        return admin_fail(resp, "bad_argument", "\"graceful\" must be true or false");
    if (admin_int_arg(req, "timeout_s", 0, 86400, &timeout, resp) < 0)
        return -1;
    json_object_set_new(resp, "stopping", json_true());
    json_object_set_new(resp, "graceful", json_boolean(g == NULL || json_is_true(g)));
    json_object_set_new(resp, "timeout_s",
                        json_integer(timeout >= 0 ? timeout : a->cfg->shutdown_timeout));
    return 0;
}

static int admin_cmd_metrics(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out;

    (void)c;
    (void)req;
    if (admin_snapshot(a, resp) < 0)
        return -1;
    out = open_memstream(&text, &len);
    if (out == NULL)
        return admin_fail(resp, "busy", "out of memory");
    metrics_render(out, &a->snap, &a->hist, a->cfg);
    fclose(out);
    json_object_set_new(resp, "text", json_stringn(text, len));
    free(text);
    return 0;
}

static int admin_cmd_subscribe(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    (void)a;
    (void)req;
    c->subscribed = true;
    json_object_set_new(resp, "subscribed", json_true());
    return 0;
}

void admin_event(struct admin *a, const char *name, json_t *fields)
{
    json_t *ev = json_object();
    char *text;
    size_t len;

    json_object_set_new(ev, "event", json_string(name));
    json_object_set_new(ev, "schema", json_integer(ADMIN_SCHEMA));
    json_object_set_new(ev, "time", admin_time(time(NULL)));
    if (fields != NULL)
        json_object_update(ev, fields);
    json_decref(fields);
    text = admin_dump(ev, &len);
    json_decref(ev);
    if (text == NULL || !a->listening) {
        free(text);
        return;
    }
    for (struct admin_conn *c = a->conns, *next; c != NULL; c = next) {
        char *copy;

        next = c->next; /* sending may close and unlink c */
        if (!c->subscribed || (copy = malloc(len)) == NULL)
            continue;
        memcpy(copy, text, len);
        admin_send_text(c, copy, len);
    }
    free(text);
}

static int admin_cmd_reopen_logs(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    int rc = a->ops->reopen_logs(a->ops_ctx);

    (void)c;
    (void)req;
    if (rc < 0)
        return admin_fail(resp, "io_error", "cannot reopen the log file: %s", strerror(-rc));
    json_object_set_new(resp, "reopened", json_boolean(rc > 0));
    if (rc == 0)
        json_object_set_new(resp, "message", json_string("logs go to stderr: nothing to reopen"));
    return 0;
}

/* Reads "workers": N, "+N" or "-N" (relative to target) into *out.
 * Returns 0 or fails resp. */
static int admin_workers_arg(struct admin *a, json_t *req, unsigned *out, json_t *resp)
{
    json_t *v = json_object_get(req, "workers");
    long long n, target = a->ops->target(a->ops_ctx);
    const char *str;
    char *end;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v) && ((str = json_string_value(v))[0] == '+' || str[0] == '-') &&
               str[1] >= '0' && str[1] <= '9') {
        n = strtoll(str, &end, 10);
        if (*end != '\0')
            return admin_fail(resp, "bad_argument", "\"workers\" must be N, \"+N\" or \"-N\"");
        n += target;
    } else {
        return admin_fail(resp, "bad_argument", "\"workers\" must be N, \"+N\" or \"-N\"");
    }
    if (n < 1 || n > (long long)a->cfg->max_children)
        return admin_fail(resp, "out_of_range",
                          "workers must be within 1..%u (--max-children); asked for %lld",
                          a->cfg->max_children, n);
    *out = (unsigned)n;
    return 0;
}

static int admin_cmd_resize(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    json_int_t drain = a->cfg->shutdown_timeout;
    json_t *wait = json_object_get(req, "wait");
    unsigned from = a->ops->target(a->ops_ctx), to = from;
    uint64_t token;
    int rc;

    if (a->ops->resize == NULL)
        return admin_fail(resp, "unsupported", "%s mode has no pool to resize",
                          cfg_mode_name(a->cfg->mode));
    if (admin_workers_arg(a, req, &to, resp) < 0 ||
        admin_int_arg(req, "drain_timeout_s", 0, 86400, &drain, resp) < 0)
        return -1;
    if (wait != NULL && !json_is_boolean(wait))
        return admin_fail(resp, "bad_argument", "\"wait\" must be true or false");
    token = json_is_false(wait) ? 0 : ++a->next_token;
    if (token != 0) { /* set up first: the pool may finish at once */
        c->token = token;
        c->pending = resp;
    }
    rc = a->ops->resize(a->ops_ctx, to, (unsigned)drain, token);
    if (rc < 0) {
        c->token = 0;
        c->pending = NULL;
        if (rc == -EBUSY)
            return admin_fail(resp, "busy", "a resize is under way; try again when it is done");
        if (rc == -ESHUTDOWN)
            return admin_fail(resp, "stopping", "the pool is stopping");
        return admin_fail(resp, "unsupported", "this mode cannot resize");
    }
    if (token != 0)
        return 1;
    json_object_set_new(resp, "resizing", json_true());
    json_object_set_new(resp, "from", json_integer(from));
    json_object_set_new(resp, "to", json_integer(to));
    return 0;
}

void admin_resize_done(struct admin *a, uint64_t token, const struct admin_resize_result *r)
{
    struct admin_conn *c;
    json_t *resp;

    for (c = a->conns; c != NULL && c->token != token; c = c->next)
        ;
    if (token == 0 || c == NULL)
        return; /* nobody waits, or the client left */
    resp = c->pending;
    c->pending = NULL;
    c->token = 0;
    json_object_set_new(resp, "ok", json_true());
    json_object_set_new(resp, "from", json_integer(r->from));
    json_object_set_new(resp, "to", json_integer(r->to));
    json_object_set_new(resp, "started", json_integer(r->started));
    json_object_set_new(resp, "retired", json_integer(r->retired));
    json_object_set_new(resp, "killed", json_integer(r->killed));
    json_object_set_new(resp, "time_s", json_real((double)llround(r->seconds * 1e3) / 1e3));
    admin_send(c, resp);
    if (!c->in_lines && !c->closing) { /* requests that waited behind it */
        admin_lines(c);
        uv_read_start((uv_stream_t *)&c->pipe, admin_alloc, admin_read);
    }
}

/* After the answer to shutdown went out: act on it. */
static void admin_after_shutdown_cmd(struct admin *a, json_t *req)
{
    json_t *g = json_object_get(req, "graceful");
    json_t *t = json_object_get(req, "timeout_s");

    a->ops->shutdown(a->ops_ctx, g == NULL || json_is_true(g),
                     t != NULL ? (int)json_integer_value(t) : -1);
}

/* One table drives dispatch, access control and the docs' command list. */
static const struct admin_cmd {
    const char *name;
    bool control; /* false: read-only, open to --admin-group */
    admin_fn fn;
    void (*after)(struct admin *a, json_t *req); /* once answered, if ok */
} admin_cmds[] = {
    {"ping", false, admin_cmd_ping, NULL},
    {"status", false, admin_cmd_status, NULL},
    {"workers", false, admin_cmd_workers, NULL},
    {"metrics", false, admin_cmd_metrics, NULL},
    {"subscribe", false, admin_cmd_subscribe, NULL},
    {"resize", true, admin_cmd_resize, NULL},
    {"reopen-logs", true, admin_cmd_reopen_logs, NULL},
    {"shutdown", true, admin_cmd_shutdown, admin_after_shutdown_cmd},
};

/* ---- requests ---------------------------------------------------------- */

static const struct admin_cmd *admin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(admin_cmds) / sizeof(admin_cmds[0]); i++) {
        if (strcmp(admin_cmds[i].name, name) == 0)
            return &admin_cmds[i];
    }
    return NULL;
}

/* Answers one request line. */
static void admin_line(struct admin_conn *c, const char *line, size_t len)
{
    const struct admin_cmd *cmd = NULL;
    json_t *req, *resp = admin_response(), *name;
    json_error_t jerr;
    int rc;

    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL)
        rc =
            admin_fail(resp, "bad_json", "malformed JSON at column %d: %s", jerr.column, jerr.text);
    else if (!json_is_object(req))
        rc = admin_fail(resp, "bad_request", "a request is a JSON object");
    else if (!json_is_string(name = json_object_get(req, "cmd")))
        rc = admin_fail(resp, "bad_request", "a request names its command in \"cmd\"");
    else if ((cmd = admin_find(json_string_value(name))) == NULL)
        rc = admin_fail(resp, "unknown_command", "no command \"%.64s\"", json_string_value(name));
    else if (cmd->control && !c->control)
        rc = admin_fail(resp, "permission_denied", "\"%s\" is for the owner and root", cmd->name);
    else
        rc = cmd->fn(c->a, c, req, resp);
    if (rc < 0 && cmd != NULL && cmd->control && !c->control)
        log_warn("admin: denied \"%s\" to uid %ld (pid %ld)", cmd->name, (long)c->uid,
                 (long)c->pid);
    if (rc == 1) { /* answered later, by admin_resize_done() */
        json_decref(req);
        return;
    }
    json_object_set_new(resp, "ok", json_boolean(rc == 0));
    admin_send(c, resp);
    if (rc == 0 && cmd->after != NULL)
        cmd->after(c->a, req);
    json_decref(req);
}

static void admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct admin_conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

/* Answers every complete line in the buffer; keeps the partial rest. */
static void admin_lines(struct admin_conn *c)
{
    char *start = c->buf, *nl;

    /* While an answer is pending, later requests wait: answers stay in order. */
    c->in_lines = true;
    while (!c->closing && c->token == 0 && !c->subscribed &&
           (nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
        if (nl > start)
            admin_line(c, start, (size_t)(nl - start));
        start = nl + 1;
    }
    c->in_lines = false;
    c->len -= (size_t)(start - c->buf);
    memmove(c->buf, start, c->len);
}

static void admin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct admin_conn *c = s->data;
    json_t *resp;

    (void)buf;
    if (nread < 0 || (c->discard > 0 && (size_t)nread >= c->discard)) {
        admin_conn_close(c);
        return;
    }
    if (c->discard > 0) { /* cut off: drop input until the client closes */
        c->discard -= (size_t)nread;
        return;
    }
    c->len += (size_t)nread;
    admin_lines(c);
    if (c->subscribed) { /* an event stream: what the client sends is dropped */
        c->len = 0;
        return;
    }
    if (!c->closing && c->len == sizeof(c->buf) && c->token != 0) {
        uv_read_stop(s); /* whole requests wait behind a pending answer */
        return;
    }
    if (!c->closing && c->len == sizeof(c->buf)) {
        log_warn("admin: request line over %d bytes from pid %ld: cut off", ADMIN_LINE_MAX,
                 (long)c->pid);
        resp = admin_response();
        admin_fail(resp, "line_too_long", "a request line may not exceed %d bytes", ADMIN_LINE_MAX);
        admin_send(c, resp);
        /* Closing with unread input would reset the client before it reads
         * the answer: half-close, then drop what it still sends (bounded). */
        c->len = 0;
        c->discard = ADMIN_QUEUE_MAX;
        admin_half_close(c);
    }
}

/* ---- connections ------------------------------------------------------- */

/* True when pid's process has gid among its groups (/proc, since
 * SO_PEERCRED reports only the primary group). */
static bool admin_peer_in_group(pid_t pid, gid_t primary, gid_t group)
{
    char path[64], line[1024];
    bool found = primary == group;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (found || (f = fopen(path, "re")) == NULL)
        return found;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *p = line + 7, *end;

        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        for (unsigned long g; (g = strtoul(p, &end, 10)), end != p; p = end)
            found |= (gid_t)g == group;
    }
    fclose(f);
    return found;
}

/* Decides what the peer may do. Returns false when it may do nothing. */
static bool admin_identify(struct admin *a, struct admin_conn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    c->pid = cred.pid;
    c->uid = cred.uid;
    c->control = cred.uid == 0 || cred.uid == a->owner;
    return c->control ||
           (a->group != (gid_t)-1 && admin_peer_in_group(cred.pid, cred.gid, a->group));
}

static void admin_accept(uv_stream_t *server, int status)
{
    struct admin *a = server->data;
    struct admin_conn *c;
    json_t *resp;

    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->a = a;
    uv_pipe_init(a->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = a->conns;
    a->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        admin_conn_close(c);
        return;
    }
    if (!admin_identify(a, c)) {
        log_warn("admin: denied a connection from uid %ld (pid %ld)", (long)c->uid, (long)c->pid);
        resp = admin_response();
        admin_fail(resp, "permission_denied", "this socket is for its owner, root%s",
                   a->group != (gid_t)-1 ? " and the admin group" : "");
        admin_send(c, resp);
        c->discard = ADMIN_QUEUE_MAX;
        admin_half_close(c);
    }
    uv_read_start((uv_stream_t *)&c->pipe, admin_alloc, admin_read);
}

static void admin_on_sample(uv_timer_t *t)
{
    struct admin *a = t->data;

    if (snap_take(a->sb, &a->snap) == 0)
        snap_history_add(&a->hist, &a->snap);
}

/* ---- the socket -------------------------------------------------------- */

int admin_default_path(char *buf, size_t len, unsigned port)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;

    if (geteuid() == 0) {
        mkdir("/run/ferry", 0755); /* EEXIST is fine; bind reports the rest */
        n = snprintf(buf, len, "/run/ferry/ferryd-%u.sock", port);
    } else if (xdg != NULL && xdg[0] != '\0') {
        n = snprintf(buf, len, "%s/ferryd-%u.sock", xdg, port);
    } else {
        n = snprintf(buf, len, "/tmp/ferryd-%ld-%u.sock", (long)geteuid(), port);
    }
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Makes path free to bind: absent, or a stale socket nobody answers on
 * (removed). Returns 0, -EADDRINUSE (a live server), -EEXIST (not a
 * socket) or -errno. */
static int admin_claim_path(const struct sockaddr_un *sun)
{
    struct stat st;
    int fd, rc;

    if (lstat(sun->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    close(fd);
    if (rc == 0)
        return -EADDRINUSE;
    if (errno != ECONNREFUSED)
        return -errno;
    return unlink(sun->sun_path) < 0 ? -errno : 0;
}

/* Binds and listens on path with the right mode. Returns the fd or -errno. */
static int admin_listen_fd(const char *path, gid_t group)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    mode_t old;
    int fd, rc;

    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, path);
    if ((rc = admin_claim_path(&sun)) < 0)
        return rc;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* The mode is set at bind time: no window with a wider one. */
    old = umask(group != (gid_t)-1 ? 0117 : 0177);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc == 0 && group != (gid_t)-1 && chown(path, (uid_t)-1, group) < 0)
        rc = -1;
    if (rc == 0 && listen(fd, 64) < 0)
        rc = -1;
    if (rc < 0) {
        rc = -errno;
        close(fd);
        unlink(path);
        return rc;
    }
    return fd;
}

int admin_open(struct admin *a, uv_loop_t *loop, const char *path, gid_t group,
               const struct config *cfg, struct scoreboard *sb, const int *lfds, size_t nlfds,
               const struct admin_ops *ops, void *ops_ctx)
{
    int fd, rc;

    memset(a, 0, sizeof(*a));
    if (snprintf(a->path, sizeof(a->path), "%s", path) >= (int)sizeof(a->path))
        return -ENAMETOOLONG;
    if (snap_init(&a->snap, sb->nslots) < 0 || snap_history_init(&a->hist, sb->nslots) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    fd = admin_listen_fd(path, group);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    a->loop = loop;
    a->cfg = cfg;
    a->sb = sb;
    a->owner = geteuid();
    a->group = group;
    a->ops = ops;
    a->ops_ctx = ops_ctx;
    a->lfd0 = nlfds > 0 ? lfds[0] : -1;
    for (size_t i = 0; i < nlfds && a->nlisteners < 8; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char addr[ADDR_STR_MAX];

        if (getsockname(lfds[i], (struct sockaddr *)&ss, &len) == 0)
            snprintf(a->listeners[a->nlisteners++], sizeof(a->listeners[0]), "%s",
                     addr_format((struct sockaddr *)&ss, addr));
    }
    uv_pipe_init(loop, &a->server, 0);
    a->server.data = a;
    uv_pipe_open(&a->server, fd);
    uv_listen((uv_stream_t *)&a->server, 64, admin_accept);
    uv_timer_init(loop, &a->sampler);
    a->sampler.data = a;
    uv_timer_start(&a->sampler, admin_on_sample, 0, 1000);
    a->listening = true;
    return 0;
fail:
    snap_free(&a->snap);
    snap_history_free(&a->hist);
    return rc;
}

const char *admin_strerror(int rc)
{
    if (rc == -EADDRINUSE)
        return "in use by another running ferryd";
    if (rc == -EEXIST)
        return "exists and is not a socket";
    return strerror(-rc);
}

void admin_close(struct admin *a)
{
    if (!a->listening)
        return;
    a->listening = false;
    while (a->conns != NULL)
        admin_conn_close(a->conns);
    uv_close((uv_handle_t *)&a->server, NULL);
    uv_close((uv_handle_t *)&a->sampler, NULL);
    unlink(a->path);
    snap_free(&a->snap);
    snap_history_free(&a->hist);
}

/* ---- a loop of its own (iterative mode) -------------------------------- */

static void admin_thread_on_stop(uv_async_t *h)
{
    struct admin_thread *t = h->data;

    admin_close(&t->admin);
    uv_close((uv_handle_t *)&t->stop, NULL);
}

static void *admin_thread_main(void *arg)
{
    struct admin_thread *t = arg;

    uv_run(&t->loop, UV_RUN_DEFAULT);
    return NULL;
}

int admin_thread_start(struct admin_thread *t, const char *path, gid_t group,
                       const struct config *cfg, struct scoreboard *sb, const int *lfds,
                       size_t nlfds, const struct admin_ops *ops, void *ops_ctx)
{
    sigset_t all, old;
    int rc;

    if ((rc = uv_loop_init(&t->loop)) < 0)
        return rc;
    rc = admin_open(&t->admin, &t->loop, path, group, cfg, sb, lfds, nlfds, ops, ops_ctx);
    if (rc < 0) {
        uv_loop_close(&t->loop);
        return rc;
    }
    uv_async_init(&t->loop, &t->stop, admin_thread_on_stop);
    t->stop.data = t;
    /* Signals belong to the serving thread: the new one starts with all blocked. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&t->tid, NULL, admin_thread_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        admin_thread_on_stop(&t->stop);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        uv_loop_close(&t->loop);
    }
    return rc;
}

void admin_thread_stop(struct admin_thread *t)
{
    uv_async_send(&t->stop);
    pthread_join(t->tid, NULL);
    uv_loop_close(&t->loop);
}
