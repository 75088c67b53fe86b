/*
 * admin_cmd: the admin socket's commands: one table for dispatch and
 * access, and a handler per command that reads its arguments and builds
 * its answer from a scoreboard snapshot. The transport is admin.c.
 */
#include "master/admin_int.h"
#include "master/hubadmin.h"
#include "master/opsadmin.h"

#include "common/addr.h"
#include "master/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int admin_fail(json_t *resp, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object_set_new(resp, "error", json_string(code));
    /* json_string() takes valid UTF-8 only, and msg may quote a client's
     * bytes or be cut inside a character: then those bytes become '?',
     * so that every failure still carries its message (fuzz/fuzz_admin.c). */
    if (json_object_set_new(resp, "message", json_string(msg)) < 0) {
        for (char *p = msg; *p != '\0'; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        json_object_set_new(resp, "message", json_string(msg));
    }
    return -1;
}

static const char *const admin_state_names[] = {"running", "draining", "stopping"};

/* Requests by outcome: {"ok": N, "redirect": N, ...}. */
static json_t *admin_outcomes(const uint64_t *requests)
{
    json_t *o = json_object();

    for (unsigned i = 0; i < SB_OUT_COUNT; i++)
        json_object_set_new(o, sb_outcome_name(i), json_integer((json_int_t)requests[i]));
    return o;
}

static json_t *admin_counters(const struct sb_counters *c)
{
    json_t *o = json_object();
    uint64_t by[SB_OUT_COUNT] = {0};

    for (unsigned l = 0; l < PROTO_LISTENERS_MAX; l++) {
        for (unsigned i = 0; i < SB_OUT_COUNT; i++)
            by[i] += c->listener[l].requests[i];
    }
    json_object_set_new(o, "connections", json_integer((json_int_t)c->connections));
    json_object_set_new(o, "requests", json_integer((json_int_t)c->requests));
    json_object_set_new(o, "bytes", json_integer((json_int_t)c->bytes));
    json_object_set_new(o, "disk_waits", json_integer((json_int_t)c->disk_waits));
    json_object_set_new(o, "outcomes", admin_outcomes(by));
    return o;
}

/* One listener: what it is, its row of counters and its denials. */
static json_t *admin_listener(const struct listeners *ls, size_t i, const struct sb_row *row,
                              uint64_t denied)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:o,s:I}", "protocol", proto_name(ls->proto[i]), "address",
                     ls->names[i], "connections", (json_int_t)row->connections, "bytes",
                     (json_int_t)row->bytes, "requests", admin_outcomes(row->requests), "denied",
                     (json_int_t)denied);
}

/* Connections --allow/--deny refused, on every listener (the master's own
 * too). */
static json_int_t admin_denied(const struct snapshot *s)
{
    uint64_t n = 0;

    for (int i = 0; i < PROTO_LISTENERS_MAX; i++)
        n += s->denied[i] + s->denied_master[i];
    return (json_int_t)n;
}

json_t *admin_time(int64_t unix_s)
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
    json_t *o = json_object();

    for (size_t i = 0; i < SNAP_NWINDOWS; i++) {
        json_t *w = json_object();
        double rq, by;
        char key[16];

        snap_rate(&a->hist, &a->snap, snap_windows[i], &rq, &by);
        json_object_set_new(w, "requests_per_s", admin_rate(rq));
        json_object_set_new(w, "bytes_per_s", admin_rate(by));
        snprintf(key, sizeof(key), "%us", snap_windows[i]);
        json_object_set_new(o, key, w);
    }
    return o;
}

/* Connections waiting in the listeners' accept queues, summed, and the
 * backlog of one of them; null once the listeners are closed. */
static json_t *admin_saturation(struct admin *a)
{
    json_t *o = json_object();
    struct lsn_queue q;
    unsigned queued = 0, backlog = 0;
    bool any = false;

    for (size_t i = 0; i < a->ls->n; i++) {
        if (lsn_queue(a->ls, i, &q) < 0)
            continue;
        any = true;
        queued += q.queued;
        backlog = q.backlog;
    }
    json_object_set_new(o, "listen_queue", any ? json_integer(queued) : json_null());
    json_object_set_new(o, "listen_backlog", any ? json_integer(backlog) : json_null());
    json_object_set_new(o, "at_limit_count", json_integer((json_int_t)a->snap.pool.at_limit));
    json_object_set_new(o, "last_at_limit", admin_time(a->snap.pool.at_limit_unix));
    json_object_set_new(o, "oldest_wait_ms", json_null()); /* the kernel does not tell */
    return o;
}

