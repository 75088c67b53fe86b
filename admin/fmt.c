/*
 * fmt: human output for ferryctl. See fmt.h.
 *
 * Two shapes fit any width: a table (table.h), whose columns each say how
 * they give way when the line is short, and a wrapped list of items
 * (fmt_wrap_*) for the status report and events, both drawn with the text
 * cuts of cut.h. Here is what the tables and lists of each answer hold.
 */
#include "admin/fmt.h"

#include "admin/table.h"
#include "common/size.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Room for an event's label: a time and a name, and slack. */
#define FMT_CELL_MAX 512

/* The most process states a pool line names (the scoreboard has 10). */
#define FMT_STATES_MAX 16

/* ---- text ---------------------------------------------------------- */

char *fmt_duration(double s, char *buf, size_t len)
{
    unsigned long t = (unsigned long)s;

    if (s < 60)
        snprintf(buf, len, "%.1fs", s);
    else if (t < 3600)
        snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, len, "%luh%02lum", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%lud%02luh", t / 86400, t / 3600 % 24);
    return buf;
}

char *fmt_rate(double bps, char *buf, size_t len)
{
    char sz[32];

    snprintf(buf, len, "%s/s", size_format(bps > 0 ? (uint64_t)bps : 0, sz, sizeof(sz)));
    return buf;
}

static json_int_t fmt_int(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static double fmt_num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static const char *fmt_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* ---- wrapped lists --------------------------------------------------- */

/* A line of items that continues on lines indented by indent when the
 * next item would pass the width. */
struct fmt_wrap {
    FILE *out;
    unsigned width;  /* CUT_WIDE: one line */
    unsigned indent; /* of continuation lines */
    unsigned col;    /* display column reached */
    bool fresh;      /* nothing yet after the label or the indent */
};

/* Starts a line with label: padded to indent columns when shorter, so
 * that the first item starts there; when longer (or at a tiny width), the
 * first item follows it after its separator. */
static void fmt_wrap_begin(struct fmt_wrap *w, FILE *out, unsigned width, const char *label,
                           unsigned indent)
{
    size_t n = cut_cols(label);

    *w = (struct fmt_wrap){.out = out, .width = width, .indent = indent};
    if (width != CUT_WIDE && indent + CUT_MIN > width)
        w->indent = 0; /* continuation lines start at the margin */
    if (width != CUT_WIDE && n > width)
        n = width;
    cut_put(out, label, n, CUT_KEEP_NONE);
    w->col = (unsigned)n;
    w->fresh = n == 0 || n < w->indent;
    if (n > 0)
        for (; w->col < w->indent; w->col++)
            fputc(' ', out);
}

/* Adds text (cleaned in place) after sep, on a new line if it does not
 * fit on this one, cut if it fits on none. */
static void fmt_wrap_put(struct fmt_wrap *w, const char *sep, char *text)
{
    size_t n = cut_cols(cut_clean(text)), s = w->fresh ? 0 : cut_cols(sep);

    if (w->width != CUT_WIDE && !w->fresh && w->col + s + n > w->width) {
        fprintf(w->out, "\n%*s", (int)w->indent, "");
        w->col = w->indent;
        w->fresh = true;
        s = 0;
    }
    if (!w->fresh)
        fputs(sep, w->out);
    if (w->width != CUT_WIDE && w->col + s + n > w->width)
        n = w->width > w->col + s ? w->width - w->col - s : 0;
    cut_put(w->out, text, n, CUT_KEEP_NONE);
    w->col += (unsigned)(s + n);
    w->fresh = false;
}

/* fmt_wrap_put() of a formatted item. */
__attribute__((format(printf, 3, 4))) static void fmt_wrap_putf(struct fmt_wrap *w, const char *sep,
                                                                const char *fmt, ...)
{
    char *item = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&item, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        fmt_wrap_put(w, sep, item);
        free(item);
    }
}

static void fmt_wrap_end(struct fmt_wrap *w)
{
    fputc('\n', w->out);
}

/* ---- status -------------------------------------------------------- */

/* The report's labels are this wide, its items start one column after. */
#define FMT_LABEL_W 12

