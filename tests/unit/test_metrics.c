/* Unit tests for master/metrics: the exposition of known snapshots. */
#include "master/metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NS 1000000000LL

static char *render(const struct scoreboard *sb, const struct config *cfg,
                    const struct listeners *ls)
{
    struct snapshot s;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    assert_int_equal(snap_init(&s, sb->nslots, sb->conns_per_slot), 0);
    assert_int_equal(snap_take(sb, &s), 0);
    metrics_render(out, &s, cfg, ls);
    fclose(out);
    snap_free(&s);
    return text;
}

/* The value of the sample whose name and labels are series; fails the
 * test if there is none. */
static double sample(const char *t, const char *series)
{
    char key[256];
    const char *at;

    snprintf(key, sizeof(key), "\n%s ", series);
    at = strstr(t, key);
    if (at == NULL)
        fail_msg("no sample %s", series);
    return strtod(at + strlen(key), NULL);
}

/* Whether a family of type was declared with HELP and TYPE before line. */
static bool declared(const char *t, const char *line, const char *name, const char *type)
{
    char decl[160];
    const char *help, *at;

    snprintf(decl, sizeof(decl), "# HELP %s ", name);
    help = strstr(t, decl);
    snprintf(decl, sizeof(decl), "# TYPE %s %s\n", name, type);
    at = strstr(t, decl);
    return help != NULL && at != NULL && help < at && at < line;
}

/* Every sample is name{labels} value, its family declared before it (a
 * histogram's _bucket, _sum and _count under the histogram's name). */
static void assert_well_formed(const char *t)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};

    for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
        char name[128], *end;
        size_t n = strcspn(line, "{ \n");
        const char *value = line + n;
        bool ok = false;

        if (line[0] == '#')
            continue;
        if (*value == '{')
            value = strstr(value, "} ") + 1;
        assert_true(*value == ' ');
        strtod(value + 1, &end);
        assert_true(end > value + 1 && *end == '\n');
        snprintf(name, sizeof(name), "%.*s", (int)n, line);
        ok = declared(t, line, name, "counter") || declared(t, line, name, "gauge");
        for (int i = 0; !ok && i < 3; i++) {
            size_t ls = strlen(suffixes[i]);

            if (n > ls && strcmp(name + n - ls, suffixes[i]) == 0) {
                name[n - ls] = '\0';
                ok = declared(t, line, name, "histogram");
            }
        }
        if (!ok)
            fail_msg("undeclared sample: %.*s", (int)n, line);
    }
}

static struct sockaddr_in peer = {.sin_family = AF_INET};

/* The first free record of slot. */
static uint32_t free_rec(const struct scoreboard *sb, int slot)
{
    uint32_t k = 0;

    while (sb_rec(sb, slot, k)->state != SB_EMPTY)
        k++;
    assert_true(k < sb->conns_per_slot);
    return k;
}

/* A connection opened in record k of slot on listener; returns the record. */
static struct sb_conn *open_conn(struct scoreboard *sb, int slot, uint32_t k, unsigned listener)
{
    sb_conn_begin(&sb->slots[slot], sb_rec(sb, slot, k), k, listener, (struct sockaddr *)&peer,
                  clock_now_ns());
    return sb_rec(sb, slot, k);
}

/* A connection on slot, accepted by listener, that lasted ns and was
 * answered with outcome. */
static void connection(struct scoreboard *sb, int slot, unsigned listener, int64_t ns,
                       enum sb_outcome outcome)
{
    struct sb_conn *r = sb_rec(sb, slot, free_rec(sb, slot));
    int64_t t0 = clock_now_ns();

    sb_conn_begin(&sb->slots[slot], r, (uint32_t)(r - sb_rec(sb, slot, 0)), listener,
                  (struct sockaddr *)&peer, t0);
    sb_req_answer(&sb->slots[slot], r, outcome, NULL, 0, SB_CLOSING);
    sb_conn_end(&sb->slots[slot], r, t0 + ns);
}

/* Two listeners, as --listen native=127.0.0.1:4242 --listen http=[::1]:8080
 * give, their sockets closed (no accept queue to read). */
