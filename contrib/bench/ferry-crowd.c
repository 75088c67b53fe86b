/*
 * ferry-crowd: how an HTTP/1.1 server treats one normal client while a
 * crowd of other connections exists.
 *
 *   ferry-crowd [options] HOST PORT   (or HOST:PORT, [::1]:PORT, or PORT)
 *
 * HOST is a loopback literal (127.0.0.1, ::1) or localhost; -6 makes the
 * default and localhost mean ::1. The crowd is opened in this order, at
 * most --connect-batch connects in flight so a listen backlog is not
 * flooded with SYNs:
 *   --idle N          GET --path once each, read the whole response, then
 *                     stay open and silent (idle keep-alive);
 *   --slowloris N     a request head sent one byte every --trickle-ms and
 *                     never finished;
 *   --slow-readers N  GET --slow-path with SO_RCVBUF 4096, reading
 *                     --slow-rate bytes a second each;
 *   --streams N       GET --stream-path back to back at full speed.
 * When every idle connection has its answer and the rest are connected (or
 * --setup-timeout has passed) it prints a SETUP line and the probe, the
 * normal client, starts: for --duration, GET --probe-path one at a time, a
 * new connection each (or one kept alive), latency from connect (or send)
 * to the last byte, the body's length checked against Content-Length.
 *
 * Threads: the crowd is one epoll loop (this file); the probe is a second
 * thread with its own socket and poll() (crowd_probe.c). In the loop its
 * latency would include the loop's own queueing (thousands of events at
 * set-up, the streams' 1 MiB reads, thousands of trickled bytes a second):
 * the client's delay, not the server's. The two share a start
 * (pthread_create) and a done flag.
 *
 * When the server closed a connection: idle and slowloris connections see
 * the FIN or RST at once. A slow reader would not for hours: the server's
 * close() leaves its unsent data queued ahead of the FIN. So once a second
 * the server side's TCP states are read through sock_diag, as ss does (the
 * server is on this host; crowd_diag.c): FIN_WAIT*, CLOSING, or gone after
 * having been seen, is closed.
 *
 * Prints a human summary, a SETUP line when the probe starts, and
 *   RESULT probe_n=... p50_ms=... p90_ms=... p99_ms=... max_ms=... errors=...
 * (then per crowd kind; "-" where a statistic has no sample). Exit: 0 the
 * run completed (probe errors are results), 1 it could not run or hit
 * --timeout, 2 usage.
 */
#include "common/addr.h"
#include "common/clock.h"
#include "common/duration.h"
#include "crowd_diag.h"
#include "crowd_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CROWD_BUF    (1 << 20) /* the crowd's shared read buffer */
#define CROWD_EVENTS 1024
#define SLOW_RCVBUF  4096
#define MS           INT64_C(1000000)
#define SEC          INT64_C(1000000000)

enum kind { K_IDLE, K_LORIS, K_SLOW, K_STREAM, K_N };

enum cstate { S_NEW, S_CONNECTING, S_HEAD, S_BODY, S_IDLE, S_TRICKLE, S_DONE };

/* How a connection was seen to be closed by the server. */
enum how { H_FIN, H_RST, H_DIAG, H_N };

struct conn {
    int fd;
    uint32_t gen; /* bumped at each open: events of an earlier socket are dropped */
    uint8_t kind, state;
    bool settled;     /* counted for the set-up: established, failed or closed */
    bool answered;    /* idle, stream: a whole response; loris, slow: a status line */
    bool diag_seen;   /* slow: its server side was seen by sock_diag */
    bool close_after; /* the response said Connection: close */
    uint16_t lport;   /* local port: the server side's remote port */
    uint16_t hlen;
    int64_t t_start, t_conn, t_close, due; /* absolute ns; -1: not yet */
    uint64_t clen, got;
    char *head; /* PROBE_HEAD_MAX + 1 bytes while a head is being read */
};

/* Counters of one kind of crowd connection. */
struct kstat {
    int n, first; /* conns[first .. first + n) */
    int connected, failed, not_started, answered, closed, bad, responses, status;
    int how[H_N];
    uint64_t bytes, done;
};

/* Queue of connections due for a trickle, in due order (one period for all). */
struct ring {
    int *v;
    int cap, head, len;
};

struct args {
    int n[K_N];
    int trickle_ms, slow_rate, probe_interval_ms, batch;
    uint64_t duration_ms, probe_timeout_ms, connect_timeout_ms, setup_timeout_ms, timeout_ms;
    const char *path, *slow_path, *stream_path, *probe_path;
    bool v6, probe_keepalive;
    char host[ADDR_HOST_MAX];
    int port;
};

struct crowd {
    const struct args *a;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int ep, diag_fd;
    struct conn *conns;
    int nconns, next_open, inflight, unsettled;
    struct ring q_loris, q_slow;
    struct kstat ks[K_N];
    char req[K_N][PROBE_REQ_MAX];
    size_t reqlen[K_N];
    int64_t t0, t_setup, setup_deadline, hard_deadline, slow_period;
    size_t slow_chunk;
    bool setup_done, setup_complete, timed_out, probe_started;
    int connect_fail, connect_timeout, last_errno;
    uint64_t stream_bytes0;
    uint8_t *buf;
    uint8_t *diag_state; /* [DIAG_PORTS]: server-side TCP state by client port */
    struct probe probe;
    pthread_t probe_thread;
};

/* ---- the crowd: connections ----------------------------------------------- */

static void ring_push(struct ring *r, int i)
{
    r->v[(r->head + r->len++) % r->cap] = i;
}

