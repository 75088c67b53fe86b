/*
 * metrics: Prometheus text rendering. See metrics.h.
 *
 * Every family is declared (HELP, TYPE) only when it has a sample to
 * follow, so that a figure that cannot be read now disappears instead of
 * showing a wrong value. Integers are printed as integers (a uint64_t
 * counter past 2^53 would lose digits through a double); other values in
 * the shortest form that reads back exactly.
 */
#include "master/metrics.h"

#include "common/wire.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The family header: HELP and TYPE lines. */
static void metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes v with the fewest digits that strtod() reads back as v, in fixed
 * notation unless its exponent is below -4 or at least the larger of 6 and
 * that digit count: Go's %g rule, which Prometheus' own clients follow
 * (le="30", not le="3e+01"). */
static void metrics_double(FILE *out, double v)
{
    char buf[32];
    int prec = 1;

    for (; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* %g drops the trailing zeros a wider precision would add. */
    fprintf(out, "%.*g", prec < 6 ? 6 : prec, v);
}

/* Writes a label value escaped as the exposition format asks: backslash,
 * double quote and newline. */
static void metrics_escape(FILE *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', out);
        if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void metrics_u64(FILE *out, const char *name, const char *type, const char *help,
                        uint64_t value)
{
    metrics_family(out, name, type, help);
    fprintf(out, "%s %" PRIu64 "\n", name, value);
}

static void metrics_f64(FILE *out, const char *name, const char *type, const char *help,
                        double value)
{
    metrics_family(out, name, type, help);
    fprintf(out, "%s ", name);
    metrics_double(out, value);
    fputc('\n', out);
}

static void metrics_build(FILE *out)
{
    metrics_family(out, "ferry_build_info", "gauge",
                   "Always 1; the labels name ferryd's version and its protocol version.");
    fputs("ferry_build_info{version=\"", out);
    metrics_escape(out, FERRY_VERSION);
    fprintf(out, "\",native_protocol=\"%d\"} 1\n", WIRE_VERSION);
}

static void metrics_pool(FILE *out, const struct snapshot *s, const struct config *cfg)
{
    metrics_f64(out, "ferry_uptime_seconds", "gauge", "Seconds since ferryd started.",
                (double)(s->taken_ns - s->pool.started_ns) / 1e9);
    metrics_u64(out, "ferry_workers_target", "gauge",
                "Prefork and event pool size, fork-mode child limit, 1 in iterative mode.",
                s->pool.target);
    metrics_u64(out, "ferry_max_children", "gauge", "Scoreboard slots: the hard child limit.",
                cfg->max_children);
    metrics_family(out, "ferry_workers", "gauge", "Pool workers in each state (the hub aside).");
    for (unsigned i = SB_STARTING; i < SB_STATE_COUNT; i++)
        fprintf(out, "ferry_workers{state=\"%s\"} %" PRIu32 "\n", sb_state_name(i), s->by_state[i]);
    metrics_u64(out, "ferry_pool_at_limit_total", "counter",
                "Times the pool reached its limit (fork mode: children; event mode: every "
                "worker's connections) and new connections waited.",
                s->pool.at_limit);
    metrics_u64(out, "ferry_worker_connections_limit", "gauge",
                "Connections one worker may hold (--worker-connections; 1 but in event mode).",
                s->per_slot);
    metrics_family(out, "ferry_connections", "gauge", "Open connections in each state.");
    for (unsigned i = SB_READING; i <= SB_CLOSING; i++)
        fprintf(out, "ferry_connections{state=\"%s\"} %" PRIu32 "\n", sb_state_name(i),
                s->conn_states[i]);
}

/* The labels of listener i: listener="ADDR",protocol="PROTO". */
static void metrics_listener_labels(FILE *out, const struct listeners *ls, size_t i)
{
    fprintf(out, "listener=\"");
    metrics_escape(out, ls->names[i]);
    fprintf(out, "\",protocol=\"%s\"", proto_name(ls->proto[i]));
}

/* The per-listener rows: connections, responses by outcome, bytes. They
 * outlive the sockets (a stopping ferryd still counts what it served), but
 * with no listener at all there is no series to declare. */
static void metrics_rows(FILE *out, const struct sb_counters *c, const struct listeners *ls)
{
    size_t n = ls != NULL ? ls->n : 0;

    if (n == 0)
        return;
    metrics_family(out, "ferry_connections_total", "counter", "Connections accepted.");
    for (size_t i = 0; i < n; i++) {
        if (lsn_removed(ls, i))
            continue;
        fprintf(out, "ferry_connections_total{");
        metrics_listener_labels(out, ls, i);
        fprintf(out, "} %" PRIu64 "\n", c->listener[i].connections);
    }
    metrics_family(out, "ferry_responses_total", "counter",
                   "Responses sent, by outcome (ok, redirect, client_error, server_error).");
    for (size_t i = 0; i < n; i++) {
        if (lsn_removed(ls, i))
            continue;
        for (unsigned o = 0; o < SB_OUT_COUNT; o++) {
            fprintf(out, "ferry_responses_total{");
            metrics_listener_labels(out, ls, i);
            fprintf(out, ",outcome=\"%s\"} %" PRIu64 "\n", sb_outcome_name(o),
                    c->listener[i].requests[o]);
        }
    }
    metrics_family(out, "ferry_sent_bytes_total", "counter", "File content bytes sent.");
    for (size_t i = 0; i < n; i++) {
        if (lsn_removed(ls, i))
            continue;
        fprintf(out, "ferry_sent_bytes_total{");
        metrics_listener_labels(out, ls, i);
        fprintf(out, "} %" PRIu64 "\n", c->listener[i].bytes);
    }
}

/* Connections --allow/--deny refused, on every TCP listener: the workers'
 * and the master's own (metrics). */
static void metrics_denied(FILE *out, const struct snapshot *s, const struct listeners *ls)
{
    static const char name[] = "ferry_denied_connections_total";

    if (ls == NULL || ls->n + ls->nweb == 0)
        return;
    metrics_family(out, name, "counter",
                   "Connections refused by --allow/--deny: reset unread (native, services) or "
                   "answered 403 (http, metrics).");
    for (size_t i = 0; i < ls->n; i++) {
        if (lsn_removed(ls, i))
            continue;
        fprintf(out, "%s{", name);
        metrics_listener_labels(out, ls, i);
        fprintf(out, "} %" PRIu64 "\n", s->denied[i]);
    }
    for (size_t i = 0; i < ls->nweb; i++) {
        fprintf(out, "%s{listener=\"", name);
        metrics_escape(out, ls->web_names[i]);
        fprintf(out, "\",protocol=\"%s\"} %" PRIu64 "\n", proto_name(PROTO_METRICS),
                s->denied_master[i]);
    }
}

static void metrics_totals(FILE *out, const struct snapshot *s, const struct listeners *ls)
{
    const struct sb_totals *t = &s->totals;

    metrics_rows(out, &t->c, ls);
    metrics_denied(out, s, ls);
    metrics_u64(out, "ferry_worker_exits_total", "counter",
                "Worker processes reaped, whatever their end.", t->worker_exits);
    metrics_u64(out, "ferry_worker_crashes_total", "counter",
                "Workers that died unasked: by a signal or with a non-zero status.", t->crashes);
    metrics_u64(out, "ferry_worker_kills_total", "counter",
                "Workers the master SIGKILLed on purpose: watchdog, shutdown or drain timeout, "
                "or an immediate shutdown.",
                t->kills);
    metrics_u64(out, "ferry_worker_respawns_total", "counter",
                "Workers started to replace one that died.", s->pool.respawns);
    metrics_u64(out, "ferry_worker_retired_max_requests_total", "counter",
                "Workers replaced for reaching --max-requests.", s->pool.max_requests);
    metrics_u64(out, "ferry_policy_violations_total", "counter",
                "Serving processes killed for a system call outside their seccomp allow-list.",
                s->pool.violations);
    metrics_u64(out, "ferry_disk_waits_total", "counter",
                "Event mode: chunks not in the page cache, read ahead off the loop before "
                "being sent.",
                t->c.disk_waits);
}

/* The histogram from the per-bucket counts: Prometheus' buckets are
 * cumulative, each counting every connection up to its bound. */
static void metrics_duration(FILE *out, const struct snapshot *s)
{
    static const char name[] = "ferry_connection_duration_seconds";
    const struct sb_counters *c = &s->totals.c;
    uint64_t n = 0;

    metrics_family(out, name, "histogram",
                   "Connections by time from accept to close, counted once closed. A native "
                   "connection carries one request, so for native this is also the request "
                   "duration, the transfer and the client's READY included; an HTTP "
                   "connection may carry many.");
    for (unsigned b = 0; b < SB_DURATION_BUCKETS; b++) {
        n += c->duration[b];
        fprintf(out, "%s_bucket{le=\"", name);
        if (b < SB_DURATION_BUCKETS - 1)
            metrics_double(out, sb_duration_bounds[b]);
        else
            fputs("+Inf", out);
        fprintf(out, "\"} %" PRIu64 "\n", n);
    }
    fprintf(out, "%s_sum ", name);
    metrics_double(out, (double)c->duration_ns / 1e9);
    fprintf(out, "\n%s_count %" PRIu64 "\n", name, n);
}

/* Per-worker families: one sample per live slot, labelled by slot alone
 * (a pid label would start new series at every respawn). */
static void metrics_workers(FILE *out, const struct snapshot *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"ferry_worker_requests_total", "counter",
         "Requests answered by the slot's worker; restarts from 0 when the worker is replaced."},
        {"ferry_worker_sent_bytes_total", "counter",
         "Content bytes the slot's worker sent; restarts from 0 when the worker is replaced."},
        {"ferry_worker_transfer_size_bytes", "gauge",
         "Sizes of the files the slot's worker is sending, summed, or 0."},
        {"ferry_worker_transfer_sent_bytes", "gauge",
         "Bytes of the slot's worker's current transfers sent, summed."},
        {"ferry_worker_connections", "gauge", "Connections the slot's worker holds."},
    };

    if (s->nworkers == 0)
        return;
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (uint32_t i = 0; i < s->nlive; i++) {
            const struct sb_slot *w = &s->live[i];
            uint64_t v[] = {w->c.requests, w->c.bytes, 0, 0, s->live_conns[i]};

            if (w->kind != SB_KIND_WORKER) /* the hub has families of its own */
                continue;

            for (uint32_t k = 0; k < s->live_conns[i]; k++) {
                const struct sb_conn *r = &s->conns[s->live_first[i] + k].r;
                bool answered = r->state == SB_SENDING || r->state == SB_WAITING;

                v[2] += answered ? r->size : 0;
                v[3] += answered ? r->sent : 0;
            }
            fprintf(out, "%s{slot=\"%d\"} %" PRIu64 "\n", fam[f].name, s->live_slot[i], v[f]);
        }
    }
}

