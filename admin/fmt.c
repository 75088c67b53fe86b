/*
 * fmt: human output for ferryctl. See fmt.h.
 */
#include "admin/fmt.h"

#include "common/size.h"

#include <stdlib.h>
#include <string.h>

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

static void fmt_status_head(FILE *out, json_t *r)
{
    json_t *lim = json_object_get(r, "limits"), *l;
    char up[32], chunk[32];
    size_t i;

    fprintf(out, "ferryd %s  pid %lld  %s  %s  up %s\n", fmt_str(r, "version"),
            (long long)fmt_int(r, "pid"), fmt_str(r, "mode"), fmt_str(r, "state"),
            fmt_duration(fmt_num(r, "uptime_s"), up, sizeof(up)));
    fprintf(out, "%-11s", "listening");
    json_array_foreach(json_object_get(r, "listeners"), i, l)
        fprintf(out, " %s", json_string_value(l));
    fprintf(out,
            "\n%-11s workers %lld  max-children %lld  io-timeout %llds  shutdown-timeout "
            "%llds  chunk %s\n",
            "limits", (long long)fmt_int(lim, "workers"), (long long)fmt_int(lim, "max_children"),
            (long long)fmt_int(lim, "io_timeout_s"), (long long)fmt_int(lim, "shutdown_timeout_s"),
            size_format((uint64_t)fmt_int(lim, "chunk_size"), chunk, sizeof(chunk)));
}

/* "2 processes: 2 idle, 1 sending" (states with nobody in them left out). */
static void fmt_status_pool(FILE *out, json_t *pool)
{
    const char *key, *sep = ": ";
    json_t *v;

    fprintf(out, "%-11s %lld processes", "pool", (long long)fmt_int(pool, "processes"));
    json_object_foreach(pool, key, v)
    {
        if (strcmp(key, "processes") == 0 || json_integer_value(v) == 0)
            continue;
        fprintf(out, "%s%lld %s", sep, (long long)json_integer_value(v), key);
        sep = ", ";
    }
    fputc('\n', out);
}

static void fmt_status_totals(FILE *out, json_t *t)
{
    const char *key;
    char bytes[32];
    json_t *v;

    fprintf(out,
            "%-11s %lld connections  %lld requests  %s sent  %lld exits  %lld crashes  "
            "%lld respawns\n",
            "totals", (long long)fmt_int(t, "connections"), (long long)fmt_int(t, "requests"),
            size_format((uint64_t)fmt_int(t, "bytes"), bytes, sizeof(bytes)),
            (long long)fmt_int(t, "worker_exits"), (long long)fmt_int(t, "crashes"),
            (long long)fmt_int(t, "respawns"));
    fprintf(out, "%-11s", "statuses");
    json_object_foreach(json_object_get(t, "status"), key, v)
    {
        if (json_integer_value(v) > 0)
            fprintf(out, " %s %lld", key, (long long)json_integer_value(v));
    }
    fputc('\n', out);
}

static void fmt_status_rates(FILE *out, json_t *r)
{
    json_t *tp = json_object_get(r, "throughput"), *sat = json_object_get(r, "saturation"), *w;
    const char *key;
    char rate[32];

    fprintf(out, "%-11s", "throughput");
    json_object_foreach(tp, key, w)
        fprintf(out, " %s: %lld req/s %s ", key, (long long)fmt_int(w, "requests_per_s"),
                fmt_rate(fmt_num(w, "bytes_per_s"), rate, sizeof(rate)));
    fprintf(out, "\n%-11s listen queue ", "saturation");
    if (json_is_integer(json_object_get(sat, "listen_queue")))
        fprintf(out, "%lld/%lld", (long long)fmt_int(sat, "listen_queue"),
                (long long)fmt_int(sat, "listen_backlog"));
    else
        fprintf(out, "-");
    fprintf(out, "  at limit %lld times", (long long)fmt_int(sat, "at_limit_count"));
    if (json_is_string(json_object_get(sat, "last_at_limit")))
        fprintf(out, " (last %s)", fmt_str(sat, "last_at_limit"));
    fputc('\n', out);
}

void fmt_status(FILE *out, json_t *r)
{
    fmt_status_head(out, r);
    fmt_status_pool(out, json_object_get(r, "pool"));
    fmt_status_totals(out, json_object_get(r, "totals"));
    fmt_status_rates(out, r);
}

/* The transfer columns of a worker row, or dashes when it has none. */
static void fmt_transfer(FILE *out, json_t *t)
{
    char sent[32], size[32], rate[32], prog[48];
    json_int_t total = fmt_int(t, "size");

    if (t == NULL) {
        fprintf(out, "  %-21s %-20s %-24s %s", "-", "-", "-", "-");
        return;
    }
    snprintf(prog, sizeof(prog), "%3lld%% %s/%s",
             total ? (long long)(fmt_int(t, "sent") * 100 / total) : 100LL,
             size_format((uint64_t)fmt_int(t, "sent"), sent, sizeof(sent)),
             size_format((uint64_t)total, size, sizeof(size)));
    fprintf(out, "  %-21s %-20.20s %-24s %s", fmt_str(t, "peer"), fmt_str(t, "file"), prog,
            fmt_rate(fmt_num(t, "rate_bps"), rate, sizeof(rate)));
}

void fmt_workers(FILE *out, json_t *r)
{
    json_t *w;
    size_t i;

    fprintf(out, "%4s %7s %4s %-8s %8s %8s %10s  %-21s %-20s %-24s %s\n", "SLOT", "PID", "GEN",
            "STATE", "AGE", "REQS", "SENT", "PEER", "FILE", "PROGRESS", "RATE");
    json_array_foreach(json_object_get(r, "workers"), i, w)
    {
        char age[32], bytes[32];

        fprintf(out, "%4lld %7lld %4lld %-8s %8s %8lld %10s", (long long)fmt_int(w, "slot"),
                (long long)fmt_int(w, "pid"), (long long)fmt_int(w, "generation"),
                fmt_str(w, "state"), fmt_duration(fmt_num(w, "age_s"), age, sizeof(age)),
                (long long)fmt_int(w, "requests"),
                size_format((uint64_t)fmt_int(w, "bytes"), bytes, sizeof(bytes)));
        fmt_transfer(out, json_object_get(w, "transfer"));
        fputc('\n', out);
    }
}

void fmt_event(FILE *out, json_t *ev)
{
    const char *key;
    json_t *v;

    if (!json_is_string(json_object_get(ev, "event")))
        return; /* the answer to subscribe */
    fprintf(out, "%s %s", fmt_str(ev, "time"), fmt_str(ev, "event"));
    json_object_foreach(ev, key, v)
    {
        char *text;

        if (strcmp(key, "event") == 0 || strcmp(key, "schema") == 0 || strcmp(key, "time") == 0)
            continue;
        text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        fprintf(out, " %s=%s", key, text ? text : "?");
        free(text);
    }
    fputc('\n', out);
    fflush(out);
}

void fmt_resize(FILE *out, json_t *r)
{
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

void fmt_shutdown(FILE *out, json_t *r)
{
    if (json_is_true(json_object_get(r, "graceful")))
        fprintf(out, "stopping gracefully: transfers in flight may finish within %llds\n",
                (long long)fmt_int(r, "timeout_s"));
    else
        fprintf(out, "stopping now\n");
}