static void fmt_status_head(FILE *out, json_t *r, unsigned width)
{
    json_t *lim = json_object_get(r, "limits");
    struct fmt_wrap w;
    char up[32], chunk[32], rate[32];

    fmt_wrap_begin(&w, out, width, "", 2);
    fmt_wrap_putf(&w, "  ", "ferryd %s", fmt_str(r, "version"));
    fmt_wrap_putf(&w, "  ", "pid %lld", (long long)fmt_int(r, "pid"));
    fmt_wrap_putf(&w, "  ", "%s", fmt_str(r, "mode"));
    fmt_wrap_putf(&w, "  ", "%s", fmt_str(r, "state"));
    fmt_wrap_putf(&w, "  ", "up %s", fmt_duration(fmt_num(r, "uptime_s"), up, sizeof(up)));
    fmt_wrap_end(&w);
    fmt_wrap_begin(&w, out, width, "limits", FMT_LABEL_W);
    fmt_wrap_putf(&w, "  ", "workers %lld", (long long)fmt_int(lim, "workers"));
    if (json_is_integer(json_object_get(lim, "worker_connections"))) /* if this ferryd has it */
        fmt_wrap_putf(&w, "  ", "worker-connections %lld",
                      (long long)fmt_int(lim, "worker_connections"));
    fmt_wrap_putf(&w, "  ", "max-children %lld", (long long)fmt_int(lim, "max_children"));
    if (json_is_integer(json_object_get(lim, "request_timeout_s"))) /* if this ferryd has it */
        fmt_wrap_putf(&w, "  ", "request-timeout %llds",
                      (long long)fmt_int(lim, "request_timeout_s"));
    fmt_wrap_putf(&w, "  ", "io-timeout %llds", (long long)fmt_int(lim, "io_timeout_s"));
    fmt_wrap_putf(&w, "  ", "shutdown-timeout %llds",
                  (long long)fmt_int(lim, "shutdown_timeout_s"));
    if (json_is_integer(json_object_get(lim, "stall_timeout_s"))) /* if this ferryd has it */
        fmt_wrap_putf(&w, "  ", "stall-timeout %llds", (long long)fmt_int(lim, "stall_timeout_s"));
    fmt_wrap_putf(&w, "  ", "chunk %s",
                  size_format((uint64_t)fmt_int(lim, "chunk_size"), chunk, sizeof(chunk)));
    /* The per-client limits, if this ferryd has them; 0 turns each off. */
    if (json_is_integer(json_object_get(lim, "min_rate_bps"))) {
        if (fmt_int(lim, "min_rate_bps") > 0)
            fmt_wrap_putf(&w, "  ", "min-rate %s/s",
                          size_format((uint64_t)fmt_int(lim, "min_rate_bps"), rate, sizeof(rate)));
        else
            fmt_wrap_putf(&w, "  ", "min-rate off");
    }
    if (json_is_integer(json_object_get(lim, "max_conn_per_ip"))) {
        if (fmt_int(lim, "max_conn_per_ip") > 0)
            fmt_wrap_putf(&w, "  ", "max-conn-per-ip %lld",
                          (long long)fmt_int(lim, "max_conn_per_ip"));
        else
            fmt_wrap_putf(&w, "  ", "max-conn-per-ip off");
    }
    if (json_is_integer(json_object_get(lim, "keepalive_timeout_s")))
        fmt_wrap_putf(&w, "  ", "keepalive-timeout %llds",
                      (long long)fmt_int(lim, "keepalive_timeout_s"));
    fmt_wrap_end(&w);
}

/* The order the pool line names the process states in: a process's own
 * states first (busy: it holds several connections), then those of its
 * one connection, then leaving. A state not named here comes last. */
static const char *const fmt_pool_order[] = {
    "starting", "idle", "busy", "reading", "waiting", "keepalive", "sending", "closing", "exiting"};

#define FMT_POOL_NORDER (sizeof(fmt_pool_order) / sizeof(fmt_pool_order[0]))

/* The position of pool state key in fmt_pool_order (FMT_POOL_NORDER: not
 * named). */
static size_t fmt_pool_rank(const char *key)
{
    size_t i = 0;

    while (i < FMT_POOL_NORDER && strcmp(key, fmt_pool_order[i]) != 0)
        i++;
    return i;
}

/* "3 processes: 1 idle, 1 busy, 1 sending" (states with nobody in them
 * left out). The punctuation ends each item, so a wrap never strands it. */
static void fmt_status_pool(FILE *out, json_t *pool, unsigned width)
{
    const char *key, *busy[FMT_STATES_MAX];
    size_t n = 0;
    struct fmt_wrap w;
    json_t *v;

    for (size_t rank = 0; rank <= FMT_POOL_NORDER; rank++) {
        json_object_foreach(pool, key, v)
        {
            if (strcmp(key, "processes") != 0 && json_integer_value(v) != 0 &&
                fmt_pool_rank(key) == rank && n < FMT_STATES_MAX)
                busy[n++] = key;
        }
    }
    fmt_wrap_begin(&w, out, width, "pool", FMT_LABEL_W);
    fmt_wrap_putf(&w, " ", "%lld processes%s", (long long)fmt_int(pool, "processes"), n ? ":" : "");
    for (size_t i = 0; i < n; i++)
        fmt_wrap_putf(&w, " ", "%lld %s%s", (long long)fmt_int(pool, busy[i]), busy[i],
                      i + 1 < n ? "," : "");
    fmt_wrap_end(&w);
}