/* The hub's families, when one is configured: its counters count across
 * its restarts (the master folds a reaped hub's in); its sessions, in its
 * memory, are 0 while it restarts. */
static void metrics_hub(FILE *out, const struct snapshot *s, const struct listeners *ls)
{
    const struct sb_hub *h = &s->totals.hub;
    const struct {
        const char *name, *help;
        uint64_t v;
    } fam[] = {
        {"ferry_hub_posts_total", "Posts the hub stored (committed before their ack).", h->posts},
        {"ferry_hub_forwards_total", "Posts forwarded to online followers, first sends.",
         h->forwards},
        {"ferry_hub_retransmissions_total",
         "Forwards sent again for want of an ack (0.5 s doubling to 4 s, 8 sends at most).",
         h->retransmissions},
        {"ferry_hub_duplicates_total",
         "Requests, logins and forward acks that came again: answered again or ignored, never "
         "applied twice.",
         h->duplicates},
        {"ferry_hub_resets_sent_total",
         "Sessions the hub reset: out of order, silent, lost, or a course session's refusal.",
         h->resets_sent},
        {"ferry_hub_resets_received_total", "Sessions their client ended with a reset.",
         h->resets_received},
        {"ferry_hub_rejected_total",
         "Datagrams dropped unanswered: malformed (short, bad magic, a wrong length), or "
         "with nothing to answer.",
         h->rejected},
        {"ferry_hub_exits_total", "Hub processes reaped, whatever their end.", s->totals.hub_exits},
        {"ferry_hub_crashes_total", "Hub processes that died unasked (then restarted).",
         s->totals.hub_crashes},
    };

    if (ls == NULL || ls->nhub == 0)
        return;
    metrics_u64(out, "ferry_hub_sessions_online", "gauge",
                "Hub sessions live now (0 while the hub restarts: they die with it).", h->online);
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++)
        metrics_u64(out, fam[f].name, "counter", fam[f].help, fam[f].v);
}

