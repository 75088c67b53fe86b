/*
 * ferry-bench: a load generator for protocol v1.
 *
 *   ferry-bench [-b] [-c CONNECTIONS] [-t PROCESSES] [-n REQUESTS | -d DURATION]
 *               [--request get|file]
 *               HOST PORT NAME   (or HOST:PORT NAME)
 *
 * HOST:PORT takes the forms addr_split() knows ([::1]:PORT for IPv6);
 * DURATION those of dur_parse() (a bare number is seconds).
 *
 * One process, one epoll loop, non-blocking sockets (-t N: N such
 * processes, each with its share of the connections, as wrk -t N). Each of the
 * CONNECTIONS slots runs requests back to back (one file per TCP
 * connection, as the protocol has it): connect, GET, FILE_RESPONSE (must be
 * OK), then exactly size bytes read into one shared 1 MiB buffer, then
 * close. --request file makes it the two-round-trip exchange instead:
 * FILE_REQUEST, FILE_RESPONSE, READY, content; the two compare the cost of
 * the extra round trip. Latency is connect to last byte. Every response's
 * status and byte count is checked; anything else is an error.
 *
 * With -b each connection is instead a forked process doing blocking
 * recv() into its own 1 MiB buffer: the reader shared/bench's limit --http
 * uses for the HTTP peers, so large-file rates compare like with like.
 *
 * Prints a human summary and one machine-readable line:
 *   RESULT req_s=... MB_s=... GB_s=... p50_ms=... p90_ms=... p99_ms=... max_ms=... errors=...
 * (MB_s and GB_s are 10^6 and 10^9 bytes/s of everything read.)
 */
#include "common/addr.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/wire.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH_BUF (1 << 20)

enum conn_state { C_CONNECTING, C_RESPONSE, C_BODY };

struct conn {
    int fd;
    enum conn_state state;
    uint8_t resp[WIRE_RESPONSE_LEN];
    size_t have;
    uint64_t size, got;
    int64_t t0;
};

struct bench {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint8_t req[WIRE_REQUEST_MAX];
    size_t reqlen;
    bool ready; /* --request file: READY after the response */
    int ep;
    uint64_t limit;      /* -n: requests to start; 0 = by time */
    int64_t deadline_ns; /* -d */
    uint64_t started, done, bytes;
    uint64_t err_connect, err_status, err_short, err_io;
    int64_t *lat;
    size_t nlat, caplat;
    uint8_t *buf;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry-bench [options] HOST PORT NAME\n"
                 "       ferry-bench [options] HOST:PORT NAME\n"
                 "  -b     blocking readers: one process per connection [one epoll process]\n"
                 "  -c N   concurrent connections [1]\n"
                 "  -t N   spread them over N epoll processes, as wrk -t N [1]\n"
                 "  -n N   stop after N requests\n"
                 "  -d D   run for D: seconds, or 500ms, 2m... [10s, unless -n]\n"
                 "  -r, --request get|file\n"
                 "         get: GET, one round trip; file: FILE_REQUEST then READY [get]\n"
                 "  -h, --help; -V, --version\n"
                 "HOST: a name, 1.2.3.4 or ::1; with the port: host:PORT, [::1]:PORT\n");
}