/* "pid 5480 idle  2 online  1 posts  1 forwards ...": the hub's line, when
 * ferryd has one; "restarting" while it has no process. Every figure,
 * zeros too, so that top holds still. */
static void fmt_status_hub(FILE *out, json_t *hub, unsigned width)
{
    static const char *const figs[][2] = {
        {"sessions_online", "online"},
        {"posts", "posts"},
        {"forwards", "forwards"},
        {"retransmissions", "retransmissions"},
        {"duplicates", "duplicates"},
        {"resets_sent", "resets sent"},
        {"resets_received", "resets received"},
        {"rejected", "rejected"},
        {"exits", "exits"},
        {"crashes", "crashes"},
    };
    struct fmt_wrap w;

    if (!json_is_object(hub))
        return;
    fmt_wrap_begin(&w, out, width, "hub", FMT_LABEL_W);
    if (json_is_integer(json_object_get(hub, "pid")))
        fmt_wrap_putf(&w, "  ", "pid %lld %s", (long long)fmt_int(hub, "pid"),
                      fmt_str(hub, "state"));
    else
        fmt_wrap_putf(&w, "  ", "restarting");
    for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++)
        fmt_wrap_putf(&w, "  ", "%lld %s", (long long)fmt_int(hub, figs[i][0]), figs[i][1]);
    fmt_wrap_end(&w);
}

/* "5 open  reading 1  waiting 0  keepalive 3  sending 1  closing 0":
 * every state, zeros too, as the outcomes, so that top holds still. An
 * older ferryd's answer has no such object: no line. */
static void fmt_status_conns(FILE *out, json_t *conns, unsigned width)
{
    struct fmt_wrap w;
    const char *key;
    json_t *v;

    if (!json_is_object(conns))
        return;
    fmt_wrap_begin(&w, out, width, "connections", FMT_LABEL_W);
    fmt_wrap_putf(&w, "  ", "%lld open", (long long)fmt_int(conns, "open"));
    json_object_foreach(conns, key, v)
    {
        if (strcmp(key, "open") != 0)
            fmt_wrap_putf(&w, "  ", "%s %lld", key, (long long)json_integer_value(v));
    }
    fmt_wrap_end(&w);
}

static void fmt_status_totals(FILE *out, json_t *t, unsigned width)
{
    const char *key;
    struct fmt_wrap w;
    char bytes[32];
    json_t *v;

    fmt_wrap_begin(&w, out, width, "totals", FMT_LABEL_W);
    fmt_wrap_putf(&w, "  ", "%lld connections", (long long)fmt_int(t, "connections"));
    fmt_wrap_putf(&w, "  ", "%lld requests", (long long)fmt_int(t, "requests"));
    fmt_wrap_putf(&w, "  ", "%s sent",
                  size_format((uint64_t)fmt_int(t, "bytes"), bytes, sizeof(bytes)));
    fmt_wrap_putf(&w, "  ", "%lld exits", (long long)fmt_int(t, "worker_exits"));
    fmt_wrap_putf(&w, "  ", "%lld crashes", (long long)fmt_int(t, "crashes"));
    if (json_is_integer(json_object_get(t, "kills"))) /* if this ferryd has it */
        fmt_wrap_putf(&w, "  ", "%lld kills", (long long)fmt_int(t, "kills"));
    fmt_wrap_putf(&w, "  ", "%lld respawns", (long long)fmt_int(t, "respawns"));
    if (json_is_integer(json_object_get(t, "denied"))) /* if this ferryd has it */
        fmt_wrap_putf(&w, "  ", "%lld denied", (long long)fmt_int(t, "denied"));
    fmt_wrap_end(&w);
    /* Every outcome, zeros too: four figures that hold still in top. */
    fmt_wrap_begin(&w, out, width, "outcomes", FMT_LABEL_W);
    json_object_foreach(json_object_get(t, "outcomes"), key, v)
        fmt_wrap_putf(&w, "  ", "%s %lld", key, (long long)json_integer_value(v));
    fmt_wrap_end(&w);
}