static int ring_pop(struct ring *r)
{
    int i = r->v[r->head];

    r->head = (r->head + 1) % r->cap;
    r->len--;
    return i;
}

static uint64_t conn_key(const struct crowd *c, const struct conn *k)
{
    return (uint64_t)k->gen << 32 | (uint64_t)(k - c->conns);
}

/* Counts k for the set-up (once). */
static void conn_settle(struct crowd *c, struct conn *k)
{
    if (!k->settled) {
        k->settled = true;
        c->unsettled--;
    }
}

/* Our end of k: closes the socket, frees the head. */
static void conn_release(struct conn *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    free(k->head);
    k->head = NULL;
    k->state = S_DONE;
}

static void conn_watch(struct crowd *c, struct conn *k, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = conn_key(c, k)};

    epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev);
}

/* A connect that failed (err) or timed out. */
static void conn_failed(struct crowd *c, struct conn *k, int err)
{
    c->ks[k->kind].failed++;
    if (err == ETIMEDOUT)
        c->connect_timeout++;
    else
        c->connect_fail++;
    c->last_errno = err;
    conn_release(k);
    conn_settle(c, k);
}

/* Opens k's connection (non-blocking). Returns 0, or -1 counted as failed. */
static int conn_open(struct crowd *c, struct conn *k, int64_t now)
{
    struct epoll_event ev = {.events = EPOLLOUT};
    int rcvbuf = SLOW_RCVBUF;

    k->gen++;
    k->t_start = now;
    k->state = S_CONNECTING;
    k->hlen = 0;
    k->fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0)
        goto fail;
    /* Before connect(): the window scale is agreed in the handshake. */
    if (k->kind == K_SLOW && setsockopt(k->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
        goto fail;
    if (connect(k->fd, (struct sockaddr *)&c->addr, c->addrlen) < 0 && errno != EINPROGRESS)
        goto fail;
    ev.data.u64 = conn_key(c, k);
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, k->fd, &ev) < 0)
        goto fail;
    c->inflight++;
    return 0;
fail:
    conn_failed(c, k, errno);
    return -1;
}

/* The server closed k (seen as how): records when. A stream reconnects. */
static void conn_closed(struct crowd *c, struct conn *k, enum how how, int64_t now)
{
    struct kstat *s = &c->ks[k->kind];

    conn_release(k);
    conn_settle(c, k);
    if (k->kind == K_STREAM) {
        s->bad += k->got < k->clen || k->hlen > 0; /* cut mid-response */
        if (!atomic_load(&c->probe.done) && s->bad < 1000)
            conn_open(c, k, now);
        return;
    }
    k->t_close = now;
    s->closed++;
    s->how[how]++;
}

/* Sends the next slowloris byte: the request line and Host, then header
 * lines without end. Re-queues k, or finds it closed. */
static void loris_send(struct crowd *c, struct conn *k, int64_t now)
{
    static const char filler[] = "X-a: b\r\n";
    const char *pre = c->req[K_LORIS];
    char b = k->got < c->reqlen[K_LORIS]
                 ? pre[k->got]
                 : filler[(k->got - c->reqlen[K_LORIS]) % (sizeof(filler) - 1)];
    ssize_t n = send(k->fd, &b, 1, MSG_NOSIGNAL);

    if (n < 0 && errno != EAGAIN) {
        conn_closed(c, k, H_RST, now);
        return;
    }
    k->got += n > 0;
    k->due = now + (int64_t)c->a->trickle_ms * MS;
    ring_push(&c->q_loris, (int)(k - c->conns));
}

/* A slow reader's turn: reads its few bytes (the status line into head). */
static void slow_read(struct crowd *c, struct conn *k, int64_t now)
{
    struct kstat *s = &c->ks[K_SLOW];
    size_t want = c->slow_chunk;
    char *dst = (char *)c->buf;
    ssize_t n;

    if (!k->answered && k->hlen >= PROBE_HEAD_MAX) { /* no status line in 4 KiB: give up on it */
        k->answered = true;
        free(k->head);
        k->head = NULL;
    }
    if (!k->answered && k->head == NULL && (k->head = malloc(PROBE_HEAD_MAX + 1)) == NULL)
        return;
    if (!k->answered) {
        dst = k->head + k->hlen;
        want =
            want < (size_t)(PROBE_HEAD_MAX - k->hlen) ? want : (size_t)(PROBE_HEAD_MAX - k->hlen);
    }
    n = recv(k->fd, dst, want, 0);
    if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
        conn_closed(c, k, n == 0 ? H_FIN : H_RST, now);
        return;
    }
    if (n > 0) {
        s->bytes += (uint64_t)n;
        if (!k->answered && memchr(dst, '\n', (size_t)n) != NULL) {
            k->answered = true;
            s->responses++;
            s->status = probe_status(k->head, k->hlen + (size_t)n);
            free(k->head);
            k->head = NULL;
        } else if (!k->answered) {
            k->hlen += (uint16_t)n;
        }
    }
    k->due = now + c->slow_period;
    ring_push(&c->q_slow, (int)(k - c->conns));
}

/* Sends k's request; s->bad and closed when the socket refuses it. */
static bool conn_send_request(struct crowd *c, struct conn *k, int64_t now)
{
    ssize_t n = send(k->fd, c->req[k->kind], c->reqlen[k->kind], MSG_NOSIGNAL);

    if (n == (ssize_t)c->reqlen[k->kind]) {
        k->state = S_HEAD;
        k->hlen = 0;
        k->got = k->clen = 0;
        return true;
    }
    conn_closed(c, k, H_RST, now);
    return false;
}