/* The pool's processes by state: the workers', the hub aside. */
static json_t *admin_pool(const struct snapshot *s)
{
    json_t *pool = json_object();

    json_object_set_new(pool, "processes", json_integer(s->nworkers));
    for (unsigned i = SB_STARTING; i < SB_STATE_COUNT; i++)
        json_object_set_new(pool, sb_state_name(i), json_integer(s->by_state[i]));
    return pool;
}

/* The hub's figures, as status and workers carry them. */
static void admin_hub_figures(json_t *o, const struct sb_hub *h)
{
    json_object_set_new(o, "sessions_online", json_integer((json_int_t)h->online));
    json_object_set_new(o, "posts", json_integer((json_int_t)h->posts));
    json_object_set_new(o, "forwards", json_integer((json_int_t)h->forwards));
    json_object_set_new(o, "retransmissions", json_integer((json_int_t)h->retransmissions));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)h->duplicates));
    json_object_set_new(o, "resets_sent", json_integer((json_int_t)h->resets_sent));
    json_object_set_new(o, "resets_received", json_integer((json_int_t)h->resets_received));
    json_object_set_new(o, "rejected", json_integer((json_int_t)h->rejected));
}

/* status's hub: its process (nulls while it restarts), its figures counted
 * across its restarts (its sessions die with it), and its exits. */
static json_t *admin_hub_status(const struct snapshot *s)
{
    const struct sb_slot *w = s->hub_live >= 0 ? &s->live[s->hub_live] : NULL;
    json_t *o = json_object();

    json_object_set_new(o, "slot", w ? json_integer(s->live_slot[s->hub_live]) : json_null());
    json_object_set_new(o, "pid", w ? json_integer(w->pid) : json_null());
    json_object_set_new(o, "state", w ? json_string(sb_state_name(w->state)) : json_null());
    admin_hub_figures(o, &s->totals.hub);
    json_object_set_new(o, "exits", json_integer((json_int_t)s->totals.hub_exits));
    json_object_set_new(o, "crashes", json_integer((json_int_t)s->totals.hub_crashes));
    return o;
}