static void fmt_status_rates(FILE *out, json_t *r, unsigned width)
{
    json_t *tp = json_object_get(r, "throughput"), *sat = json_object_get(r, "saturation"), *v;
    const char *key;
    struct fmt_wrap w;
    char rate[32];

    fmt_wrap_begin(&w, out, width, "throughput", FMT_LABEL_W);
    json_object_foreach(tp, key, v)
        fmt_wrap_putf(&w, "  ", "%s: %lld req/s %s", key, (long long)fmt_int(v, "requests_per_s"),
                      fmt_rate(fmt_num(v, "bytes_per_s"), rate, sizeof(rate)));
    fmt_wrap_end(&w);
    fmt_wrap_begin(&w, out, width, "saturation", FMT_LABEL_W);
    if (json_is_integer(json_object_get(sat, "listen_queue")))
        fmt_wrap_putf(&w, "  ", "listen queue %lld/%lld", (long long)fmt_int(sat, "listen_queue"),
                      (long long)fmt_int(sat, "listen_backlog"));
    else
        fmt_wrap_putf(&w, "  ", "listen queue -");
    fmt_wrap_putf(&w, "  ", "at limit %lld times", (long long)fmt_int(sat, "at_limit_count"));
    if (json_is_string(json_object_get(sat, "last_at_limit")))
        fmt_wrap_putf(&w, " ", "(last %s)", fmt_str(sat, "last_at_limit"));
    fmt_wrap_end(&w);
}

enum { L_PROTO, L_ADDRESS, L_CONNS, L_OK, L_REDIRECT, L_CLIENT, L_SERVER, L_SENT, L_NCOLS };

/* The outcome columns are named as the JSON's outcomes. At a short width
 * what native never has goes first (redirects), then the connections,
 * the errors, the bytes and the protocol: the address and OK stay. */
static const struct table_col fmt_listener_cols[L_NCOLS] = {
    [L_PROTO] = {.head = "PROTO", .drop = 6},
    [L_ADDRESS] = {.head = "LISTENER", .soft = 21, .keep = CUT_KEEP_PORT},
    [L_CONNS] = {.head = "CONNS", .right = true, .drop = 2},
    [L_OK] = {.head = "OK", .right = true},
    [L_REDIRECT] = {.head = "REDIRECT", .right = true, .drop = 1},
    [L_CLIENT] = {.head = "CLIENT_ERROR", .right = true, .drop = 4},
    [L_SERVER] = {.head = "SERVER_ERROR", .right = true, .drop = 3},
    [L_SENT] = {.head = "SENT", .right = true, .drop = 5, .gap = 2},
};

/* One listener's row: an object, or the bare address an older ferryd
 * sent (shown with dashes for what it did not count). */
static void fmt_listener_row(struct table *t, size_t i, json_t *l)
{
    static const char *const outcome[L_SENT - L_OK] = {"ok", "redirect", "client_error",
                                                       "server_error"};
    json_t *req = json_object_get(l, "requests");
    char sent[32];

    if (json_is_string(l)) {
        for (size_t c = 0; c < L_NCOLS; c++)
            table_set(t, i, c, "-");
        table_set(t, i, L_ADDRESS, "%s", json_string_value(l));
        return;
    }
    table_set(t, i, L_PROTO, "%s", fmt_str(l, "protocol"));
    table_set(t, i, L_ADDRESS, "%s", fmt_str(l, "address"));
    table_set(t, i, L_CONNS, "%lld", (long long)fmt_int(l, "connections"));
    for (size_t o = 0; o < L_SENT - L_OK; o++)
        table_set(t, i, L_OK + o, "%lld", (long long)fmt_int(req, outcome[o]));
    table_set(t, i, L_SENT, "%s", size_format((uint64_t)fmt_int(l, "bytes"), sent, sizeof(sent)));
}

/* The listeners table, after a blank line; once they are closed
 * (stopping), a line that says so. */
static void fmt_status_listeners(FILE *out, json_t *list, unsigned width)
{
    struct table *t;
    struct fmt_wrap w;
    size_t i;
    json_t *l;

    if (json_array_size(list) == 0) {
        fmt_wrap_begin(&w, out, width, "listeners", FMT_LABEL_W);
        fmt_wrap_putf(&w, "  ", "%s", "none (closed: ferryd is stopping)");
        fmt_wrap_end(&w);
        return;
    }
    if ((t = table_new(fmt_listener_cols, L_NCOLS, json_array_size(list))) == NULL) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    json_array_foreach(list, i, l)
    {
        fmt_listener_row(t, i, l);
    }
    fputc('\n', out);
    table_print(out, t, width);
    table_free(t);
}