/* k's connect() finished: on success, its first move by kind. */
static void conn_on_connect(struct crowd *c, struct conn *k, int64_t now)
{
    struct sockaddr_storage me;
    socklen_t len = sizeof(int);
    int err = 0;

    c->inflight--;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        conn_failed(c, k, err);
        return;
    }
    len = sizeof(me);
    if (getsockname(k->fd, (struct sockaddr *)&me, &len) == 0)
        k->lport = (uint16_t)addr_port((struct sockaddr *)&me);
    k->t_conn = now;
    c->ks[k->kind].connected++;
    if (k->kind != K_IDLE)
        conn_settle(c, k); /* idle: when answered */
    if (k->kind == K_LORIS) {
        k->state = S_TRICKLE;
        k->got = 0;
        conn_watch(c, k, EPOLLIN | EPOLLRDHUP);
        loris_send(c, k, now);
        return;
    }
    if (!conn_send_request(c, k, now))
        return;
    if (k->kind == K_SLOW) { /* reads by the clock; epoll only for FIN and RST */
        conn_watch(c, k, EPOLLRDHUP | EPOLLET);
        k->due = now + c->slow_period;
        ring_push(&c->q_slow, (int)(k - c->conns));
    } else {
        conn_watch(c, k, EPOLLIN | EPOLLRDHUP);
    }
}

/* Reads k's response head (idle, stream). Returns 1 when it is whole, 0
 * for more to come, -1 when k was closed. */
static int conn_read_head(struct crowd *c, struct conn *k, int64_t now)
{
    struct probe_head h;
    size_t end;
    ssize_t n;

    if (k->head == NULL && (k->head = malloc(PROBE_HEAD_MAX + 1)) == NULL)
        return 0;
    n = recv(k->fd, k->head + k->hlen, PROBE_HEAD_MAX - k->hlen, 0);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return 0;
        conn_closed(c, k, n == 0 ? H_FIN : H_RST, now);
        return -1;
    }
    c->ks[k->kind].bytes += (uint64_t)n;
    k->hlen += (uint16_t)n;
    k->head[k->hlen] = '\0';
    end = probe_head_end(k->head, k->hlen);
    if (end == 0 && k->hlen < PROBE_HEAD_MAX)
        return 0;
    if (end == 0 || probe_head_parse(k->head, end, &h) < 0 || h.clen < 0 ||
        (uint64_t)(k->hlen - end) > (uint64_t)h.clen) {
        c->ks[k->kind].bad++;
        conn_release(k); /* ours, not the server's doing */
        conn_settle(c, k);
        return -1;
    }
    c->ks[k->kind].bad += h.status != 200;
    k->clen = (uint64_t)h.clen;
    k->got = k->hlen - end;
    k->close_after = h.close;
    k->hlen = 0;
    free(k->head);
    k->head = NULL;
    k->state = S_BODY;
    return 1;
}

/* A whole response on k: an idle connection goes quiet, a stream asks again. */
static void conn_answered(struct crowd *c, struct conn *k, int64_t now)
{
    struct kstat *s = &c->ks[k->kind];

    if (k->kind == K_IDLE) {
        k->answered = true;
        k->state = S_IDLE;
        s->answered++;
        conn_settle(c, k);
        return;
    }
    s->done++;
    if (k->close_after) {
        conn_release(k);
        if (!atomic_load(&c->probe.done))
            conn_open(c, k, now);
        return;
    }
    conn_send_request(c, k, now);
}

/* Readable idle or stream connection in a response: one recv() a turn. */
static void conn_on_response(struct crowd *c, struct conn *k, int64_t now)
{
    if (k->state == S_HEAD && conn_read_head(c, k, now) <= 0)
        return;
    while (k->got < k->clen) {
        uint64_t left = k->clen - k->got;
        ssize_t n = recv(k->fd, c->buf, left < CROWD_BUF ? (size_t)left : CROWD_BUF, 0);

        if (n <= 0) {
            if (n < 0 && errno == EAGAIN)
                return;
            conn_closed(c, k, n == 0 ? H_FIN : H_RST, now);
            return;
        }
        k->got += (uint64_t)n;
        c->ks[k->kind].bytes += (uint64_t)n;
        if (k->kind == K_STREAM) /* one read a turn: the loop has timers */
            break;
    }
    if (k->got == k->clen)
        conn_answered(c, k, now);
}

/* Data or an end on a connection that should hear nothing (idle after its
 * answer, slowloris): a response (a 408, say) is counted, an end recorded. */
static void conn_on_unbidden(struct crowd *c, struct conn *k, int64_t now)
{
    struct kstat *s = &c->ks[k->kind];

    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(k->fd, c->buf, CROWD_BUF, 0);
        int st;

        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_closed(c, k, n == 0 ? H_FIN : H_RST, now);
            return;
        }
        if ((st = probe_status((char *)c->buf, (size_t)n)) > 0) {
            s->responses++;
            s->status = st;
        }
    }
}

static void conn_on_event(struct crowd *c, uint64_t key, uint32_t events, int64_t now)
{
    struct conn *k = &c->conns[(uint32_t)key];

    if ((uint32_t)(key >> 32) != k->gen || k->state == S_DONE)
        return; /* an earlier socket of k's, closed in this batch */
    if (k->state == S_CONNECTING)
        conn_on_connect(c, k, now);
    else if (k->kind == K_SLOW)
        conn_closed(c, k, events & EPOLLERR ? H_RST : H_FIN, now);
    else if (k->state == S_IDLE || k->state == S_TRICKLE)
        conn_on_unbidden(c, k, now);
    else
        conn_on_response(c, k, now);
}

/* ---- the crowd: the server's view through sock_diag ---------------------- */