static void two_listeners(struct listeners *ls)
{
    memset(ls, 0, sizeof(*ls));
    ls->fds[0] = ls->fds[1] = -1;
    ls->n = 2;
    ls->proto[0] = PROTO_NATIVE;
    strcpy(ls->names[0], "127.0.0.1:4242");
    ls->proto[1] = PROTO_HTTP;
    strcpy(ls->names[1], "[::1]:8080");
}

#define NATIVE "listener=\"127.0.0.1:4242\",protocol=\"native\""
#define HTTP   "listener=\"[::1]:8080\",protocol=\"http\""

static void test_pool_and_workers(void **state)
{
    struct config cfg = {.max_children = 8};
    struct scoreboard *sb = sb_create(8, 1);
    struct listeners ls;
    int a = sb_claim(sb, SB_KIND_WORKER), b = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r;
    char *t;

    (void)state;
    two_listeners(&ls);
    sb->pool.target = 2;
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    r = open_conn(sb, a, 0, 0);
    sb_req_answer(&sb->slots[a], r, SB_OUT_OK, "f", 1000, SB_WAITING);
    sb_conn_state(r, SB_SENDING);
    sb_conn_progress(&sb->slots[a], r, 300);
    connection(sb, b, 0, NS / 100, SB_OUT_CLIENT_ERROR);
    t = render(sb, &cfg, &ls);
    assert_non_null(strstr(t, "# TYPE ferry_connections_total counter\n"
                              "ferry_connections_total{" NATIVE "} 2\n"
                              "ferry_connections_total{" HTTP "} 0\n"));
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"ok\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"client_error\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"server_error\"}"), 0);
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"redirect\"}"), 0);
    assert_int_equal(sample(t, "ferry_sent_bytes_total{" NATIVE "}"), 300);
    assert_int_equal(sample(t, "ferry_sent_bytes_total{" HTTP "}"), 0);
    /* Every series is a listener's: no unlabelled total beside them. */
    assert_null(strstr(t, "\nferry_connections_total "));
    assert_null(strstr(t, "\nferry_sent_bytes_total "));
    assert_null(strstr(t, "status="));
    assert_non_null(strstr(t, "ferry_workers{state=\"sending\"} 1\n"));
    assert_non_null(strstr(t, "ferry_workers{state=\"idle\"} 1\n"));
    assert_non_null(strstr(t, "ferry_workers{state=\"waiting\"} 0\n"));
    assert_non_null(strstr(t, "ferry_workers{state=\"keepalive\"} 0\n"));
    assert_non_null(strstr(t, "ferry_workers_target 2\n"));
    assert_non_null(strstr(t, "ferry_max_children 8\n"));
    /* Per-worker series are labelled by slot alone: a respawn continues them. */
    assert_null(strstr(t, "pid"));
    assert_non_null(strstr(t, "ferry_worker_transfer_size_bytes{slot=\"0\"} 1000\n"));
    assert_non_null(strstr(t, "ferry_worker_transfer_sent_bytes{slot=\"0\"} 300\n"));
    assert_non_null(strstr(t, "ferry_worker_sent_bytes_total{slot=\"0\"} 300\n"));
    assert_non_null(strstr(t, "ferry_worker_transfer_size_bytes{slot=\"1\"} 0\n"));
    assert_non_null(strstr(t, "ferry_worker_requests_total{slot=\"1\"} 1\n"));
    /* One connection per worker in this mode: each reads as its own. */
    assert_non_null(strstr(t, "ferry_worker_connections_limit 1\n"));
    assert_non_null(strstr(t, "ferry_worker_connections{slot=\"0\"} 1\n"));
    assert_non_null(strstr(t, "ferry_worker_connections{slot=\"1\"} 0\n"));
    assert_non_null(strstr(t, "ferry_connections{state=\"sending\"} 1\n"));
    assert_non_null(strstr(t, "ferry_workers{state=\"busy\"} 0\n"));
    /* Counters, not precomputed rates. */
    assert_null(strstr(t, "per_second"));
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

/* Each listener's row counts what came through it, live workers and
 * reaped ones alike; the outcomes of a row add up to its requests. */