void fmt_status(FILE *out, json_t *r, unsigned width)
{
    fmt_status_head(out, r, width);
    fmt_status_pool(out, json_object_get(r, "pool"), width);
    fmt_status_hub(out, json_object_get(r, "hub"), width);
    fmt_status_conns(out, json_object_get(r, "connections"), width);
    fmt_status_totals(out, json_object_get(r, "totals"), width);
    fmt_status_rates(out, r, width);
    fmt_status_listeners(out, json_object_get(r, "listeners"), width);
}

/* ---- workers and connections ----------------------------------------- */

/* A connection's cells, the same block at the end of both tables: where
 * from (protocol, listener, peer), what (target), how far and how fast. */
enum { X_PROTO, X_LISTENER, X_PEER, X_TARGET, X_PROGRESS, X_BRIEF, X_DONE, X_RATE, X_NCOLS };

enum {
    W_SLOT,
    W_PID,
    W_GEN,
    W_KIND,
    W_STATE,
    W_CONNS,
    W_AGE,
    W_REQS,
    W_SENT,
    W_PROTO, /* the connection's block, as X_* */
    W_LISTENER,
    W_PEER,
    W_TARGET,
    W_PROGRESS,
    W_BRIEF,
    W_DONE,
    W_RATE,
    W_NCOLS
};
_Static_assert(W_NCOLS - W_PROTO == X_NCOLS && W_RATE - W_PROTO == X_RATE, "W_PROTO.. as X_*");

/* What an operator needs most is who gets what and how fast (PID, STATE,
 * PEER, TARGET, PROGRESS, RATE): the process's history goes first, from
 * the least telling (GEN) on, then which of the listeners took the
 * connection (its protocol stays longer), and the progress loses its
 * byte count ("25% of 400 B") before SENT, AGE, SLOT and PROTO go. Then
 * PEER and TARGET are cut, keeping a port and an extension; where even
 * their narrowest cut does not fit, the progress keeps only its percent
 * (DONE), then KIND, CONNS, STATE, DONE and RATE go, then PEER and
 * TARGET: who and what before how fast, and a whole number or none.
 * CONNS goes right after GEN, though, where no process holds several
 * connections nor is full: STATE then says as much; and KIND shows only
 * beside a process that is no pool worker (the hub) (fmt_workers()). */
static const struct table_col fmt_worker_cols[W_NCOLS] = {
    [W_SLOT] = {.head = "SLOT", .right = true, .drop = 7},
    [W_PID] = {.head = "PID", .right = true, .floor = 5},
    [W_GEN] = {.head = "GEN", .right = true, .drop = 1},
    [W_KIND] = {.head = "KIND", .drop = 10, .tight = true},
    [W_STATE] = {.head = "STATE", .floor = 9, .drop = 12, .tight = true},
    [W_CONNS] = {.head = "CONNS", .right = true, .drop = 11, .tight = true},
    [W_AGE] = {.head = "AGE", .right = true, .drop = 6, .floor = 6},
    [W_REQS] = {.head = "REQS", .right = true, .drop = 2, .floor = 4},
    [W_SENT] = {.head = "SENT", .right = true, .drop = 5, .floor = 9},
    [W_PROTO] = {.head = "PROTO", .drop = 8, .gap = 2},
    [W_LISTENER] = {.head = "LISTENER", .drop = 3},
    [W_PEER] =
        {.head = "PEER", .soft = 21, .keep = CUT_KEEP_PORT, .gap = 2, .drop = 15, .tight = true},
    [W_TARGET] = {.head = "TARGET", .soft = 24, .keep = CUT_KEEP_EXT, .drop = 16, .tight = true},
    [W_PROGRESS] = {.head = "PROGRESS", .drop = 4},
    [W_BRIEF] = {.head = "PROGRESS", .standin = true, .drop = 9, .tight = true},
    [W_DONE] = {.head = "DONE", .right = true, .standin = true, .drop = 13, .tight = true},
    [W_RATE] = {.head = "RATE", .drop = 14, .tight = true},
};

/* The transfer cells of entry i from t (a workers answer's "transfer", or
 * a connection) into the block of X_NCOLS columns from x, or dashes when
 * there is none.
 * Before a first answer there is no target, and no progress to show. */