/* Slow readers whose server side has closed (FIN_WAIT*, CLOSING...) or is
 * gone after having been seen are closed, at this time. */
static void crowd_diag(struct crowd *c, int64_t now)
{
    const struct kstat *s = &c->ks[K_SLOW];
    int rc = diag_states(c->diag_fd, (uint16_t)c->a->port, c->diag_state, c->buf, CROWD_BUF);

    if (rc < 0) {
        fprintf(stderr, "ferry-crowd: sock_diag: %s; slow readers' ends seen at FIN/RST only\n",
                strerror(-rc));
        close(c->diag_fd);
        c->diag_fd = -1;
        return;
    }
    for (int i = s->first; i < s->first + s->n; i++) {
        struct conn *k = &c->conns[i];
        uint8_t st = c->diag_state[k->lport];

        if (k->state != S_HEAD)
            continue;
        if (st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT)
            k->diag_seen = true;
        else if ((st != 0 && st != TCP_SYN_RECV) || (st == 0 && k->diag_seen))
            conn_closed(c, k, H_DIAG, now);
    }
}

/* ---- the crowd: the loop --------------------------------------------------- */

/* Starts connects up to the batch limit, while the set-up lasts. */
static void crowd_open_more(struct crowd *c, int64_t now)
{
    while (!c->setup_done && c->next_open < c->nconns && c->inflight < c->a->batch)
        conn_open(c, &c->conns[c->next_open++], now);
}

/* Gives each due slowloris its byte and each due slow reader its read. */
static void crowd_trickle(struct crowd *c, int64_t now)
{
    struct ring *qs[2] = {&c->q_loris, &c->q_slow};

    for (int q = 0; q < 2; q++) {
        for (int budget = qs[q]->len; budget > 0 && qs[q]->len > 0; budget--) {
            struct conn *k = &c->conns[qs[q]->v[qs[q]->head]];

            if (k->state != S_DONE && k->due > now)
                break;
            ring_pop(qs[q]);
            if (k->state == S_DONE)
                continue;
            if (q == 0)
                loris_send(c, k, now);
            else
                slow_read(c, k, now);
        }
    }
}

/* Connects older than --connect-timeout fail (all of them with abort). */
static void crowd_expire_connects(struct crowd *c, int64_t now, bool abort)
{
    int64_t limit = (int64_t)c->a->connect_timeout_ms * MS;

    for (int i = 0; i < c->next_open; i++) {
        struct conn *k = &c->conns[i];

        if (k->state == S_CONNECTING && (abort || now - k->t_start >= limit)) {
            c->inflight--;
            conn_failed(c, k, ETIMEDOUT);
        }
    }
}

/* Open connections of kind (answered ones only, for idle). */
static int crowd_open(const struct crowd *c, enum kind kind)
{
    const struct kstat *s = &c->ks[kind];
    int n = 0;

    for (int i = s->first; i < s->first + s->n; i++) {
        const struct conn *k = &c->conns[i];
        n += k->state != S_DONE && k->state != S_NEW && k->state != S_CONNECTING &&
             (kind != K_IDLE || k->answered);
    }
    return n;
}

/* The set-up is over (complete or timed out): stops opening connections,
 * prints SETUP and starts the probe. Returns 0 or -1. */
static int crowd_setup_end(struct crowd *c, int64_t now)
{
    c->setup_done = true;
    c->setup_complete = c->unsettled == 0;
    c->t_setup = now;
    for (int i = c->next_open; i < c->nconns; i++)
        c->ks[c->conns[i].kind].not_started++;
    crowd_expire_connects(c, now, true);
    printf("SETUP setup_s=%.3f complete=%d idle_answered=%d idle_open=%d loris_open=%d "
           "slow_open=%d streams_open=%d connect_failed=%d not_started=%d\n",
           (double)(now - c->t0) / 1e9, c->setup_complete, c->ks[K_IDLE].answered,
           crowd_open(c, K_IDLE), crowd_open(c, K_LORIS), crowd_open(c, K_SLOW),
           crowd_open(c, K_STREAM), c->connect_fail + c->connect_timeout, c->nconns - c->next_open);
    fflush(stdout);
    c->stream_bytes0 = c->ks[K_STREAM].bytes;
    if (pthread_create(&c->probe_thread, NULL, probe_run, &c->probe) != 0) {
        fprintf(stderr, "ferry-crowd: cannot start the probe thread\n");
        return -1;
    }
    c->probe_started = true;
    return 0;
}

/* epoll_wait()'s timeout: until the next trickle, 100 ms at most. */
static int crowd_wait_ms(const struct crowd *c, int64_t now)
{
    int64_t next = now + 100 * MS;
    const struct ring *qs[2] = {&c->q_loris, &c->q_slow};

    for (int q = 0; q < 2; q++) {
        if (qs[q]->len > 0 && c->conns[qs[q]->v[qs[q]->head]].due < next)
            next = c->conns[qs[q]->v[qs[q]->head]].due;
    }
    return next <= now ? 0 : (int)((next - now + MS - 1) / MS);
}