static void test_rows_per_listener(void **state)
{
    static const enum sb_outcome http[] = {SB_OUT_OK, SB_OUT_OK, SB_OUT_REDIRECT,
                                           SB_OUT_CLIENT_ERROR, SB_OUT_SERVER_ERROR};
    struct config cfg = {.max_children = 4};
    struct scoreboard *sb = sb_create(4, 1);
    struct listeners ls;
    int a = sb_claim(sb, SB_KIND_WORKER), b = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r;
    char *t;

    (void)state;
    two_listeners(&ls);
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    /* A persistent HTTP connection: five requests on one connection. */
    r = open_conn(sb, a, 0, 1);
    for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
        sb_req_answer(&sb->slots[a], r, http[i], "/x", 10, SB_SENDING);
        sb_conn_progress(&sb->slots[a], r, 10);
        sb_req_next(r, SB_KEEPALIVE);
    }
    connection(sb, b, 0, NS / 1000, SB_OUT_OK);
    connection(sb, b, 0, NS / 1000, SB_OUT_SERVER_ERROR);
    sb_release(sb, b, SB_EXIT_CLEAN); /* its row stays in the totals */
    /* Denials (--allow/--deny): the workers' listeners and the master's. */
    ls.nweb = 1;
    strcpy(ls.web_names[0], "127.0.0.1:9100");
    sb_count_denied(sb, false, 1);
    sb_count_denied(sb, false, 1);
    sb_count_denied(sb, true, 0);
    t = render(sb, &cfg, &ls);
    assert_non_null(strstr(t, "# TYPE ferry_denied_connections_total counter\n"
                              "ferry_denied_connections_total{" NATIVE "} 0\n"
                              "ferry_denied_connections_total{" HTTP "} 2\n"
                              "ferry_denied_connections_total{listener=\"127.0.0.1:9100\","
                              "protocol=\"metrics\"} 1\n"));
    assert_int_equal(sample(t, "ferry_connections_total{" NATIVE "}"), 2);
    assert_int_equal(sample(t, "ferry_connections_total{" HTTP "}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" HTTP ",outcome=\"ok\"}"), 2);
    assert_int_equal(sample(t, "ferry_responses_total{" HTTP ",outcome=\"redirect\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" HTTP ",outcome=\"client_error\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" HTTP ",outcome=\"server_error\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"ok\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"server_error\"}"), 1);
    assert_int_equal(sample(t, "ferry_responses_total{" NATIVE ",outcome=\"client_error\"}"), 0);
    assert_int_equal(sample(t, "ferry_sent_bytes_total{" HTTP "}"), 50);
    assert_int_equal(sample(t, "ferry_sent_bytes_total{" NATIVE "}"), 0);
    /* The keepalive worker is busy, and counted in its state. */
    assert_non_null(strstr(t, "ferry_workers{state=\"keepalive\"} 1\n"));
    assert_non_null(strstr(t, "ferry_connections{state=\"keepalive\"} 1\n"));
    assert_well_formed(t);
    free(t);
    /* With no listener at all, the families are not declared empty. */
    t = render(sb, &cfg, NULL);
    assert_null(strstr(t, "ferry_connections_total"));
    assert_null(strstr(t, "ferry_responses_total"));
    assert_null(strstr(t, "ferry_sent_bytes_total"));
    assert_null(strstr(t, "ferry_denied_connections_total"));
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