static void fmt_transfer(struct table *tb, size_t i, json_t *t, size_t x)
{
    json_t *target = json_object_get(t, "target");
    char sent[32], size[32], rate[32];
    json_int_t total;
    long long pct;

    if (t == NULL) {
        for (size_t c = 0; c < X_NCOLS; c++)
            table_set(tb, i, x + c, "-");
        return;
    }
    if (target == NULL) /* a ferryd from before the protocols */
        target = json_object_get(t, "file");
    total = fmt_int(t, "size");
    pct = total ? (long long)(fmt_int(t, "sent") * 100 / total) : 100LL;
    size_format((uint64_t)fmt_int(t, "sent"), sent, sizeof(sent));
    size_format((uint64_t)total, size, sizeof(size));
    table_set(tb, i, x + X_PROTO, "%s", fmt_str(t, "protocol"));
    table_set(tb, i, x + X_LISTENER, "%s", fmt_str(t, "listener"));
    table_set(tb, i, x + X_PEER, "%s", fmt_str(t, "peer"));
    table_set(tb, i, x + X_TARGET, "%s", json_is_string(target) ? json_string_value(target) : "-");
    table_set(tb, i, x + X_RATE, "%s", fmt_rate(fmt_num(t, "rate_bps"), rate, sizeof(rate)));
    if (!json_is_string(target)) {
        for (size_t c = X_PROGRESS; c <= X_DONE; c++)
            table_set(tb, i, x + c, "-");
        return;
    }
    table_set(tb, i, x + X_PROGRESS, "%3lld%% %s/%s", pct, sent, size);
    table_set(tb, i, x + X_BRIEF, "%3lld%% of %s", pct, size);
    table_set(tb, i, x + X_DONE, "%lld%%", pct);
}

/* True when a process of list holds several connections, or is full:
 * else CONNS tells nothing that STATE does not (a connection's state is a
 * process's when it holds exactly one; idle, none). */
static bool fmt_conns_tell(json_t *list)
{
    size_t i;
    json_t *w;

    json_array_foreach(list, i, w)
    {
        if (fmt_int(w, "connections") > 1 || json_is_true(json_object_get(w, "full")))
            return true;
    }
    return false;
}

/* True when a process of list is no pool worker (the hub): else KIND
 * would say "worker" on every row. An older ferryd says no kind. */
static bool fmt_kinds_tell(json_t *list)
{
    size_t i;
    json_t *w;

    json_array_foreach(list, i, w)
    {
        const char *kind = json_string_value(json_object_get(w, "kind"));

        if (kind != NULL && strcmp(kind, "worker") != 0)
            return true;
    }
    return false;
}

/* Row i of the workers table, from process w. A process that serves no
 * connections (the hub: its figures are status's) has none of their
 * figures to show. */
static void fmt_worker_row(struct table *t, size_t i, json_t *w)
{
    const char *kind = json_string_value(json_object_get(w, "kind"));
    bool conns = kind == NULL || strcmp(kind, "worker") == 0;
    char age[32], bytes[32];

    table_set(t, i, W_SLOT, "%lld", (long long)fmt_int(w, "slot"));
    table_set(t, i, W_PID, "%lld", (long long)fmt_int(w, "pid"));
    table_set(t, i, W_GEN, "%lld", (long long)fmt_int(w, "generation"));
    table_set(t, i, W_KIND, "%s", kind != NULL ? kind : "worker");
    table_set(t, i, W_STATE, "%s", fmt_str(w, "state"));
    table_set(t, i, W_AGE, "%s", fmt_duration(fmt_num(w, "age_s"), age, sizeof(age)));
    fmt_transfer(t, i, json_object_get(w, "transfer"), W_PROTO);
    if (!conns) {
        table_set(t, i, W_CONNS, "-");
        table_set(t, i, W_REQS, "-");
        table_set(t, i, W_SENT, "-");
        return;
    }
    if (json_is_integer(json_object_get(w, "connections"))) /* if this ferryd has it */
        table_set(t, i, W_CONNS, "%lld%s", (long long)fmt_int(w, "connections"),
                  json_is_true(json_object_get(w, "full")) ? " full" : "");
    else
        table_set(t, i, W_CONNS, "-");
    table_set(t, i, W_REQS, "%lld", (long long)fmt_int(w, "requests"));
    table_set(t, i, W_SENT, "%s", size_format((uint64_t)fmt_int(w, "bytes"), bytes, sizeof(bytes)));
}

void fmt_workers(FILE *out, json_t *r, unsigned width)
{
    json_t *list = json_object_get(r, "workers"), *w;
    struct table_col cols[W_NCOLS];
    struct table *t;
    size_t i;

    /* A CONNS that tells nothing goes right after GEN, the least telling. */
    memcpy(cols, fmt_worker_cols, sizeof(cols));
    if (!fmt_conns_tell(list)) {
        cols[W_CONNS].drop = cols[W_GEN].drop;
        cols[W_CONNS].tight = false;
    }
    cols[W_KIND].hidden = !fmt_kinds_tell(list);
    t = table_new(cols, W_NCOLS, json_array_size(list));
    if (t == NULL) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    json_array_foreach(list, i, w)
    {
        fmt_worker_row(t, i, w);
    }
    table_print(out, t, width);
    table_free(t);
}