/* Runs the crowd until the probe is done or --timeout. Returns 0 or -1. */
static int crowd_run(struct crowd *c)
{
    struct epoll_event evs[CROWD_EVENTS];
    int64_t now = clock_now_ns(), last_tick = now, last_diag = now;

    while (!(c->probe_started && atomic_load(&c->probe.done))) {
        int n;

        if (now >= c->hard_deadline) {
            c->timed_out = true;
            break;
        }
        crowd_open_more(c, now);
        if (!c->setup_done && (c->unsettled == 0 || now >= c->setup_deadline) &&
            crowd_setup_end(c, now) < 0)
            return -1;
        n = epoll_wait(c->ep, evs, CROWD_EVENTS, crowd_wait_ms(c, now));
        now = clock_now_ns();
        for (int i = 0; i < n; i++)
            conn_on_event(c, evs[i].data.u64, evs[i].events, now);
        crowd_trickle(c, now);
        if (now - last_tick >= 100 * MS) {
            crowd_expire_connects(c, now, false);
            last_tick = now;
        }
        if (c->diag_fd >= 0 && c->ks[K_SLOW].n > 0 && now - last_diag >= SEC) {
            crowd_diag(c, now);
            last_diag = now;
        }
    }
    return 0;
}

/* ---- the report ---------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile of sorted v (n > 0), ms. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
    return (double)v[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)] / 1e6;
}

/* Writes "min med max" of kind's closed connections into out[3] as text,
 * seconds: lifetimes (life) or close times since the start. */
static void close_times(const struct crowd *c, enum kind kind, bool life, char out[3][16])
{
    const struct kstat *s = &c->ks[kind];
    int64_t *v = malloc(((size_t)s->n + 1) * sizeof(*v));
    size_t n = 0;

    for (int i = s->first; v != NULL && i < s->first + s->n; i++) {
        const struct conn *k = &c->conns[i];
        if (k->t_close >= 0)
            v[n++] = k->t_close - (life ? k->t_conn : c->t0);
    }
    for (int j = 0; j < 3; j++)
        strcpy(out[j], "-");
    if (n > 0) {
        qsort(v, n, sizeof(*v), cmp_i64);
        snprintf(out[0], 16, "%.1f", (double)v[0] / 1e9);
        snprintf(out[1], 16, "%.1f", (double)v[n / 2] / 1e9);
        snprintf(out[2], 16, "%.1f", (double)v[n - 1] / 1e9);
    }
    free(v);
}

/* The streams' MB/s (10^6) while the probe ran. */
static double stream_mb_s(const struct crowd *c)
{
    return c->probe.secs > 0
               ? (double)(c->ks[K_STREAM].bytes - c->stream_bytes0) / c->probe.secs / 1e6
               : 0.0;
}

/* The human lines of the crowd's kinds that were asked for. */
static void report_crowd(const struct crowd *c, const int open[K_N])
{
    const struct kstat *s = c->ks;
    char t[3][16];

    if (s[K_IDLE].n > 0) {
        close_times(c, K_IDLE, false, t);
        printf("idle:       %d: %d answered (%d not 200), %d open; %d closed by the server (FIN "
               "%d, RST %d) at %s / %s / %s s (min/median/max since the start); %d responses "
               "unasked; %d connects failed, %d not started\n",
               s[K_IDLE].n, s[K_IDLE].answered, s[K_IDLE].bad, open[K_IDLE], s[K_IDLE].closed,
               s[K_IDLE].how[H_FIN], s[K_IDLE].how[H_RST], t[0], t[1], t[2], s[K_IDLE].responses,
               s[K_IDLE].failed, s[K_IDLE].not_started);
    }
    if (s[K_LORIS].n > 0) {
        close_times(c, K_LORIS, true, t);
        printf("slowloris:  %d: %d connected, %d open; %d closed (FIN %d, RST %d), lived %s / %s "
               "/ %s s; %d got a response (last status %d)\n",
               s[K_LORIS].n, s[K_LORIS].connected, open[K_LORIS], s[K_LORIS].closed,
               s[K_LORIS].how[H_FIN], s[K_LORIS].how[H_RST], t[0], t[1], t[2], s[K_LORIS].responses,
               s[K_LORIS].status);
    }
    if (s[K_SLOW].n > 0) {
        close_times(c, K_SLOW, true, t);
        printf("slow:       %d: %d connected, %d open; %d closed (by sock_diag %d, FIN %d, RST "
               "%d), lived %s / %s / %s s; %d status lines (last %d), %.1f KB read\n",
               s[K_SLOW].n, s[K_SLOW].connected, open[K_SLOW], s[K_SLOW].closed,
               s[K_SLOW].how[H_DIAG], s[K_SLOW].how[H_FIN], s[K_SLOW].how[H_RST], t[0], t[1], t[2],
               s[K_SLOW].responses, s[K_SLOW].status, (double)s[K_SLOW].bytes / 1e3);
    }
    if (s[K_STREAM].n > 0)
        printf("streams:    %d: %d open, %llu downloads, %.1f MB/s while probed, %d cut or bad\n",
               s[K_STREAM].n, open[K_STREAM], (unsigned long long)s[K_STREAM].done, stream_mb_s(c),
               s[K_STREAM].bad);
}