/* The accept queue of each listener still open; none once they are
 * closed (while stopping), rather than a misleading 0. */
static void metrics_listeners(FILE *out, const struct listeners *ls)
{
    struct lsn_queue q[LSN_MAX];
    bool open[LSN_MAX] = {false}, any = false;
    size_t n = ls != NULL ? ls->n : 0;

    for (size_t i = 0; i < n; i++) {
        open[i] = lsn_queue(ls, i, &q[i]) == 0;
        any = any || open[i];
    }
    if (!any)
        return;
    for (int f = 0; f < 2; f++) {
        const char *name = f == 0 ? "ferry_listen_queue_length" : "ferry_listen_queue_limit";

        metrics_family(out, name, "gauge",
                       f == 0 ? "Connections waiting in the listener's accept queue."
                              : "The most connections the listener's accept queue may hold.");
        for (size_t i = 0; i < n; i++) {
            if (!open[i]) /* closed: stopping, or removed by a reload */
                continue;
            fprintf(out, "%s{", name);
            metrics_listener_labels(out, ls, i);
            fprintf(out, "} %u\n", f == 0 ? q[i].queued : q[i].backlog);
        }
    }
}

/* The calling process's figures; each have_ flag says its group was read. */
struct metrics_proc {
    bool have_stat, have_start, have_fds, have_max_fds;
    double start_unix, cpu_s;
    uint64_t rss, vsize, fds, max_fds;
};