static void test_exits_are_crashes_or_kills(void **state)
{
    struct config cfg = {.max_children = 4};
    struct scoreboard *sb = sb_create(4, 1);
    char *t;

    (void)state;
    sb_release(sb, sb_claim(sb, SB_KIND_WORKER), SB_EXIT_CRASH);
    sb_release(sb, sb_claim(sb, SB_KIND_WORKER), SB_EXIT_KILLED);
    sb_release(sb, sb_claim(sb, SB_KIND_WORKER), SB_EXIT_KILLED);
    sb_release(sb, sb_claim(sb, SB_KIND_WORKER), SB_EXIT_CLEAN);
    t = render(sb, &cfg, NULL);
    assert_non_null(strstr(t, "\nferry_worker_exits_total 4\n"));
    assert_non_null(strstr(t, "\nferry_worker_crashes_total 1\n"));
    assert_non_null(strstr(t, "\nferry_worker_kills_total 2\n"));
    /* No live worker: the per-worker families are not declared empty. */
    assert_null(strstr(t, "ferry_worker_requests_total"));
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

/* The hub's families, with a hub configured only: its counters across
 * its restarts, its sessions the live one's; its process is no pool
 * worker (ferry_workers, the per-worker families and the worker exits
 * leave it out), and with no pool worker live (fork mode, idle) no
 * per-worker family is declared empty. */
static void test_hub_families(void **state)
{
    struct config cfg = {.max_children = 4};
    struct scoreboard *sb = sb_create(4, 1);
    struct sb_hub f = {.online = 2, .posts = 1, .forwards = 1, .rejected = 1};
    struct listeners ls;
    int h = sb_claim(sb, SB_KIND_HUB);
    char *t;

    (void)state;
    memset(&ls, 0, sizeof(ls));
    ls.fds[0] = -1;
    ls.n = 1;
    strcpy(ls.names[0], "127.0.0.1:4242");
    sb_worker_start(&sb->slots[h], 300);
    sb_hub_publish(&sb->hub, &f);
    t = render(sb, &cfg, &ls); /* no hub listener: no hub family */
    assert_null(strstr(t, "ferry_hub_"));
    free(t);
    ls.nhub = 1;
    t = render(sb, &cfg, &ls);
    assert_non_null(strstr(t, "# TYPE ferry_hub_sessions_online gauge\n"
                              "ferry_hub_sessions_online 2\n"));
    assert_int_equal(sample(t, "ferry_hub_posts_total"), 1);
    assert_int_equal(sample(t, "ferry_hub_forwards_total"), 1);
    assert_int_equal(sample(t, "ferry_hub_retransmissions_total"), 0);
    assert_int_equal(sample(t, "ferry_hub_duplicates_total"), 0);
    assert_int_equal(sample(t, "ferry_hub_resets_sent_total"), 0);
    assert_int_equal(sample(t, "ferry_hub_resets_received_total"), 0);
    assert_int_equal(sample(t, "ferry_hub_rejected_total"), 1);
    assert_int_equal(sample(t, "ferry_hub_exits_total"), 0);
    assert_non_null(strstr(t, "# TYPE ferry_hub_rejected_total counter\n"));
    for (unsigned i = SB_STARTING; i < SB_STATE_COUNT; i++) {
        char series[64];

        snprintf(series, sizeof(series), "ferry_workers{state=\"%s\"}", sb_state_name(i));
        assert_int_equal(sample(t, series), 0); /* the hub is idle, but no pool worker */
    }
    assert_null(strstr(t, "ferry_worker_requests_total"));
    assert_null(strstr(t, "ferry_worker_connections{"));
    assert_well_formed(t);
    free(t);
    /* It crashes and is restarted: the counters go on, the sessions not. */
    sb_release(sb, h, SB_EXIT_CRASH);
    h = sb_claim(sb, SB_KIND_HUB);
    f = (struct sb_hub){.posts = 3};
    sb_hub_publish(&sb->hub, &f);
    t = render(sb, &cfg, &ls);
    assert_int_equal(sample(t, "ferry_hub_sessions_online"), 0);
    assert_int_equal(sample(t, "ferry_hub_posts_total"), 4);
    assert_int_equal(sample(t, "ferry_hub_rejected_total"), 1);
    assert_int_equal(sample(t, "ferry_hub_exits_total"), 1);
    assert_int_equal(sample(t, "ferry_hub_crashes_total"), 1);
    assert_int_equal(sample(t, "ferry_worker_exits_total"), 0);
    assert_int_equal(sample(t, "ferry_worker_crashes_total"), 0);
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

static void test_duration_histogram(void **state)
{
    static const int64_t durations[] = {NS / 5000, 3 * NS / 1000, NS, 2 * NS, 1000 * NS};
    struct config cfg = {.max_children = 4};
    struct scoreboard *sb = sb_create(4, 1);
    int a = sb_claim(sb, SB_KIND_WORKER), b = sb_claim(sb, SB_KIND_WORKER);
    double prev = 0, sum_s = 0, v;
    char series[96], *t;

    (void)state;
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    for (size_t i = 0; i < 5; i++) {
        connection(sb, i % 2 ? a : b, 0, durations[i], SB_OUT_OK);
        sum_s += (double)durations[i] / NS;
    }
    /* A reaped worker's connections stay in the histogram. */
    sb_release(sb, b, SB_EXIT_CLEAN);
    t = render(sb, &cfg, NULL);
    for (unsigned i = 0; i < SB_DURATION_BUCKETS - 1; i++) {
        snprintf(series, sizeof(series), "ferry_connection_duration_seconds_bucket{le=\"%g\"}",
                 sb_duration_bounds[i]);
        v = sample(t, series);
        assert_true(v >= prev); /* cumulative */
        prev = v;
    }
    assert_int_equal(sample(t, "ferry_connection_duration_seconds_bucket{le=\"0.0005\"}"), 1);
    assert_int_equal(sample(t, "ferry_connection_duration_seconds_bucket{le=\"0.005\"}"), 2);
    /* A bound is inclusive: exactly 1 s counts under le="1". */
    assert_int_equal(sample(t, "ferry_connection_duration_seconds_bucket{le=\"1\"}"), 3);
    assert_int_equal(sample(t, "ferry_connection_duration_seconds_bucket{le=\"300\"}"), 4);
    assert_int_equal(sample(t, "ferry_connection_duration_seconds_bucket{le=\"+Inf\"}"), 5);
    assert_int_equal(sample(t, "ferry_connection_duration_seconds_count"), 5);
    v = sample(t, "ferry_connection_duration_seconds_sum");
    assert_true(v > sum_s - 1e-6 && v < sum_s + 1e-6);
    /* The +Inf bucket is the last, right before _sum and _count. */
    assert_non_null(strstr(t, "le=\"+Inf\"} 5\nferry_connection_duration_seconds_sum "));
    assert_non_null(strstr(t, "# TYPE ferry_connection_duration_seconds histogram\n"));
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

/* Event mode: workers holding several connections each. The gauges by
 * connection state and per worker count records, the worker gauges sum
 * their transfers, and a worker with several connections reads as busy. */
static void test_connection_gauges(void **state)
{
    struct config cfg = {.max_children = 4};
    struct scoreboard *sb = sb_create(4, 8);
    int a = sb_claim(sb, SB_KIND_WORKER), b = sb_claim(sb, SB_KIND_WORKER),
        c = sb_claim(sb, SB_KIND_WORKER);
    struct listeners ls;
    struct sb_conn *r;
    char *t;

    (void)state;
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    sb_worker_start(&sb->slots[c], 102);
    /* a: three connections (one reading, two sending), one closed. */
    open_conn(sb, a, 0, 0);
    r = open_conn(sb, a, 1, 1);
    sb_req_answer(&sb->slots[a], r, SB_OUT_OK, "/x", 1000, SB_SENDING);
    sb_conn_progress(&sb->slots[a], r, 100);
    connection(sb, a, 0, NS / 100, SB_OUT_OK);
    r = open_conn(sb, a, 3, 0);
    sb_req_answer(&sb->slots[a], r, SB_OUT_OK, "f", 500, SB_WAITING);
    sb_conn_state(r, SB_SENDING);
    sb_conn_progress(&sb->slots[a], r, 20);
    /* b: one connection, kept alive; c: none. */
    r = open_conn(sb, b, 0, 1);
    sb_req_answer(&sb->slots[b], r, SB_OUT_OK, "/y", 7, SB_SENDING);
    sb_conn_progress(&sb->slots[b], r, 7);
    sb_req_next(r, SB_KEEPALIVE);
    two_listeners(&ls);
    t = render(sb, &cfg, &ls);
    assert_int_equal(sample(t, "ferry_worker_connections_limit"), 8);
    assert_int_equal(sample(t, "ferry_connections{state=\"reading\"}"), 1);
    assert_int_equal(sample(t, "ferry_connections{state=\"sending\"}"), 2);
    assert_int_equal(sample(t, "ferry_connections{state=\"keepalive\"}"), 1);
    assert_int_equal(sample(t, "ferry_connections{state=\"waiting\"}"), 0);
    assert_int_equal(sample(t, "ferry_connections{state=\"closing\"}"), 0);
    /* Only connection states: a process's are ferry_workers'. */
    assert_null(strstr(t, "ferry_connections{state=\"idle\"}"));
    assert_null(strstr(t, "ferry_connections{state=\"busy\"}"));
    assert_null(strstr(t, "ferry_connections{state=\"empty\"}"));
    assert_int_equal(sample(t, "ferry_worker_connections{slot=\"0\"}"), 3);
    assert_int_equal(sample(t, "ferry_worker_connections{slot=\"1\"}"), 1);
    assert_int_equal(sample(t, "ferry_worker_connections{slot=\"2\"}"), 0);
    assert_null(strstr(t, "ferry_worker_connections{slot=\"3\"}"));
    assert_int_equal(sample(t, "ferry_worker_transfer_size_bytes{slot=\"0\"}"), 1500);
    assert_int_equal(sample(t, "ferry_worker_transfer_sent_bytes{slot=\"0\"}"), 120);
    assert_int_equal(sample(t, "ferry_worker_transfer_sent_bytes{slot=\"2\"}"), 0);
    assert_int_equal(sample(t, "ferry_worker_requests_total{slot=\"0\"}"), 3);
    /* Processes: a busy (several connections), b as its one connection,
     * c idle. */
    assert_int_equal(sample(t, "ferry_workers{state=\"busy\"}"), 1);
    assert_int_equal(sample(t, "ferry_workers{state=\"keepalive\"}"), 1);
    assert_int_equal(sample(t, "ferry_workers{state=\"idle\"}"), 1);
    assert_int_equal(sample(t, "ferry_workers{state=\"sending\"}"), 0);
    assert_int_equal(sample(t, "ferry_workers{state=\"reading\"}"), 0);
    /* The counters by listener count every record's connection. */
    assert_int_equal(sample(t, "ferry_connections_total{" NATIVE "}"), 3);
    assert_int_equal(sample(t, "ferry_connections_total{" HTTP "}"), 2);
    assert_int_equal(sample(t, "ferry_sent_bytes_total{" NATIVE "}"), 20);
    assert_int_equal(sample(t, "ferry_sent_bytes_total{" HTTP "}"), 107);
    assert_non_null(strstr(t, "# TYPE ferry_connections gauge\n"));
    assert_non_null(strstr(t, "# TYPE ferry_worker_connections gauge\n"));
    assert_non_null(strstr(t, "# TYPE ferry_worker_connections_limit gauge\n"));
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

static void test_build_info(void **state)
{
    struct config cfg = {.max_children = 1};
    struct scoreboard *sb = sb_create(1, 1);
    char *t;

    (void)state;
    t = render(sb, &cfg, NULL);
    assert_non_null(
        strstr(t, "# TYPE ferry_build_info gauge\nferry_build_info{version=\"" FERRY_VERSION
                  "\",native_protocol=\"1\"} 1\n"));
    free(t);
    sb_destroy(sb);
}

/* Open descriptors of this process, as an outside reader counts them. */
static unsigned open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    unsigned n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d);
    closedir(d);
    return n;
}

static void test_process(void **state)
{
    struct config cfg = {.max_children = 1};
    struct scoreboard *sb = sb_create(1, 1);
    struct rlimit rl;
    double now = (double)time(NULL), start;
    unsigned fds = open_fds();
    char *t;

    (void)state;
    t = render(sb, &cfg, NULL);
    assert_int_equal(sample(t, "process_open_fds"), fds);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY)
        assert_int_equal(sample(t, "process_max_fds"), rl.rlim_cur);
    start = sample(t, "process_start_time_seconds");
    assert_true(start > now - 600 && start < now + 2); /* btime has whole seconds */
    assert_true(sample(t, "process_cpu_seconds_total") >= 0);
    assert_true(sample(t, "process_resident_memory_bytes") > 0);
    assert_true(sample(t, "process_virtual_memory_bytes") >=
                sample(t, "process_resident_memory_bytes"));
    assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
    assert_well_formed(t);
    free(t);
    sb_destroy(sb);
}

/* A listening socket on a free loopback port with one connection in its
 * accept queue; *client is that connection. */
static int listener_with_one_waiting(int *client)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 5), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*client >= 0);
    /* On loopback the handshake is done when connect() returns. */
    assert_int_equal(connect(*client, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void test_listeners(void **state)
{
    struct config cfg = {.max_children = 1};
    struct scoreboard *sb = sb_create(1, 1);
    struct listeners ls = {.fds = {-1, -1}, .n = 2};
    int client;
    char *t;

    (void)state;
    ls.fds[0] = listener_with_one_waiting(&client);
    strcpy(ls.names[0], "a\"b\\c\nd:1");
    strcpy(ls.names[1], "closed:2");
    ls.proto[1] = PROTO_HTTP;
    t = render(sb, &cfg, &ls);
    assert_int_equal(
        sample(t, "ferry_listen_queue_length{listener=\"a\\\"b\\\\c\\nd:1\",protocol=\"native\"}"),
        1);
    assert_int_equal(
        sample(t, "ferry_listen_queue_limit{listener=\"a\\\"b\\\\c\\nd:1\",protocol=\"native\"}"),
        5);
    /* A closed listener has no queue, but its counters go on. */
    assert_null(strstr(t, "ferry_listen_queue_length{listener=\"closed:2\""));
    assert_int_equal(sample(t, "ferry_connections_total{listener=\"closed:2\",protocol=\"http\"}"),
                     0);
    assert_well_formed(t);
    free(t);
    /* Once every listener is closed (stopping), the queue families are gone. */
    lsn_close(&ls);
    close(client);
    t = render(sb, &cfg, &ls);
    assert_null(strstr(t, "ferry_listen_queue"));
    assert_non_null(strstr(t, "ferry_connections_total{listener=\"closed:2\""));
    free(t);
    sb_destroy(sb);
}

/* Writes text to a new temporary file; returns its path (static). */
static const char *temp_file(const char *text)
{
    static char path[64];
    FILE *f;

    strcpy(path, "/tmp/test_metrics-XXXXXX");
    f = fdopen(mkstemp(path), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* promtool's own verdict, where Debian's prometheus package is installed:
 * no error and no lint finding (either prints something). */
static void test_promtool(void **state)
{
    struct config cfg = {.max_children = 4};
    struct scoreboard *sb = sb_create(4, 2);
    struct listeners ls;
    int a = sb_claim(sb, SB_KIND_WORKER), client, status;
    char in[64], cmd[256], *t;
    struct stat st;

    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        skip();
    sb_worker_start(&sb->slots[a], 100);
    connection(sb, a, 0, NS / 10, SB_OUT_OK);
    connection(sb, a, 1, NS / 10, SB_OUT_REDIRECT);
    open_conn(sb, a, 0, 0); /* and two open, for the connection gauges */
    open_conn(sb, a, 1, 1);
    two_listeners(&ls);
    ls.fds[0] = listener_with_one_waiting(&client);
    ls.nhub = 1; /* and a hub, whose families pass too */
    sb_worker_start(&sb->slots[sb_claim(sb, SB_KIND_HUB)], 101);
    t = render(sb, &cfg, &ls);
    assert_non_null(strstr(t, "ferry_hub_posts_total"));
    snprintf(in, sizeof(in), "%s", temp_file(t));
    snprintf(cmd, sizeof(cmd), "promtool check metrics <%s >%s.out 2>&1", in, in);
    status = system(cmd);
    snprintf(cmd, sizeof(cmd), "%s.out", in);
    assert_int_equal(stat(cmd, &st), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || st.st_size != 0)
        fail_msg("promtool check metrics: status %d, %lld bytes of findings in %s", status,
                 (long long)st.st_size, cmd);
    unlink(cmd);
    unlink(in);
    free(t);
    lsn_close(&ls);
    close(client);
    sb_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_and_workers),
        cmocka_unit_test(test_rows_per_listener),
        cmocka_unit_test(test_exits_are_crashes_or_kills),
        cmocka_unit_test(test_hub_families),
        cmocka_unit_test(test_duration_histogram),
        cmocka_unit_test(test_connection_gauges),
        cmocka_unit_test(test_build_info),
        cmocka_unit_test(test_process),
        cmocka_unit_test(test_listeners),
        cmocka_unit_test(test_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