static void report_result(const struct crowd *c, const int open[K_N], uint64_t errors)
{
    const struct probe *p = &c->probe;
    const struct kstat *s = c->ks;
    char t[3][16], ll[3][16], sl[3][16];
    bool have = p->nlat > 0;

    close_times(c, K_IDLE, false, t);
    close_times(c, K_LORIS, true, ll);
    close_times(c, K_SLOW, true, sl);
    printf("RESULT probe_n=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%llu "
           "setup_s=%.3f setup_complete=%d connect_failed=%d timed_out=%d "
           "idle=%d idle_answered=%d idle_open=%d idle_closed=%d idle_close_min_s=%s "
           "idle_close_med_s=%s idle_close_max_s=%s "
           "loris=%d loris_open=%d loris_closed=%d loris_life_min_s=%s loris_life_med_s=%s "
           "loris_life_max_s=%s loris_responses=%d loris_status=%d "
           "slow=%d slow_open=%d slow_closed=%d slow_life_min_s=%s slow_life_med_s=%s "
           "slow_life_max_s=%s streams=%d stream_MB_s=%.1f\n",
           p->nlat, have ? pct_ms(p->lat, p->nlat, 50) : 0, have ? pct_ms(p->lat, p->nlat, 90) : 0,
           have ? pct_ms(p->lat, p->nlat, 99) : 0, have ? pct_ms(p->lat, p->nlat, 100) : 0,
           (unsigned long long)errors, (double)(c->t_setup - c->t0) / 1e9, c->setup_complete,
           c->connect_fail + c->connect_timeout, c->timed_out, s[K_IDLE].n, s[K_IDLE].answered,
           open[K_IDLE], s[K_IDLE].closed, t[0], t[1], t[2], s[K_LORIS].n, open[K_LORIS],
           s[K_LORIS].closed, ll[0], ll[1], ll[2], s[K_LORIS].responses, s[K_LORIS].status,
           s[K_SLOW].n, open[K_SLOW], s[K_SLOW].closed, sl[0], sl[1], sl[2], s[K_STREAM].n,
           stream_mb_s(c));
}

static void crowd_report(struct crowd *c)
{
    struct probe *p = &c->probe;
    int open[K_N];
    uint64_t errors = 0;

    for (int k = 0; k < K_N; k++)
        open[k] = crowd_open(c, (enum kind)k);
    for (int e = 0; e < PE_N; e++)
        errors += p->err[e];
    qsort(p->lat, p->nlat, sizeof(*p->lat), cmp_i64);
    printf("set-up:     %.2f s, %s; connects failed %d, timed out %d%s%s, not started %d\n",
           (double)(c->t_setup - c->t0) / 1e9, c->setup_complete ? "complete" : "INCOMPLETE",
           c->connect_fail, c->connect_timeout, c->last_errno ? ", last error: " : "",
           c->last_errno ? strerror(c->last_errno) : "", c->nconns - c->next_open);
    report_crowd(c, open);
    printf("probe:      %zu GETs of %s in %.2f s, %s", p->nlat, c->a->probe_path, p->secs,
           p->keepalive ? "keep-alive" : "a new connection each");
    if (p->nlat > 0)
        printf("; latency ms p50 %.3f p90 %.3f p99 %.3f max %.3f", pct_ms(p->lat, p->nlat, 50),
               pct_ms(p->lat, p->nlat, 90), pct_ms(p->lat, p->nlat, 99),
               pct_ms(p->lat, p->nlat, 100));
    printf("\n            errors %llu (", (unsigned long long)errors);
    for (int e = 0; e < PE_N; e++)
        printf("%s%s %llu", e ? ", " : "", probe_err_name[e], (unsigned long long)p->err[e]);
    printf(")%s\n", c->timed_out ? "; HIT --timeout" : "");
    report_result(c, open, errors);
}

/* ---- set-up and the command line ------------------------------------------ */

/* Raises RLIMIT_NOFILE to its hard limit. Returns 0, or -1 with a message
 * when need descriptors do not fit. */
static int crowd_rlimit(int need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || (rlim_t)need > rl.rlim_cur) {
        fprintf(stderr,
                "ferry-crowd: %d connections need about %d descriptors; RLIMIT_NOFILE allows %llu "
                "(the hard limit: raise it with ulimit -Hn as root)\n",
                need - 32, need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

/* The loopback address to use. Returns 0, or -1 with a message. */
static int crowd_address(const struct args *a, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    const char *h = strcmp(a->host, "localhost") == 0 ? (a->v6 ? "::1" : "127.0.0.1") : a->host;

    memset(ss, 0, sizeof(*ss));
    if (!a->v6 && inet_pton(AF_INET, h, &in->sin_addr) == 1 &&
        ntohl(in->sin_addr.s_addr) >> 24 == 127) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)a->port);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)a->port);
        *len = sizeof(*in6);
        return 0;
    }
    fprintf(stderr, "ferry-crowd: '%s': loopback only: 127.x.x.x, ::1, localhost%s\n", a->host,
            a->v6 ? " (-6: ::1)" : "");
    return -1;
}

/* The request texts: GET for idle, slow, stream, the probe; the slowloris
 * head's fixed start (its header lines are made up as it goes). */
static void crowd_requests(struct crowd *c)
{
    const struct args *a = c->a;
    const char *paths[K_N] = {a->path, a->path, a->slow_path, a->stream_path};
    char host[ADDR_STR_MAX];

    addr_format((struct sockaddr *)&c->addr, host);
    for (int k = 0; k < K_N; k++)
        c->reqlen[k] =
            (size_t)snprintf(c->req[k], PROBE_REQ_MAX,
                             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry-crowd\r\n%s",
                             paths[k], host, k == K_LORIS ? "" : "\r\n");
    c->probe.reqlen =
        (size_t)snprintf(c->probe.req, PROBE_REQ_MAX, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                         a->probe_path, host, a->probe_keepalive ? "" : "Connection: close\r\n");
}