/* The system's boot time (unix seconds) from /proc/stat's btime line;
 * 0 if it cannot be read. */
static long long metrics_boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    char *line = NULL;
    size_t cap = 0;
    long long btime = 0;

    if (f == NULL)
        return 0;
    /* getline(): the intr line runs to thousands of characters. */
    while (getline(&line, &cap, f) > 0) {
        if (sscanf(line, "btime %lld", &btime) == 1)
            break;
    }
    free(line);
    fclose(f);
    return btime;
}

/* /proc/self/stat: CPU time, start time, virtual and resident size. It
 * is the whole thread group's, also when read from the admin thread of an
 * iterative ferryd (/proc/thread-self would be the thread's alone). */
static void metrics_proc_stat(struct metrics_proc *p)
{
    FILE *f = fopen("/proc/self/stat", "re");
    char buf[1024], *fields = NULL;
    unsigned long utime, stime, vsize;
    unsigned long long start;
    long rss, tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    long long btime;

    if (f != NULL && fgets(buf, sizeof(buf), f) != NULL)
        fields = strrchr(buf, ')'); /* the command may hold spaces and ')' */
    if (f != NULL)
        fclose(f);
    if (fields == NULL || tck <= 0 || page <= 0)
        return;
    /* Fields 3 (state) to 24 (rss), per proc(5). */
    if (sscanf(fields + 1,
               " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu %*s %*s %*s %*s %*s %*s "
               "%llu %lu %ld",
               &utime, &stime, &start, &vsize, &rss) != 5)
        return;
    p->cpu_s = (double)(utime + stime) / (double)tck;
    p->vsize = vsize;
    p->rss = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
    p->have_stat = true;
    /* The start time is in clock ticks since boot. */
    btime = metrics_boot_time();
    p->start_unix = (double)btime + (double)start / (double)tck;
    p->have_start = btime > 0;
}

/* Counts /proc/self/fd's entries but the one opendir() itself holds. */
static void metrics_proc_fds(struct metrics_proc *p)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    uint64_t n = 0;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
            n++;
    }
    closedir(d);
    p->fds = n;
    p->have_fds = true;
}

static void metrics_proc_read(struct metrics_proc *p)
{
    struct rlimit rl;

    memset(p, 0, sizeof(*p));
    metrics_proc_stat(p);
    metrics_proc_fds(p);
    /* An unlimited soft limit has no number to show. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        p->max_fds = rl.rlim_cur;
        p->have_max_fds = true;
    }
}

/* The standard process_* families of the calling process. */
static void metrics_process(FILE *out)
{
    struct metrics_proc p;

    metrics_proc_read(&p);
    if (p.have_start)
        metrics_f64(out, "process_start_time_seconds", "gauge",
                    "Start time of the process since the unix epoch in seconds.", p.start_unix);
    if (p.have_stat) {
        metrics_f64(out, "process_cpu_seconds_total", "counter",
                    "Total user and system CPU time spent in seconds.", p.cpu_s);
        metrics_u64(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                    p.rss);
        metrics_u64(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                    p.vsize);
    }
    if (p.have_fds)
        metrics_u64(out, "process_open_fds", "gauge", "Number of open file descriptors.", p.fds);
    if (p.have_max_fds)
        metrics_u64(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                    p.max_fds);
}

void metrics_render(FILE *out, const struct snapshot *s, const struct config *cfg,
                    const struct listeners *ls)
{
    metrics_build(out);
    metrics_pool(out, s, cfg);
    metrics_totals(out, s, ls);
    metrics_duration(out, s);
    metrics_workers(out, s);
    metrics_hub(out, s, ls);
    metrics_listeners(out, ls);
    metrics_process(out);
}