static int admin_cmd_status(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    const struct snapshot *s = &a->snap;
    enum admin_state state = a->ops->state(a->ops_ctx);
    json_t *lis = json_array(), *lim = json_object(), *tot;
    json_t *conns = json_object();

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
    for (size_t i = 0; i < a->ls->n && state != ADMIN_STOPPING; i++) { /* closed once stopping */
        if (!lsn_removed(a->ls, i))
            json_array_append_new(lis,
                                  admin_listener(a->ls, i, &s->totals.c.listener[i], s->denied[i]));
    }
    json_object_set_new(resp, "listeners", lis);
    json_object_set_new(lim, "workers", json_integer(s->pool.target));
    json_object_set_new(lim, "max_children", json_integer(a->cfg->max_children));
    json_object_set_new(lim, "worker_connections", json_integer(a->sb->conns_per_slot));
    json_object_set_new(lim, "io_timeout_s", json_integer(a->cfg->io_timeout));
    json_object_set_new(lim, "request_timeout_s", json_integer(a->cfg->request_timeout));
    json_object_set_new(lim, "shutdown_timeout_s", json_integer(a->cfg->shutdown_timeout));
    json_object_set_new(lim, "stall_timeout_s", json_integer(a->cfg->stall_timeout));
    json_object_set_new(lim, "chunk_size", json_integer(a->cfg->chunk_size));
    /* The per-client limits (0: off), every mode's. */
    json_object_set_new(lim, "min_rate_bps", json_integer(a->cfg->min_rate));
    json_object_set_new(lim, "max_conn_per_ip", json_integer(a->cfg->max_conn_per_ip));
    json_object_set_new(lim, "keepalive_timeout_s", json_integer(a->cfg->keepalive_timeout));
    json_object_set_new(resp, "limits", lim);
    json_object_set_new(resp, "pool", admin_pool(s));
    if (a->ls->nhub > 0)
        json_object_set_new(resp, "hub", admin_hub_status(s));
    json_object_set_new(conns, "open", json_integer(s->nconns));
    for (unsigned i = SB_READING; i <= SB_CLOSING; i++)
        json_object_set_new(conns, sb_state_name(i), json_integer(s->conn_states[i]));
    json_object_set_new(resp, "connections", conns);
    tot = admin_counters(&s->totals.c);
    json_object_set_new(tot, "worker_exits", json_integer((json_int_t)s->totals.worker_exits));
    json_object_set_new(tot, "crashes", json_integer((json_int_t)s->totals.crashes));
    json_object_set_new(tot, "kills", json_integer((json_int_t)s->totals.kills));
    json_object_set_new(tot, "respawns", json_integer((json_int_t)s->pool.respawns));
    json_object_set_new(tot, "retired_max_requests",
                        json_integer((json_int_t)s->pool.max_requests));
    json_object_set_new(tot, "denied", json_integer(admin_denied(s)));
    json_object_set_new(resp, "totals", tot);
    json_object_set_new(resp, "throughput", admin_throughput(a));
    json_object_set_new(resp, "saturation", admin_saturation(a));
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

/* Connection ci of the snapshot: where from, what it serves, how fast. */
static json_t *admin_transfer(struct admin *a, uint32_t ci)
{
    const struct sb_conn *r = &a->snap.conns[ci].r;
    unsigned l = r->listener;
    bool known = l < a->ls->n;
    json_t *t = json_object();
    char peer[ADDR_STR_MAX];
    double rate, avg;

    snap_transfer_rates(&a->hist, &a->snap, ci, &rate, &avg);
    json_object_set_new(t, "peer", json_string(addr_format(&r->peer.sa, peer)));
    /* The record is the worker's word: only an index below n names a listener. */
    json_object_set_new(t, "protocol",
                        known ? json_string(proto_name(a->ls->proto[l])) : json_null());
    json_object_set_new(t, "listener", known ? json_string(a->ls->names[l]) : json_null());
    json_object_set_new(t, "target", r->target[0] ? json_string(r->target) : json_null());
    json_object_set_new(t, "requests", json_integer(r->requests));
    json_object_set_new(t, "received", json_integer(r->received));
    json_object_set_new(t, "size", json_integer((json_int_t)r->size));
    json_object_set_new(t, "sent", json_integer((json_int_t)r->sent));
    json_object_set_new(t, "rate_bps", admin_rate(rate));
    json_object_set_new(t, "avg_rate_bps", admin_rate(avg));
    json_object_set_new(t, "age_s", admin_seconds(a->snap.taken_ns - r->start_ns));
    json_object_set_new(t, "idle_ms", json_integer((a->snap.taken_ns - r->progress_ns) / 1000000));
    return t;
}

/* Live process i of the snapshot: a workers row. The hub's carries its
 * figures since it started. */
static json_t *admin_worker(struct admin *a, uint32_t i)
{
    const struct sb_slot *w = &a->snap.live[i];
    const struct snap_conn *only = snap_only_conn(&a->snap, i);
    json_t *o = json_object();

    json_object_set_new(o, "slot", json_integer(a->snap.live_slot[i]));
    json_object_set_new(o, "pid", json_integer(w->pid));
    json_object_set_new(o, "kind", json_string(sb_kind_name(w->kind)));
    json_object_set_new(o, "generation", json_integer(w->generation));
    json_object_set_new(o, "state", json_string(sb_state_name(snap_worker_state(&a->snap, i))));
    json_object_set_new(o, "age_s", admin_seconds(a->snap.taken_ns - w->started_ns));
    json_object_set_new(o, "connections", json_integer(a->snap.live_conns[i]));
    json_object_set_new(o, "full", json_boolean(w->full));
    json_object_set_new(o, "requests", json_integer((json_int_t)w->c.requests));
    json_object_set_new(o, "bytes", json_integer((json_int_t)w->c.bytes));
    if (only != NULL)
        json_object_set_new(o, "transfer", admin_transfer(a, (uint32_t)(only - a->snap.conns)));
    if (w->kind == SB_KIND_HUB) {
        json_t *hub = json_object();

        admin_hub_figures(hub, &a->snap.hub);
        json_object_set_new(o, "hub", hub);
    }
    return o;
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
    for (uint32_t i = 0; i < a->snap.nlive; i++)
        json_array_append_new(list, admin_worker(a, i));
    json_object_set_new(resp, "workers", list);
    return 0;
}

/* The filters of "connections": each optional; a connection must pass all. */
struct admin_conn_filter {
    json_int_t slot, pid; /* -1: any */
    const char *peer;     /* the address, port aside (NULL: any) */
    int state;            /* enum sb_state, or -1: any */
};

/* True when s is an IP address, with or without a port ("1.2.3.4",
 * "1.2.3.4:80", "::1", "[::1]", "[::1]:80"). */
static bool admin_is_address(const char *s)
{
    char host[ADDR_HOST_MAX];
    unsigned char bin[sizeof(struct in6_addr)];
    int port;

    if (addr_split(s, host, sizeof(host), &port) < 0)
        return false;
    return inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
}

/* Reads the filters from req. Returns 0 or fails resp. */
static int admin_conn_filter(json_t *req, struct admin_conn_filter *f, json_t *resp)
{
    json_t *peer = json_object_get(req, "peer"), *state = json_object_get(req, "state");

    f->slot = f->pid = -1;
    f->peer = NULL;
    f->state = -1;
    if (admin_int_arg(req, "slot", 0, INT32_MAX, &f->slot, resp) < 0 ||
        admin_int_arg(req, "pid", 1, INT32_MAX, &f->pid, resp) < 0)
        return -1;
    if (peer != NULL && (!json_is_string(peer) || !admin_is_address(json_string_value(peer))))
        return admin_fail(resp, "bad_argument",
                          "\"peer\" must be an address: 1.2.3.4, ::1, [::1], or one with :PORT");
    f->peer = peer != NULL ? json_string_value(peer) : NULL;
    if (state != NULL) {
        for (int st = SB_READING; st <= SB_CLOSING && json_is_string(state); st++) {
            if (strcmp(json_string_value(state), sb_state_name((unsigned)st)) == 0)
                f->state = st;
        }
        if (f->state < 0)
            return admin_fail(resp, "bad_argument",
                              "\"state\" must be reading, waiting, keepalive, sending or closing");
    }
    return 0;
}

/* True when connection ci passes f. */
static bool admin_conn_match(const struct admin *a, uint32_t ci, const struct admin_conn_filter *f)
{
    const struct snap_conn *c = &a->snap.conns[ci];
    char full[ADDR_STR_MAX + 4], host[ADDR_STR_MAX];

    if (f->slot >= 0 && a->snap.live_slot[c->live] != f->slot)
        return false;
    if (f->pid >= 0 && a->snap.live[c->live].pid != f->pid)
        return false;
    if (f->state >= 0 && c->r.state != f->state)
        return false;
    if (f->peer == NULL || strcmp(addr_format(&c->r.peer.sa, full), f->peer) == 0 ||
        strcmp(addr_format_host(&c->r.peer.sa, host), f->peer) == 0)
        return true;
    snprintf(full, sizeof(full), "[%s]", host); /* "[::1]" as well as "::1" */
    return strcmp(full, f->peer) == 0;
}

static int admin_cmd_connections(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    struct admin_conn_filter f;
    json_t *list;

    (void)c;
    if (admin_conn_filter(req, &f, resp) < 0 || admin_snapshot(a, resp) < 0)
        return -1;
    list = json_array();
    for (uint32_t i = 0; i < a->snap.nconns; i++) {
        const struct snap_conn *sc = &a->snap.conns[i];
        json_t *o;

        if (!admin_conn_match(a, i, &f))
            continue;
        o = admin_transfer(a, i);
        json_object_set_new(o, "slot", json_integer(a->snap.live_slot[sc->live]));
        json_object_set_new(o, "pid", json_integer(a->snap.live[sc->live].pid));
        json_object_set_new(o, "id", json_integer(sc->k));
        json_object_set_new(o, "state", json_string(sb_state_name(sc->r.state)));
        json_array_append_new(list, o);
    }
    json_object_set_new(resp, "total", json_integer(a->snap.nconns));
    json_object_set_new(resp, "connections", list);
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
    if (a->ops->state(a->ops_ctx) == ADMIN_STOPPING) {
        /* A graceful stop under way is not restarted: report the one in force. */
        json_object_set_new(resp, "already_stopping", json_true());
        if (g == NULL || json_is_true(g))
            timeout = a->ops->stop_timeout(a->ops_ctx);
    }
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
    metrics_render(out, &a->snap, a->cfg, a->ls);
    fclose(out);
    json_object_set_new(resp, "text", json_stringn(text, len));
    free(text);
    return 0;
}

static int admin_cmd_subscribe(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    (void)req;
    a->subscribers += !c->subscribed;
    c->subscribed = true;
    json_object_set_new(resp, "subscribed", json_true());
    return 0;
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
        /* strtoll() saturates: a sum past the range would overflow, and
         * anything that far out is refused below all the same. */
        if (n > -(long long)UINT_MAX && n < (long long)UINT_MAX)
            n += target;
    } else {
        return admin_fail(resp, "bad_argument", "\"workers\" must be N, \"+N\" or \"-N\"");
    }
    if (n < 1 || n > (long long)cfg_max_workers(a->cfg))
        return admin_fail(
            resp, "out_of_range", "workers must be within 1..%u (--max-children%s); asked for %lld",
            cfg_max_workers(a->cfg),
            cfg_max_workers(a->cfg) < a->cfg->max_children ? ", less the hub's slot" : "", n);
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
            return admin_fail(
                resp, "busy",
                "a resize or a rolling restart is under way; try again when it is done");
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

/* After the answer to shutdown went out: act on it. */
static void admin_after_shutdown_cmd(struct admin *a, json_t *req)
{
    json_t *g = json_object_get(req, "graceful");
    json_t *t = json_object_get(req, "timeout_s");

    a->ops->shutdown(a->ops_ctx, g == NULL || json_is_true(g),
                     t != NULL ? (int)json_integer_value(t) : -1);
}

/* One table drives dispatch, access control and the docs' command list. */
static const struct admin_cmd admin_cmds[] = {
    {"ping", false, admin_cmd_ping, NULL},
    {"status", false, admin_cmd_status, NULL},
    {"workers", false, admin_cmd_workers, NULL},
    {"connections", false, admin_cmd_connections, NULL},
    {"metrics", false, admin_cmd_metrics, NULL},
    {"subscribe", false, admin_cmd_subscribe, NULL},
    {"resize", true, admin_cmd_resize, NULL},
    {"reopen-logs", true, admin_cmd_reopen_logs, NULL},
    {"reload", true, opsadmin_reload, NULL},
    {"config", false, opsadmin_config, NULL},
    {"upgrade", true, opsadmin_upgrade, NULL},
    {"shutdown", true, admin_cmd_shutdown, admin_after_shutdown_cmd},
    {"hub-users", false, hubadmin_users, NULL},
    {"hub-useradd", true, hubadmin_useradd, NULL},
    {"hub-passwd", true, hubadmin_passwd, NULL},
    {"hub-userdel", true, hubadmin_userdel, NULL},
};

/* A fresh response object; "ok" comes first and is settled at the end. */
json_t *admin_response(void)
{
    json_t *resp = json_object();

    json_object_set_new(resp, "ok", json_false());
    json_object_set_new(resp, "schema", json_integer(ADMIN_SCHEMA));
    return resp;
}

const struct admin_cmd *admin_cmd_find(const char *name)
{
    for (size_t i = 0; i < sizeof(admin_cmds) / sizeof(admin_cmds[0]); i++) {
        if (strcmp(admin_cmds[i].name, name) == 0)
            return &admin_cmds[i];
    }
    return NULL;
}