/* Everything but the loop: addresses, descriptors, memory. Returns 0 or -1. */
static int crowd_init(struct crowd *c, const struct args *a)
{
    int64_t now = clock_now_ns();
    int first = 0;

    memset(c, 0, sizeof(*c));
    c->a = a;
    c->ep = c->diag_fd = -1;
    for (int k = 0; k < K_N; k++) {
        c->ks[k].n = a->n[k];
        c->ks[k].first = first;
        first += a->n[k];
    }
    c->nconns = c->unsettled = first;
    if (crowd_rlimit(c->nconns + 32) < 0 || crowd_address(a, &c->addr, &c->addrlen) < 0)
        return -1;
    c->conns = calloc((size_t)c->nconns + 1, sizeof(*c->conns));
    c->q_loris.v = calloc((size_t)a->n[K_LORIS] + 1, sizeof(int));
    c->q_slow.v = calloc((size_t)a->n[K_SLOW] + 1, sizeof(int));
    c->buf = malloc(CROWD_BUF);
    c->diag_state = malloc(DIAG_PORTS);
    c->probe.buf = malloc(PROBE_BUF);
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c->conns || !c->q_loris.v || !c->q_slow.v || !c->buf || !c->diag_state || !c->probe.buf ||
        c->ep < 0) {
        fprintf(stderr, "ferry-crowd: out of memory or descriptors\n");
        return -1;
    }
    c->q_loris.cap = a->n[K_LORIS] + 1;
    c->q_slow.cap = a->n[K_SLOW] + 1;
    for (int i = 0; i < c->nconns; i++) {
        c->conns[i].fd = -1;
        c->conns[i].t_conn = c->conns[i].t_close = -1;
        for (int k = 0; k < K_N; k++)
            if (i >= c->ks[k].first && i < c->ks[k].first + c->ks[k].n)
                c->conns[i].kind = (uint8_t)k;
    }
    if (a->n[K_SLOW] > 0 && (c->diag_fd = diag_open()) < 0) {
        fprintf(stderr, "ferry-crowd: sock_diag: %s; slow readers' ends seen at FIN/RST only\n",
                strerror(-c->diag_fd));
        c->diag_fd = -1;
    }
    /* A slow reader's read: rate/10 bytes every 100 ms, or 1 byte less often. */
    c->slow_chunk = a->slow_rate >= 10 ? (size_t)a->slow_rate / 10 : 1;
    c->slow_period = (int64_t)c->slow_chunk * SEC / a->slow_rate;
    crowd_requests(c);
    memcpy(&c->probe.addr, &c->addr, sizeof(c->addr));
    c->probe.addrlen = c->addrlen;
    c->probe.keepalive = a->probe_keepalive;
    c->probe.duration = (int64_t)a->duration_ms * MS;
    c->probe.interval = (int64_t)a->probe_interval_ms * MS;
    c->probe.timeout = (int64_t)a->probe_timeout_ms * MS;
    c->t0 = now;
    c->setup_deadline = now + (int64_t)a->setup_timeout_ms * MS;
    c->hard_deadline = c->probe.hard_deadline = now + (int64_t)a->timeout_ms * MS;
    return 0;
}

enum otype { O_INT, O_DUR, O_PATH, O_FLAG };

/* One table: getopt_long's options, the parser and usage(). */
static const struct copt {
    const char *name;
    enum otype type;
    size_t off;
    const char *arg, *help;
} copts[] = {
    {"idle", O_INT, offsetof(struct args, n[K_IDLE]), "N",
     "idle keep-alive connections: one GET PATH each, then silence [0]"},
    {"path", O_PATH, offsetof(struct args, path), "P", "idle and slowloris target [/4K]"},
    {"slowloris", O_INT, offsetof(struct args, n[K_LORIS]), "N",
     "connections sending a head a byte at a time, never finished [0]"},
    {"trickle-ms", O_INT, offsetof(struct args, trickle_ms), "MS",
     "one slowloris byte every MS [1000]"},
    {"slow-readers", O_INT, offsetof(struct args, n[K_SLOW]), "N",
     "connections GETting --slow-path with SO_RCVBUF 4096, reading slowly [0]"},
    {"slow-path", O_PATH, offsetof(struct args, slow_path), "P",
     "the slow readers' target [/256M]"},
    {"slow-rate", O_INT, offsetof(struct args, slow_rate), "B",
     "bytes/s each slow reader reads [100]"},
    {"streams", O_INT, offsetof(struct args, n[K_STREAM]), "N",
     "connections downloading --stream-path back to back, full speed [0]"},
    {"stream-path", O_PATH, offsetof(struct args, stream_path), "P", "the streams' target [/256M]"},
    {"duration", O_DUR, offsetof(struct args, duration_ms), "D", "the probe runs for D [10s]"},
    {"probe-path", O_PATH, offsetof(struct args, probe_path), "P", "the probe's target [/4K]"},
    {"probe-keepalive", O_FLAG, offsetof(struct args, probe_keepalive), NULL,
     "one persistent probe connection [a new connection per request]"},
    {"probe-interval-ms", O_INT, offsetof(struct args, probe_interval_ms), "MS",
     "start a probe request every MS; 0: back to back [10]"},
    {"probe-timeout", O_DUR, offsetof(struct args, probe_timeout_ms), "D",
     "a probe request taking longer is an error [10s]"},
    {"connect-batch", O_INT, offsetof(struct args, batch), "N",
     "crowd connects in flight, at most [256]"},
    {"connect-timeout", O_DUR, offsetof(struct args, connect_timeout_ms), "D",
     "a crowd connect pending longer fails [10s]"},
    {"setup-timeout", O_DUR, offsetof(struct args, setup_timeout_ms), "D",
     "start the probe after D even if the crowd is not all there [60s]"},
    {"timeout", O_DUR, offsetof(struct args, timeout_ms), "D",
     "hard limit on the whole run [duration + 120s]"},
};
#define NCOPTS (sizeof(copts) / sizeof(copts[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry-crowd [options] HOST PORT | HOST:PORT | PORT\n"
                 "Measures a probe client's latency while a crowd of connections exists.\n"
                 "HOST: 127.0.0.1 (default), ::1, localhost, [::1]:PORT; loopback only.\n"
                 "  -6                       use ::1\n");
    for (size_t i = 0; i < NCOPTS; i++) {
        char lhs[40];
        snprintf(lhs, sizeof(lhs), "--%s%s%s", copts[i].name, copts[i].arg ? " " : "",
                 copts[i].arg ? copts[i].arg : "");
        fprintf(out, "  %-23s  %s\n", lhs, copts[i].help);
    }
    fprintf(out, "  -h, --help; -V, --version\n"
                 "D: seconds, or 500ms, 2m... Exit: 0 done, 1 failed or --timeout, 2 usage.\n");
}

