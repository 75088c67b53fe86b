/*
 * metrics: Prometheus text rendering. See metrics.h.
 */
#include "master/metrics.h"

#include <inttypes.h>

/* The family header: HELP and TYPE lines. */
static void metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample value: integers as such, others with full precision. */
static void metrics_value(FILE *out, double v)
{
    if (v == (double)(int64_t)v && v < 9007199254740992.0)
        fprintf(out, " %" PRId64 "\n", (int64_t)v);
    else
        fprintf(out, " %.17g\n", v);
}

static void metrics_one(FILE *out, const char *name, const char *type, const char *help,
                        double value)
{
    metrics_family(out, name, type, help);
    fputs(name, out);
    metrics_value(out, value);
}

static void metrics_pool(FILE *out, const struct snapshot *s, const struct config *cfg)
{
    metrics_one(out, "ferry_uptime_seconds", "gauge", "Seconds since ferryd started.",
                (double)(s->taken_ns - s->pool.started_ns) / 1e9);
    metrics_one(out, "ferry_workers_target", "gauge",
                "Prefork pool size, fork-mode child limit, 1 in iterative mode.",
                (double)s->pool.target);
    metrics_one(out, "ferry_max_children", "gauge", "Scoreboard slots: the hard child limit.",
                (double)cfg->max_children);
    metrics_family(out, "ferry_workers", "gauge", "Processes in each state.");
    for (unsigned i = SB_STARTING; i < SB_STATE_COUNT; i++)
        fprintf(out, "ferry_workers{state=\"%s\"} %" PRIu32 "\n", sb_state_name(i), s->by_state[i]);
    metrics_one(out, "ferry_pool_at_limit_total", "counter",
                "Times fork mode reached its child limit and paused accepting.",
                (double)s->pool.at_limit);
}

static void metrics_totals(FILE *out, const struct snapshot *s)
{
    const struct sb_totals *t = &s->totals;

    metrics_one(out, "ferry_connections_total", "counter", "Connections accepted.",
                (double)t->c.connections);
    metrics_family(out, "ferry_responses_total", "counter", "Responses sent, by status.");
    for (unsigned i = 0; i < WIRE_STATUS_COUNT; i++)
        fprintf(out, "ferry_responses_total{status=\"%s\"} %" PRIu64 "\n", wire_status_name(i),
                t->c.status[i]);
    metrics_one(out, "ferry_sent_bytes_total", "counter", "File content bytes sent.",
                (double)t->c.bytes);
    metrics_one(out, "ferry_worker_exits_total", "counter", "Worker processes reaped.",
                (double)t->worker_exits);
    metrics_one(out, "ferry_worker_crashes_total", "counter",
                "Workers that exited by a signal or with a non-zero status.", (double)t->crashes);
    metrics_one(out, "ferry_worker_respawns_total", "counter",
                "Workers started to replace one that died.", (double)s->pool.respawns);
}

static void metrics_rates(FILE *out, const struct snapshot *s, const struct snap_history *h)
{
    static const unsigned windows[] = {1, 10, 60};
    double rq[3], by[3];

    for (int i = 0; i < 3; i++)
        snap_rate(h, s, windows[i], &rq[i], &by[i]);
    metrics_family(out, "ferry_requests_per_second", "gauge",
                   "Requests answered per second over a trailing window.");
    for (int i = 0; i < 3; i++) {
        fprintf(out, "ferry_requests_per_second{window=\"%us\"}", windows[i]);
        metrics_value(out, rq[i]);
    }
    metrics_family(out, "ferry_sent_bytes_per_second", "gauge",
                   "Content bytes sent per second over a trailing window.");
    for (int i = 0; i < 3; i++) {
        fprintf(out, "ferry_sent_bytes_per_second{window=\"%us\"}", windows[i]);
        metrics_value(out, by[i]);
    }
}

/* Per-worker families: one sample per live slot, labelled slot and pid. */
static void metrics_workers(FILE *out, const struct snapshot *s, const struct snap_history *h)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"ferry_worker_requests_total", "counter", "Requests answered by this worker."},
        {"ferry_worker_sent_bytes_total", "counter", "Content bytes this worker sent."},
        {"ferry_worker_transfer_size_bytes", "gauge", "Size of the file being sent, or 0."},
        {"ferry_worker_transfer_sent_bytes", "gauge", "Bytes of the current transfer sent."},
        {"ferry_worker_transfer_rate_bytes_per_second", "gauge",
         "Current rate of the transfer in progress."},
    };

    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (uint32_t i = 0; i < s->nlive; i++) {
            const struct sb_slot *w = &s->live[i];
            bool busy = w->state == SB_READING || w->state == SB_SENDING || w->state == SB_CLOSING;
            double rate = 0, avg, v[5];

            if (busy)
                snap_transfer_rates(h, s, i, &rate, &avg);
            v[0] = (double)w->c.requests;
            v[1] = (double)w->c.bytes;
            v[2] = busy ? (double)w->t.size : 0;
            v[3] = busy ? (double)w->t.sent : 0;
            v[4] = rate;
            fprintf(out, "%s{slot=\"%d\",pid=\"%ld\"}", fam[f].name, s->live_slot[i], (long)w->pid);
            metrics_value(out, v[f]);
        }
    }
}

void metrics_render(FILE *out, const struct snapshot *s, const struct snap_history *h,
                    const struct config *cfg)
{
    metrics_pool(out, s, cfg);
    metrics_totals(out, s);
    metrics_rates(out, s, h);
    metrics_workers(out, s, h);
}