enum {
    C_SLOT,
    C_PID,
    C_ID,
    C_STATE,
    C_AGE,
    C_IDLE,
    C_REQS,
    C_PROTO, /* the connection's block, as X_* */
    C_LISTENER,
    C_PEER,
    C_TARGET,
    C_PROGRESS,
    C_BRIEF,
    C_DONE,
    C_RATE,
    C_NCOLS
};
_Static_assert(C_NCOLS - C_PROTO == X_NCOLS && C_RATE - C_PROTO == X_RATE, "C_PROTO.. as X_*");

/* As the workers table: who gets what and how fast, and here also how
 * long nothing moved (IDLE: a stuck or a forgotten connection). The
 * listener goes first, then the requests on the connection, the record's
 * number (PID and PEER tell a connection apart), the progress's byte
 * count, SLOT, AGE and PROTO; then PEER and TARGET are cut; then PROGRESS
 * keeps its percent, IDLE, STATE, DONE and RATE go, PEER and TARGET last. */
static const struct table_col fmt_conn_cols[C_NCOLS] = {
    [C_SLOT] = {.head = "SLOT", .right = true, .drop = 5},
    [C_PID] = {.head = "PID", .right = true, .floor = 5},
    [C_ID] = {.head = "ID", .right = true, .drop = 3},
    [C_STATE] = {.head = "STATE", .floor = 9, .drop = 10, .tight = true},
    [C_AGE] = {.head = "AGE", .right = true, .drop = 6, .floor = 6},
    [C_IDLE] = {.head = "IDLE", .right = true, .drop = 9, .floor = 6, .tight = true},
    [C_REQS] = {.head = "REQS", .right = true, .drop = 2, .floor = 4},
    [C_PROTO] = {.head = "PROTO", .drop = 7, .gap = 2},
    [C_LISTENER] = {.head = "LISTENER", .drop = 1},
    [C_PEER] =
        {.head = "PEER", .soft = 21, .keep = CUT_KEEP_PORT, .gap = 2, .drop = 13, .tight = true},
    [C_TARGET] = {.head = "TARGET", .soft = 24, .keep = CUT_KEEP_EXT, .drop = 14, .tight = true},
    [C_PROGRESS] = {.head = "PROGRESS", .drop = 4},
    [C_BRIEF] = {.head = "PROGRESS", .standin = true, .drop = 8, .tight = true},
    [C_DONE] = {.head = "DONE", .right = true, .standin = true, .drop = 11, .tight = true},
    [C_RATE] = {.head = "RATE", .drop = 12, .tight = true},
};

/* "4 connections shown of 9 open" (or "no connections open"), wrapped at
 * a tiny width. */
static void fmt_conn_total(FILE *out, size_t shown, json_int_t open, unsigned width)
{
    struct fmt_wrap w;

    fmt_wrap_begin(&w, out, width, "", 2);
    if (shown == 0 && open == 0) {
        fmt_wrap_putf(&w, " ", "no connections");
        fmt_wrap_putf(&w, " ", "open");
    } else {
        fmt_wrap_putf(&w, " ", "%zu %s", shown, shown == 1 ? "connection" : "connections");
        fmt_wrap_putf(&w, " ", "shown");
        fmt_wrap_putf(&w, " ", "of %lld open", (long long)open);
    }
    fmt_wrap_end(&w);
}

/* Prints the n connections of rows as a table (none: no table), then the
 * total line against the open ones. */
static void fmt_conn_table(FILE *out, json_t *const *rows, size_t n, json_int_t open,
                           unsigned width)
{
    struct table *t = n > 0 ? table_new(fmt_conn_cols, C_NCOLS, n) : NULL;

    if (n > 0 && t == NULL) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char age[32], idle[32];

        table_set(t, i, C_SLOT, "%lld", (long long)fmt_int(rows[i], "slot"));
        table_set(t, i, C_PID, "%lld", (long long)fmt_int(rows[i], "pid"));
        table_set(t, i, C_ID, "%lld", (long long)fmt_int(rows[i], "id"));
        table_set(t, i, C_STATE, "%s", fmt_str(rows[i], "state"));
        table_set(t, i, C_AGE, "%s", fmt_duration(fmt_num(rows[i], "age_s"), age, sizeof(age)));
        table_set(t, i, C_IDLE, "%s",
                  fmt_duration((double)fmt_int(rows[i], "idle_ms") / 1000, idle, sizeof(idle)));
        table_set(t, i, C_REQS, "%lld", (long long)fmt_int(rows[i], "requests"));
        fmt_transfer(t, i, rows[i], C_PROTO);
    }
    if (t != NULL)
        table_print(out, t, width);
    table_free(t);
    fmt_conn_total(out, n, open, width);
}