static bool bench_more(const struct bench *b)
{
    if (b->limit > 0)
        return b->started < b->limit;
    return clock_now_ns() < b->deadline_ns;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Starts the next request on c (a new connection). Returns 0 or -1. */
static int conn_start(struct bench *b, struct conn *c)
{
    /* Edge-triggered for both directions, registered once: no epoll_ctl()
     * per state change. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};

    c->fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    c->state = C_CONNECTING;
    c->have = 0;
    c->got = 0;
    c->t0 = clock_now_ns();
    b->started++;
    if (connect(c->fd, (struct sockaddr *)&b->addr, b->addrlen) < 0 && errno != EINPROGRESS)
        goto fail;
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        goto fail;
    return 0;
fail:
    b->err_connect++;
    conn_close(c);
    return -1;
}

static void bench_record(struct bench *b, int64_t ns)
{
    if (b->nlat == b->caplat) {
        size_t cap = b->caplat ? b->caplat * 2 : 65536;
        int64_t *p = realloc(b->lat, cap * sizeof(*p));
        if (p == NULL)
            return;
        b->lat = p;
        b->caplat = cap;
    }
    b->lat[b->nlat++] = ns;
}

/* The request on c ended (ok or not); starts the next one if due. */
static void conn_next(struct bench *b, struct conn *c, bool ok)
{
    conn_close(c);
    if (ok) {
        b->done++;
        bench_record(b, clock_now_ns() - c->t0);
    }
    while (bench_more(b) && conn_start(b, c) < 0)
        ;
}

/* Connected (or failed: then send() says so): send the request. */
static bool conn_on_connected(struct bench *b, struct conn *c)
{
    if (send(c->fd, b->req, b->reqlen, MSG_NOSIGNAL) != (ssize_t)b->reqlen) {
        b->err_connect++;
        return false;
    }
    c->state = C_RESPONSE;
    return true;
}

/* Reads the answer; on OK sends READY (--request file). Returns false on
 * error. */
static bool conn_on_response(struct bench *b, struct conn *c)
{
    struct wire_response r;
    uint8_t ready = WIRE_READY;
    ssize_t n = recv(c->fd, c->resp + c->have, sizeof(c->resp) - c->have, 0);

    if (n < 0 && errno == EAGAIN)
        return true;
    if (n <= 0) {
        b->err_io++;
        return false;
    }
    b->bytes += (uint64_t)n;
    c->have += (size_t)n;
    if (c->have < sizeof(c->resp))
        return true;
    if (wire_response_parse(c->resp, &r) < 0 || r.status != WIRE_OK) {
        b->err_status++;
        return false;
    }
    c->size = r.size;
    c->state = C_BODY;
    if (b->ready && send(c->fd, &ready, 1, MSG_NOSIGNAL) != 1) {
        b->err_io++;
        return false;
    }
    return true;
}

/* Reads content. Returns 1 when complete, 0 to go on, -1 on error. */
static int conn_on_body(struct bench *b, struct conn *c)
{
    while (c->got < c->size) {
        uint64_t left = c->size - c->got;
        ssize_t n = recv(c->fd, b->buf, left < BENCH_BUF ? (size_t)left : BENCH_BUF, 0);

        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            b->err_short++;
            return -1;
        }
        c->got += (uint64_t)n;
        b->bytes += (uint64_t)n;
    }
    return 1;
}

static void conn_on_event(struct bench *b, struct conn *c)
{
    int rc;

    switch (c->state) {
    case C_CONNECTING:
        if (!conn_on_connected(b, c))
            conn_next(b, c, false);
        return; /* the answer is a later edge */
    case C_RESPONSE:
        if (!conn_on_response(b, c)) {
            conn_next(b, c, false);
            return;
        }
        if (c->state != C_BODY)
            return;
        __attribute__((fallthrough)); /* content may already be here (or size 0) */
    case C_BODY:
        rc = conn_on_body(b, c);
        if (rc != 0)
            conn_next(b, c, rc > 0);
        return;
    }
}

/* -b: one blocking request on a fresh connection. Returns 0, or -1 after
 * counting the error in b. */
static int blocking_one(struct bench *b)
{
    uint8_t resp[WIRE_RESPONSE_LEN], ready = WIRE_READY;
    struct wire_response r;
    uint64_t got = 0;
    size_t have = 0;
    int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;

    if (fd < 0 || connect(fd, (struct sockaddr *)&b->addr, b->addrlen) < 0 ||
        send(fd, b->req, b->reqlen, MSG_NOSIGNAL) != (ssize_t)b->reqlen) {
        b->err_connect++;
        goto out;
    }
    while (have < sizeof(resp)) {
        ssize_t n = recv(fd, resp + have, sizeof(resp) - have, 0);
        if (n <= 0) {
            b->err_io++;
            goto out;
        }
        have += (size_t)n;
    }
    if (wire_response_parse(resp, &r) < 0 || r.status != WIRE_OK) {
        b->err_status++;
        goto out;
    }
    if (b->ready && send(fd, &ready, 1, MSG_NOSIGNAL) != 1) {
        b->err_io++;
        goto out;
    }
    b->bytes += sizeof(resp);
    while (got < r.size) {
        ssize_t n = recv(fd, b->buf, r.size - got < BENCH_BUF ? r.size - got : BENCH_BUF, 0);
        if (n <= 0) {
            b->err_short++;
            goto out;
        }
        got += (uint64_t)n;
        b->bytes += (uint64_t)n;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static void bench_loop(struct bench *b, struct conn *conns, int nconns);

/* In a child: the share of the work that is child i's of n. */
static void bench_child_work(struct bench *b, int i, int n, int nconns, bool blocking)
{
    int share = nconns / n + (i < nconns % n);
    struct conn *conns;

    if (b->limit > 0)
        b->limit = (b->limit + (uint64_t)(n - 1 - i)) / (uint64_t)n;
    if (blocking) {
        while (bench_more(b)) {
            int64_t t0 = clock_now_ns();

            b->started++;
            if (blocking_one(b) == 0) {
                b->done++;
                bench_record(b, clock_now_ns() - t0);
            }
        }
        return;
    }
    /* An epoll descriptor is shared across fork(): each child its own. */
    close(b->ep);
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)share, sizeof(*conns));
    if (b->ep < 0 || conns == NULL)
        _exit(1);
    bench_loop(b, conns, share);
}

/* In a child: sends its latencies, then (a negative record) its totals. */
static void bench_child_send(const struct bench *b, int fd)
{
    int64_t tail[6] = {-1,
                       (int64_t)b->bytes,
                       (int64_t)b->err_connect,
                       (int64_t)b->err_status,
                       (int64_t)b->err_short,
                       (int64_t)b->err_io};

    for (size_t i = 0; i < b->nlat; i++) {
        if (write(fd, &b->lat[i], sizeof(b->lat[i])) != sizeof(b->lat[i]))
            _exit(1);
    }
    _exit(write(fd, tail, sizeof(tail)) == sizeof(tail) ? 0 : 1);
}

/* -b: nconns processes, each a blocking reader requesting back to back;
 * -t N: N processes, each an epoll loop with its share of the
 * connections (as wrk -t N runs threads). The parent sums their counters
 * and latencies through a pipe. */
static void bench_forked(struct bench *b, int nprocs, int nconns, bool blocking)
{
    int pfd[2];

    if (pipe(pfd) < 0)
        return;
    for (int i = 0; i < nprocs; i++) {
        if (fork() != 0)
            continue;
        close(pfd[0]);
        bench_child_work(b, i, nprocs, nconns, blocking);
        bench_child_send(b, pfd[1]);
    }
    close(pfd[1]);
    for (int64_t v; read(pfd[0], &v, sizeof(v)) == sizeof(v);) {
        int64_t t[5];
        if (v >= 0) {
            b->done++;
            bench_record(b, v);
        } else if (read(pfd[0], t, sizeof(t)) == sizeof(t)) {
            b->bytes += (uint64_t)t[0];
            b->err_connect += (uint64_t)t[1];
            b->err_status += (uint64_t)t[2];
            b->err_short += (uint64_t)t[3];
            b->err_io += (uint64_t)t[4];
        }
    }
    close(pfd[0]);
    while (wait(NULL) > 0)
        ;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const struct bench *b, double p)
{
    size_t i;

    if (b->nlat == 0)
        return 0;
    i = (size_t)(p / 100.0 * (double)(b->nlat - 1) + 0.5);
    return (double)b->lat[i] / 1e6;
}

static void bench_report(struct bench *b, double secs)
{
    uint64_t errors = b->err_connect + b->err_status + b->err_short + b->err_io;

    qsort(b->lat, b->nlat, sizeof(*b->lat), cmp_i64);
    printf("%llu %s requests in %.2f s, %.1f MB read\n", (unsigned long long)b->done,
           b->ready ? "FILE_REQUEST" : "GET", secs, (double)b->bytes / 1e6);
    printf("  requests/s  %.1f\n  MB/s        %.1f\n", (double)b->done / secs,
           (double)b->bytes / secs / 1e6);
    printf("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", pct_ms(b, 50), pct_ms(b, 90),
           pct_ms(b, 99), pct_ms(b, 100));
    printf("  errors      %llu (connect %llu, status %llu, short %llu, io %llu)\n",
           (unsigned long long)errors, (unsigned long long)b->err_connect,
           (unsigned long long)b->err_status, (unsigned long long)b->err_short,
           (unsigned long long)b->err_io);
    printf("RESULT req_s=%.1f MB_s=%.2f GB_s=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
           "max_ms=%.3f errors=%llu requests=%llu\n",
           (double)b->done / secs, (double)b->bytes / secs / 1e6, (double)b->bytes / secs / 1e9,
           pct_ms(b, 50), pct_ms(b, 90), pct_ms(b, 99), pct_ms(b, 100), (unsigned long long)errors,
           (unsigned long long)b->done);
}

#define BENCH_PORT_LEN 12

/* Splits the HOST [PORT] operands (nops of them, before NAME) into host
 * (ADDR_HOST_MAX bytes) and port (BENCH_PORT_LEN). Returns 0, or -1 with
 * a message. */
static int bench_address(char **ops, int nops, char *host, char *port)
{
    int p = -1;

    if (addr_split(ops[0], host, ADDR_HOST_MAX, &p) < 0) {
        fprintf(stderr, "ferry-bench: '%s' is not a host, host:PORT or [IPv6]:PORT\n", ops[0]);
        return -1;
    }
    if ((p >= 0) != (nops == 1)) {
        fprintf(stderr, "ferry-bench: expected %s NAME\n", p >= 0 ? "HOST:PORT" : "HOST PORT");
        return -1;
    }
    if (p < 0)
        p = addr_port_parse(ops[1]);
    if (p <= 0) {
        fprintf(stderr, "ferry-bench: PORT must be a number from 1 to 65535\n");
        return -1;
    }
    snprintf(port, BENCH_PORT_LEN, "%d", p);
    return 0;
}

static int bench_setup(struct bench *b, const char *host, const char *port, const char *name,
                       bool file_request)
{
    struct addrinfo *res;
    int rc = addr_resolve(host, port, false, &res);

    if (rc != 0) {
        fprintf(stderr, "ferry-bench: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    b->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    /* GET from offset 0, any size: the content follows the response. */
    b->ready = file_request;
    if (file_request)
        b->reqlen = wire_request_encode(b->req, sizeof(b->req), WIRE_VERSION, name, strlen(name));
    else
        b->reqlen = wire_get_encode(b->req, sizeof(b->req), WIRE_VERSION, name, strlen(name), 0,
                                    UINT64_MAX);
    b->buf = malloc(BENCH_BUF);
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    if (b->reqlen == 0 || b->buf == NULL || b->ep < 0) {
        fprintf(stderr, "ferry-bench: set-up failed (name too long?)\n");
        return -1;
    }
    return 0;
}

static void bench_loop(struct bench *b, struct conn *conns, int nconns)
{
    struct epoll_event evs[256];
    int active;

    for (int i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        while (bench_more(b) && conn_start(b, &conns[i]) < 0)
            ;
    }
    do {
        int n = epoll_wait(b->ep, evs, 256, 100);

        for (int i = 0; i < n; i++)
            conn_on_event(b, evs[i].data.ptr);
        if (b->limit == 0 && !bench_more(b)) /* -d: abandon what is in flight */
            break;
        active = 0;
        for (int i = 0; i < nconns; i++)
            active += conns[i].fd >= 0;
    } while (active > 0);
}

/* The command line, parsed. */
struct bench_args {
    bool blocking;
    bool file_request; /* --request file */
    int nconns;
    int nprocs; /* -t: epoll processes */
    uint64_t limit, ms;
    char host[ADDR_HOST_MAX], port[BENCH_PORT_LEN];
    const char *name;
};

/* --request: get or file. Returns 0, or -1 with a message. */
static int bench_request(const char *arg, struct bench_args *a)
{
    if (strcmp(arg, "get") == 0 || strcmp(arg, "file") == 0) {
        a->file_request = strcmp(arg, "file") == 0;
        return 0;
    }
    fprintf(stderr, "ferry-bench: --request: 'get' or 'file', not '%s'\n", arg);
    return -1;
}

/* Returns 0 (a filled), 1 (help printed: exit 0) or -1 (usage error
 * printed: exit 2). */
static int bench_args(int argc, char **argv, struct bench_args *a)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"request", required_argument, NULL, 'r'},
                                         {0}};
    int nops, c;

    memset(a, 0, sizeof(*a));
    a->nconns = 1;
    a->nprocs = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "bc:t:n:d:r:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            a->blocking = true;
            break;
        case 'c':
            a->nconns = atoi(optarg);
            break;
        case 't':
            a->nprocs = atoi(optarg);
            break;
        case 'n':
            a->limit = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            if (dur_parse(optarg, &a->ms) < 0 || a->ms == 0) {
                fprintf(stderr, "ferry-bench: -d: not a duration above 0: '%s'\n", optarg);
                return -1;
            }
            break;
        case 'r':
            if (bench_request(optarg, a) < 0)
                return -1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("ferry-bench %s\n", FERRY_VERSION);
            return 1;
        default:
            fprintf(stderr, "ferry-bench: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return -1;
        }
    }
    nops = argc - optind - 1; /* HOST PORT or HOST:PORT, then NAME */
    if (nops < 1 || nops > 2 || a->nconns < 1 || a->nprocs < 1 || a->nprocs > a->nconns ||
        (a->limit > 0 && a->ms > 0)) {
        fprintf(stderr, "ferry-bench: %s\n",
                nops < 1 || nops > 2 ? "expected HOST PORT NAME or HOST:PORT NAME"
                : a->nconns < 1      ? "-c wants at least 1 connection"
                : a->nprocs < 1 || a->nprocs > a->nconns ? "-t wants 1 to CONNECTIONS processes"
                                                         : "-n and -d exclude each other");
        usage(stderr);
        return -1;
    }
    if (bench_address(argv + optind, nops, a->host, a->port) < 0)
        return -1;
    a->name = argv[optind + nops];
    if (a->limit == 0 && a->ms == 0)
        a->ms = 10000;
    if (a->ms > UINT64_C(1) << 40) /* ~35 years; keeps the deadline in 64 bits */
        a->ms = UINT64_C(1) << 40;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b;
    struct bench_args a;
    struct conn *conns;
    int64_t t0;
    int rc = bench_args(argc, argv, &a);

    if (rc != 0)
        return rc > 0 ? 0 : 2;
    memset(&b, 0, sizeof(b));
    b.limit = a.limit;
    if (bench_setup(&b, a.host, a.port, a.name, a.file_request) < 0)
        return 1;
    conns = calloc((size_t)a.nconns, sizeof(*conns));
    if (conns == NULL)
        return 1;
    t0 = clock_now_ns();
    b.deadline_ns = t0 + (int64_t)a.ms * 1000000;
    if (a.blocking)
        bench_forked(&b, a.nconns, a.nconns, true);
    else if (a.nprocs > 1)
        bench_forked(&b, a.nprocs, a.nconns, false);
    else
        bench_loop(&b, conns, a.nconns);
    bench_report(&b, (double)(clock_now_ns() - t0) / 1e9);
    for (int i = 0; i < a.nconns; i++)
        conn_close(&conns[i]);
    free(conns);
    free(b.lat);
    free(b.buf);
    close(b.ep);
    return b.err_connect + b.err_status + b.err_short + b.err_io > 0 ? 1 : 0;
}