/* Stores optarg for option i into a. Returns 0, or -1 with a message. */
static int copt_set(struct args *a, const struct copt *o, const char *arg)
{
    char *p = (char *)a + o->off, *end;
    long v;

    switch (o->type) {
    case O_INT:
        v = strtol(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || v < 0 || v > 1000000)
            break;
        *(int *)p = (int)v;
        return 0;
    case O_DUR:
        if (dur_parse(arg, (uint64_t *)p) < 0 || *(uint64_t *)p > UINT64_C(1) << 40)
            break;
        return 0;
    case O_PATH:
        if (arg[0] != '/' || strlen(arg) > 256 || strpbrk(arg, " \t\r\n") != NULL)
            break;
        *(const char **)p = arg;
        return 0;
    case O_FLAG:
        *(bool *)p = true;
        return 0;
    }
    fprintf(stderr, "ferry-crowd: --%s: bad value '%s'\n", o->name, arg);
    return -1;
}

/* HOST PORT, HOST:PORT or PORT. Returns 0, or -1 with a message. */
static int crowd_operands(struct args *a, char **ops, int nops)
{
    int port = -1;

    strcpy(a->host, a->v6 ? "::1" : "127.0.0.1");
    if (nops == 1 && strspn(ops[0], "0123456789") == strlen(ops[0]))
        port = addr_port_parse(ops[0]);
    else if (nops < 1 || nops > 2 || addr_split(ops[0], a->host, sizeof(a->host), &port) < 0 ||
             (port >= 0) != (nops == 1))
        port = -1;
    else if (nops == 2)
        port = addr_port_parse(ops[1]);
    if (port <= 0) {
        fprintf(stderr, "ferry-crowd: expected HOST PORT, HOST:PORT or PORT (1 to 65535)\n");
        return -1;
    }
    a->port = port;
    return 0;
}

/* Returns 0 (a filled), 1 (help printed: exit 0) or -1 (usage error). */
static int crowd_args(int argc, char **argv, struct args *a)
{
    struct option lo[NCOPTS + 3];
    int c, idx;

    *a = (struct args){.trickle_ms = 1000,
                       .slow_rate = 100,
                       .probe_interval_ms = 10,
                       .batch = 256,
                       .duration_ms = 10000,
                       .probe_timeout_ms = 10000,
                       .connect_timeout_ms = 10000,
                       .setup_timeout_ms = 60000,
                       .path = "/4K",
                       .slow_path = "/256M",
                       .stream_path = "/256M",
                       .probe_path = "/4K"};
    for (size_t i = 0; i < NCOPTS; i++)
        lo[i] =
            (struct option){copts[i].name, copts[i].arg ? required_argument : no_argument, NULL, 0};
    lo[NCOPTS] = (struct option){"help", no_argument, NULL, 'h'};
    lo[NCOPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lo[NCOPTS + 2] = (struct option){0};
    opterr = 0;
    while ((c = getopt_long(argc, argv, "6hV", lo, &idx)) != -1) {
        if (c == 0 && copt_set(a, &copts[idx], optarg ? optarg : "") < 0)
            return -1;
        if (c == '6')
            a->v6 = true;
        if (c == 'h' || c == 'V') {
            if (c == 'h')
                usage(stdout);
            else
                printf("ferry-crowd %s\n", FERRY_VERSION);
            return 1;
        }
        if (c == '?') {
            fprintf(stderr, "ferry-crowd: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return -1;
        }
    }
    if (crowd_operands(a, argv + optind, argc - optind) < 0)
        return -1;
    if (a->trickle_ms < 1 || a->slow_rate < 1 || a->batch < 1 || a->duration_ms == 0 ||
        a->probe_timeout_ms == 0 || a->connect_timeout_ms == 0) {
        fprintf(stderr, "ferry-crowd: --trickle-ms, --slow-rate, --connect-batch and the "
                        "durations must be above 0\n");
        return -1;
    }
    if (a->timeout_ms == 0)
        a->timeout_ms = a->duration_ms + 120000;
    return 0;
}

int main(int argc, char **argv)
{
    static struct crowd c;
    struct args a;
    int rc = crowd_args(argc, argv, &a);

    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (crowd_init(&c, &a) < 0)
        return 1;
    printf("ferry-crowd: %s port %d: %d idle, %d slowloris, %d slow readers, %d streams; "
           "probe %s for %.1f s\n",
           a.host, a.port, a.n[K_IDLE], a.n[K_LORIS], a.n[K_SLOW], a.n[K_STREAM], a.probe_path,
           (double)a.duration_ms / 1e3);
    fflush(stdout);
    rc = crowd_run(&c);
    if (c.probe_started) /* done, or ending by the same hard deadline */
        pthread_join(c.probe_thread, NULL);
    if (rc == 0 && c.setup_done)
        crowd_report(&c);
    else if (rc == 0)
        printf("ferry-crowd: --timeout before the set-up ended\n");
    return rc < 0 || c.timed_out ? 1 : 0;
}