/* qsort order of connections, the busiest first: the fastest, then the
 * oldest; then by process and record, so that equals hold still. */
static int fmt_by_busy(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    double ra = fmt_num(a, "rate_bps"), rb = fmt_num(b, "rate_bps");
    double aa = fmt_num(a, "age_s"), ab = fmt_num(b, "age_s");

    if (ra != rb)
        return ra > rb ? -1 : 1;
    if (aa != ab)
        return aa > ab ? -1 : 1;
    if (fmt_int(a, "slot") != fmt_int(b, "slot"))
        return fmt_int(a, "slot") < fmt_int(b, "slot") ? -1 : 1;
    return fmt_int(a, "id") < fmt_int(b, "id") ? -1 : fmt_int(a, "id") > fmt_int(b, "id");
}

/* The connections of answer r, their number in *n; busiest: sorted by
 * fmt_by_busy(). NULL when there are none or no memory. */
static json_t **fmt_conn_rows(json_t *r, bool busiest, size_t *n)
{
    json_t *list = json_object_get(r, "connections"), **rows;

    *n = json_array_size(list);
    if (*n == 0 || (rows = calloc(*n, sizeof(*rows))) == NULL)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        rows[i] = json_array_get(list, i);
    if (busiest)
        qsort(rows, *n, sizeof(*rows), fmt_by_busy);
    return rows;
}

/* Prints the connections of answer r, in its order or the busiest first,
 * at most max of them, then the total line. */
static void fmt_conns_print(FILE *out, json_t *r, unsigned width, bool busiest, size_t max)
{
    size_t n;
    json_t **rows = fmt_conn_rows(r, busiest, &n);

    if (rows == NULL && n > 0) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    fmt_conn_table(out, rows, n < max ? n : max, fmt_int(r, "total"), width);
    free(rows);
}

void fmt_connections(FILE *out, json_t *r, unsigned width)
{
    fmt_conns_print(out, r, width, false, FMT_ALL);
}

void fmt_connections_top(FILE *out, json_t *r, unsigned width, size_t max)
{
    fmt_conns_print(out, r, width, true, max);
}

/* ---- events and answers -------------------------------------------- */

void fmt_event(FILE *out, json_t *ev, unsigned width)
{
    char label[FMT_CELL_MAX];
    struct fmt_wrap w;
    const char *key;
    json_t *v;

    if (!json_is_string(json_object_get(ev, "event")))
        return; /* the answer to subscribe */
    snprintf(label, sizeof(label), "%s %s", fmt_str(ev, "time"), fmt_str(ev, "event"));
    /* Continuation lines start under the event's name. */
    fmt_wrap_begin(&w, out, width, cut_clean(label), (unsigned)cut_cols(fmt_str(ev, "time")) + 1);
    json_object_foreach(ev, key, v)
    {
        char *text;

        if (strcmp(key, "event") == 0 || strcmp(key, "schema") == 0 || strcmp(key, "time") == 0)
            continue;
        text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        fmt_wrap_putf(&w, " ", "%s=%s", key, text ? text : "?");
        free(text);
    }
    fmt_wrap_end(&w);
}

void fmt_resize(FILE *out, json_t *r, unsigned width)
{
    (void)width;
    if (json_is_true(json_object_get(r, "resizing"))) {
        fprintf(out, "resizing %lld -> %lld (not waiting)\n", (long long)fmt_int(r, "from"),
                (long long)fmt_int(r, "to"));
        return;
    }
    fprintf(out, "resized %lld -> %lld in %.3fs: %lld started, %lld retired, %lld killed\n",
            (long long)fmt_int(r, "from"), (long long)fmt_int(r, "to"), fmt_num(r, "time_s"),
            (long long)fmt_int(r, "started"), (long long)fmt_int(r, "retired"),
            (long long)fmt_int(r, "killed"));
}

void fmt_shutdown(FILE *out, json_t *r, unsigned width)
{
    (void)width;
    if (json_is_true(json_object_get(r, "graceful")))
        fprintf(out, "%s: transfers in flight may finish within %llds%s\n",
                json_is_true(json_object_get(r, "already_stopping")) ? "already stopping"
                                                                     : "stopping gracefully",
                (long long)fmt_int(r, "timeout_s"),
                json_is_true(json_object_get(r, "already_stopping")) ? " (the timeout in force)"
                                                                     : "");
    else
        fprintf(out, "stopping now\n");
}
