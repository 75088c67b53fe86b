/* Unit tests for master/snapshot: consistency of the totals, counts by
 * state (processes and connections), the connections listed beneath
 * their processes, and the rate arithmetic over a synthetic history. */
#include "master/snapshot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const struct sockaddr *peer(void)
{
    static struct sockaddr_in sin = {.sin_family = AF_INET};
    return (const struct sockaddr *)&sin;
}

/* A peer told apart by its port. */
static const struct sockaddr *peer_port(uint16_t port)
{
    static struct sockaddr_in sin = {.sin_family = AF_INET};

    sin.sin_port = htons(port);
    return (const struct sockaddr *)&sin;
}

/* Record k of slot s opens a connection on listener from p. */
static struct sb_conn *begin(struct scoreboard *sb, int s, uint32_t k, unsigned listener,
                             const struct sockaddr *p)
{
    struct sb_conn *r = sb_rec(sb, s, k);

    sb_conn_begin(&sb->slots[s], r, k, listener, p, clock_now_ns());
    return r;
}

/* Two live workers with traffic and one reaped: totals = reaped + live. */
static struct scoreboard *busy_board(void)
{
    struct scoreboard *sb = sb_create(4, 1);
    int a = sb_claim(sb, SB_KIND_WORKER), b = sb_claim(sb, SB_KIND_WORKER),
        c = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r;

    sb_worker_start(&sb->slots[a], 10);
    sb_worker_start(&sb->slots[b], 11);
    sb_worker_start(&sb->slots[c], 12);
    r = begin(sb, c, 0, 0, peer());
    sb_req_answer(&sb->slots[c], r, SB_OUT_OK, "gone", 5, SB_SENDING);
    sb_conn_progress(&sb->slots[c], r, 5);
    sb_release(sb, c, SB_EXIT_CLEAN);
    r = begin(sb, a, 0, 1, peer());
    sb_req_answer(&sb->slots[a], r, SB_OUT_OK, "f", 100, SB_WAITING);
    sb_conn_state(r, SB_SENDING);
    sb_conn_progress(&sb->slots[a], r, 40);
    r = begin(sb, b, 0, 0, peer());
    sb_req_answer(&sb->slots[b], r, SB_OUT_CLIENT_ERROR, NULL, 0, SB_CLOSING);
    sb_conn_end(&sb->slots[b], r, clock_now_ns());
    return sb;
}

static void test_totals_are_reaped_plus_live(void **state)
{
    struct scoreboard *sb = busy_board();
    struct snapshot s;
    uint64_t live_bytes = 0, live_conns = 0;

    (void)state;
    assert_int_equal(snap_init(&s, sb->nslots, sb->conns_per_slot), 0);
    assert_int_equal(snap_take(sb, &s), 0);
    assert_int_equal(s.nlive, 2);
    for (uint32_t i = 0; i < s.nlive; i++) {
        live_bytes += s.live[i].c.bytes;
        live_conns += s.live[i].c.connections;
    }
    assert_int_equal(s.totals.c.bytes, s.reaped.c.bytes + live_bytes);
    assert_int_equal(s.totals.c.connections, s.reaped.c.connections + live_conns);
    assert_int_equal(s.totals.c.bytes, 45);
    /* Each listener's row, the reaped worker's included. */
    assert_int_equal(s.totals.c.listener[0].connections, 2);
    assert_int_equal(s.totals.c.listener[0].requests[SB_OUT_OK], 1);
    assert_int_equal(s.totals.c.listener[0].requests[SB_OUT_CLIENT_ERROR], 1);
    assert_int_equal(s.totals.c.listener[0].bytes, 5);
    assert_int_equal(s.totals.c.listener[1].connections, 1);
    assert_int_equal(s.totals.c.listener[1].requests[SB_OUT_OK], 1);
    assert_int_equal(s.totals.c.listener[1].bytes, 40);
    assert_int_equal(s.totals.worker_exits, 1);
    /* A worker holding one connection counts in that connection's state. */
    assert_int_equal(s.by_state[SB_SENDING], 1);
    assert_int_equal(s.by_state[SB_IDLE], 1);
    assert_int_equal(s.by_state[SB_EMPTY], 2);
    assert_int_equal(s.by_state[SB_BUSY], 0);
    assert_int_equal(s.live_slot[0], 0);
    assert_int_equal(s.live_slot[1], 1);
    assert_int_equal(s.nconns, 1);
    assert_int_equal(s.conn_states[SB_SENDING], 1);
    assert_int_equal(s.conns[0].r.sent, 40);
    snap_free(&s);
    sb_destroy(sb);
}

/* A hub beside the workers: in live[] (its index noted) with its
 * figures, its reaped predecessor's added, but outside the pool's
 * counts; a torn hub block fails the snapshot as a torn slot does. */
static void test_hub_is_no_pool_worker(void **state)
{
    struct scoreboard *sb = busy_board();
    struct sb_hub f = {.online = 2, .posts = 1, .forwards = 1, .rejected = 1};
    struct snapshot s;
    int h;

    (void)state;
    h = sb_claim(sb, SB_KIND_HUB); /* a hub that came and went */
    f.posts = 5;
    sb_hub_publish(&sb->hub, &f);
    sb_release(sb, h, SB_EXIT_CRASH);
    h = sb_claim(sb, SB_KIND_HUB);
    sb_worker_start(&sb->slots[h], 20);
    f.posts = 1;
    sb_hub_publish(&sb->hub, &f);
    assert_int_equal(snap_init(&s, sb->nslots, sb->conns_per_slot), 0);
    assert_int_equal(snap_take(sb, &s), 0);
    assert_int_equal(s.nlive, 3);
    assert_int_equal(s.nworkers, 2);
    assert_true(s.hub_live >= 0);
    assert_int_equal(s.live_slot[s.hub_live], h);
    assert_int_equal(s.live[s.hub_live].pid, 20);
    assert_int_equal(s.by_state[SB_SENDING] + s.by_state[SB_IDLE], 2); /* the workers alone */
    assert_int_equal(s.by_state[SB_IDLE], 1);
    assert_int_equal(s.hub.posts, 1);           /* this hub's */
    assert_int_equal(s.totals.hub.posts, 6);    /* and its predecessor's */
    assert_int_equal(s.totals.hub.online, 2);   /* sessions: the live one's */
    assert_int_equal(s.totals.worker_exits, 1); /* the pool's exit alone */
    assert_int_equal(s.totals.hub_exits, 1);
    assert_int_equal(s.totals.hub_crashes, 1);
    assert_int_equal(s.totals.crashes, 0);
    atomic_fetch_add(&sb->hub.seq, 1);
    assert_int_equal(snap_take(sb, &s), -EAGAIN);
    sb_release(sb, h, SB_EXIT_KILLED);
    assert_int_equal(snap_take(sb, &s), 0);
    assert_int_equal(s.hub_live, -1);
    assert_int_equal(s.totals.hub.online, 0);
    assert_int_equal(s.totals.hub.posts, 6); /* folded as the block stood */
    assert_int_equal(s.totals.kills, 0);     /* a hub's kill is no worker's */
    snap_free(&s);
    sb_destroy(sb);
}

static void test_torn_slot_is_reported(void **state)
{
    struct scoreboard *sb = busy_board();
    struct snapshot s;

    (void)state;
    assert_int_equal(snap_init(&s, sb->nslots, sb->conns_per_slot), 0);
    atomic_fetch_add(&sb->slots[1].seq, 1);
    assert_int_equal(snap_take(sb, &s), -EAGAIN);
    atomic_fetch_add(&sb->slots[1].seq, 1);
    assert_int_equal(snap_take(sb, &s), 0);
    /* A connection record in use that stays mid-write, too. */
    atomic_fetch_add(&sb_rec(sb, 0, 0)->seq, 1);
    assert_int_equal(snap_take(sb, &s), -EAGAIN);
    snap_free(&s);
    sb_destroy(sb);
}

/*
 * Four live processes (slot 1 free, so live and slot indices differ):
 * slot 0 idle, slot 2 holding two connections (records 0 and 2; record 1
 * used and freed), slot 3 holding one, slot 4 BUSY with none (its last
 * closed between the two writes).
 */
static struct scoreboard *event_board(void)
{
    struct scoreboard *sb = sb_create(5, 4);
    struct sb_conn *r;

    for (int i = 0; i < 5; i++) {
        assert_int_equal(sb_claim(sb, SB_KIND_WORKER), i);
        sb_worker_start(&sb->slots[i], 100 + i);
    }
    sb_release(sb, 1, SB_EXIT_CLEAN);
    begin(sb, 2, 0, 0, peer_port(20));
    r = begin(sb, 2, 1, 0, peer_port(21));
    sb_conn_end(&sb->slots[2], r, clock_now_ns());
    r = begin(sb, 2, 2, 1, peer_port(22));
    sb_req_answer(&sb->slots[2], r, SB_OUT_OK, "/big", 1000, SB_SENDING);
    sb_conn_progress(&sb->slots[2], r, 300);
    r = begin(sb, 3, 0, 0, peer_port(30));
    sb_req_answer(&sb->slots[3], r, SB_OUT_OK, "f", 10, SB_WAITING);
    sb_set_state(&sb->slots[4], SB_BUSY);
    /* Behind slot 0's conn_hi (0): never used, never looked at. */
    sb_rec(sb, 0, 1)->state = SB_READING;
    return sb;
}

/* conns[] holds every open record once, under its process's live index,
 * in order; the counts by state are theirs. */
static void test_conns_beneath_their_process(void **state)
{
    struct scoreboard *sb = event_board();
    struct snapshot s;

    (void)state;
    assert_int_equal(snap_init(&s, sb->nslots, sb->conns_per_slot), 0);
    assert_int_equal(snap_take(sb, &s), 0);
    assert_int_equal(s.nlive, 4);
    assert_int_equal(s.live_slot[0], 0);
    assert_int_equal(s.live_slot[1], 2);
    assert_int_equal(s.live_slot[2], 3);
    assert_int_equal(s.live_slot[3], 4);
    assert_int_equal(s.nconns, 3);
    assert_int_equal(s.live_conns[0], 0);
    assert_int_equal(s.live_conns[1], 2);
    assert_int_equal(s.live_conns[2], 1);
    assert_int_equal(s.live_conns[3], 0);
    assert_int_equal(s.live_first[1], 0);
    assert_int_equal(s.live_first[2], 2);
    assert_int_equal(s.conns[0].live, 1);
    assert_int_equal(s.conns[0].k, 0);
    assert_int_equal(s.conns[0].r.state, SB_READING);
    assert_int_equal(ntohs(s.conns[0].r.peer.in.sin_port), 20);
    assert_int_equal(s.conns[1].live, 1);
    assert_int_equal(s.conns[1].k, 2);
    assert_int_equal(s.conns[1].r.state, SB_SENDING);
    assert_int_equal(ntohs(s.conns[1].r.peer.in.sin_port), 22);
    assert_string_equal(s.conns[1].r.target, "/big");
    assert_int_equal(s.conns[1].r.sent, 300);
    assert_int_equal(s.conns[1].r.listener, 1);
    assert_int_equal(s.conns[2].live, 2);
    assert_int_equal(s.conns[2].k, 0);
    assert_int_equal(s.conns[2].r.state, SB_WAITING);
    assert_int_equal(ntohs(s.conns[2].r.peer.in.sin_port), 30);
    /* Connections by state. */
    assert_int_equal(s.conn_states[SB_READING], 1);
    assert_int_equal(s.conn_states[SB_SENDING], 1);
    assert_int_equal(s.conn_states[SB_WAITING], 1);
    assert_int_equal(s.conn_states[SB_KEEPALIVE], 0);
    assert_int_equal(s.conn_states[SB_CLOSING], 0);
    assert_int_equal(s.conn_states[SB_EMPTY], 0);
    /* Processes: the one connection's state when it holds exactly one,
     * BUSY with several, IDLE when BUSY with none. */
    assert_int_equal(snap_worker_state(&s, 0), SB_IDLE);
    assert_int_equal(snap_worker_state(&s, 1), SB_BUSY);
    assert_int_equal(snap_worker_state(&s, 2), SB_WAITING);
    assert_int_equal(snap_worker_state(&s, 3), SB_IDLE);
    assert_int_equal(s.by_state[SB_IDLE], 2);
    assert_int_equal(s.by_state[SB_BUSY], 1);
    assert_int_equal(s.by_state[SB_WAITING], 1);
    assert_int_equal(s.by_state[SB_EMPTY], 1);
    assert_null(snap_only_conn(&s, 0));
    assert_null(snap_only_conn(&s, 1));
    assert_ptr_equal(snap_only_conn(&s, 2), &s.conns[2]);
    assert_null(snap_only_conn(&s, 3));
    /* A second snapshot starts over: nothing counted twice. */
    sb_conn_end(&sb->slots[2], sb_rec(sb, 2, 0), clock_now_ns());
    assert_int_equal(snap_take(sb, &s), 0);
    assert_int_equal(s.nconns, 2);
    assert_int_equal(s.conn_states[SB_READING], 0);
    assert_int_equal(s.conn_states[SB_SENDING], 1);
    assert_int_equal(snap_worker_state(&s, 1), SB_SENDING);
    assert_ptr_equal(snap_only_conn(&s, 1), &s.conns[0]);
    assert_int_equal(s.conns[0].k, 2);
    assert_int_equal(s.live_first[2], 1);
    assert_int_equal(s.by_state[SB_BUSY], 0);
    assert_int_equal(s.by_state[SB_SENDING], 1);
    snap_free(&s);
    sb_destroy(sb);
}

/* More connections than the snapshot first had room for: conns[] grows,
 * each still in its place. */
static void test_conns_grow(void **state)
{
    struct scoreboard *sb = sb_create(2, 16);
    struct snapshot s;

    (void)state;
    sb_worker_start(&sb->slots[sb_claim(sb, SB_KIND_WORKER)], 1);
    sb_worker_start(&sb->slots[sb_claim(sb, SB_KIND_WORKER)], 2);
    for (uint32_t k = 0; k < 16; k++)
        begin(sb, 0, k, 0, peer_port((uint16_t)(1000 + k)));
    for (uint32_t k = 0; k < 5; k++)
        begin(sb, 1, k, 0, peer_port((uint16_t)(2000 + k)));
    assert_int_equal(snap_init(&s, sb->nslots, sb->conns_per_slot), 0);
    assert_int_equal(snap_take(sb, &s), 0);
    assert_int_equal(s.nconns, 21);
    assert_true(s.conns_cap >= 21);
    assert_int_equal(s.conn_states[SB_READING], 21);
    assert_int_equal(s.live_conns[0], 16);
    assert_int_equal(s.live_conns[1], 5);
    assert_int_equal(s.live_first[1], 16);
    for (uint32_t i = 0; i < 21; i++) {
        uint32_t live = i < 16 ? 0 : 1, k = i < 16 ? i : i - 16;

        assert_int_equal(s.conns[i].live, live);
        assert_int_equal(s.conns[i].k, k);
        assert_int_equal(ntohs(s.conns[i].r.peer.in.sin_port), (live ? 2000 : 1000) + k);
    }
    assert_int_equal(snap_worker_state(&s, 0), SB_BUSY);
    snap_free(&s);
    sb_destroy(sb);
}

/* Feeds one sample a second with the given totals; returns the snapshot
 * "now", one second after the last sample. */
static void feed(struct snap_history *h, struct snapshot *s, const uint64_t *requests, int n)
{
    for (int i = 0; i < n; i++) {
        s->taken_ns = (int64_t)i * 1000000000;
        s->totals.c.requests = requests[i];
        s->totals.c.bytes = requests[i] * 1000;
        snap_history_add(h, s);
    }
    s->taken_ns = (int64_t)n * 1000000000;
}

static void test_rates_over_windows(void **state)
{
    struct snap_history h;
    struct snapshot s;
    uint64_t req[70];
    double rq, by;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(snap_history_init(&h, 1, 1), 0);
    assert_false(snap_rate(&h, &s, 1, &rq, &by)); /* no history yet */
    /* 10 req/s for 60 s, then 100 req/s for the last 10 s. */
    for (int i = 0; i < 70; i++)
        req[i] = i <= 60 ? (uint64_t)i * 10 : 600 + (uint64_t)(i - 60) * 100;
    feed(&h, &s, req, 70);
    s.totals.c.requests = req[69] + 100; /* one more second at 100/s */
    s.totals.c.bytes = s.totals.c.requests * 1000;
    assert_true(snap_rate(&h, &s, 1, &rq, &by));
    assert_float_equal(rq, 100, 0.01);
    assert_float_equal(by, 100000, 0.01);
    assert_true(snap_rate(&h, &s, 10, &rq, &by));
    assert_float_equal(rq, 100, 0.01);
    assert_true(snap_rate(&h, &s, 60, &rq, &by));
    /* the last 60 s: 50 s at 10/s and 10 s at 100/s */
    assert_float_equal(rq, (50.0 * 10 + 10.0 * 100) / 60, 0.01);
    snap_history_free(&h);
}

static void test_rate_with_short_history(void **state)
{
    struct snap_history h;
    struct snapshot s;
    uint64_t req[3] = {0, 5, 10};
    double rq, by;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(snap_history_init(&h, 1, 1), 0);
    feed(&h, &s, req, 3);
    s.totals.c.requests = 15;
    assert_true(snap_rate(&h, &s, 60, &rq, &by)); /* as far back as it goes: 3 s */
    assert_float_equal(rq, 5, 0.01);
    snap_history_free(&h);
}

static void test_transfer_rates(void **state)
{
    struct scoreboard *sb = sb_create(1, 1);
    struct snap_history h;
    struct snapshot s;
    double rate, avg;
    int w = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r;

    (void)state;
    assert_int_equal(snap_init(&s, 1, 1), 0);
    assert_int_equal(snap_history_init(&h, 1, 1), 0);
    sb_worker_start(&sb->slots[w], 1);
    r = begin(sb, w, 0, 0, peer());
    sb_req_answer(&sb->slots[w], r, SB_OUT_OK, "f", 1 << 30, SB_SENDING);
    sb_conn_progress(&sb->slots[w], r, 1000);
    r->start_ns = r->req_ns = 0;
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 1000000000; /* 1 s after the start */
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 1000, 0.01);
    assert_float_equal(rate, 1000, 0.01); /* no interval yet: the average */
    sb_conn_progress(&sb->slots[w], r, 9000);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 2000000000; /* 9000 more bytes in the next second */
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 9000, 0.01);
    assert_float_equal(avg, 5000, 0.01);
    /* Stalled for the next second: the current rate is 0, not the average. */
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 2500000000;
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 0, 0.01);
    assert_float_equal(avg, 4000, 0.01);
    /* The next request of a persistent connection is a new transfer: its
     * rate is not measured against the previous one's bytes. */
    sb_req_next(r, SB_KEEPALIVE);
    sb_req_answer(&sb->slots[w], r, SB_OUT_OK, "g", 1 << 30, SB_SENDING);
    sb_conn_progress(&sb->slots[w], r, 12000);
    r->req_ns = 2000000000; /* answered 1 s before the sample */
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 3000000000; /* more than the last sample had, in another request */
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 12000, 0.01);  /* this request's bytes over its own time */
    assert_float_equal(rate, 12000, 0.01); /* not the last request's rate, 0 */
    snap_history_add(&h, &s);
    sb_conn_progress(&sb->slots[w], r, 3000);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 4000000000;
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 3000, 0.01);
    /* Answered and idle: a finished answer has no rate. */
    sb_req_next(r, SB_KEEPALIVE);
    assert_int_equal(snap_take(sb, &s), 0);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 0, 0.01);
    assert_float_equal(avg, 0, 0.01);
    /* A new connection in the same record starts from scratch. */
    sb_conn_end(&sb->slots[w], r, clock_now_ns());
    begin(sb, w, 0, 0, peer());
    sb_req_answer(&sb->slots[w], r, SB_OUT_OK, "g", 100, SB_SENDING);
    sb_conn_progress(&sb->slots[w], r, 10);
    r->start_ns = r->req_ns = 2000000000;
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 3000000000;
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 10, 0.01);
    assert_float_equal(rate, 10, 0.01);
    snap_history_free(&h);
    snap_free(&s);
    sb_destroy(sb);
}

/* Sets the times of a connection opened (and answered) at t0 ns. */
static void started_at(struct sb_conn *r, int64_t t0)
{
    r->start_ns = r->req_ns = t0;
}

/* Rates are per connection: two of one process and one of another, each
 * measured against its own previous sample, whatever its index in
 * conns[] (which shifts when an earlier connection closes). */
static void test_transfer_rates_per_connection(void **state)
{
    struct scoreboard *sb = sb_create(2, 2);
    struct snap_history h;
    struct snapshot s;
    struct sb_conn *a0, *a1, *b0;
    double rate, avg;

    (void)state;
    assert_int_equal(snap_init(&s, 2, 2), 0);
    assert_int_equal(snap_history_init(&h, 2, 2), 0);
    sb_worker_start(&sb->slots[sb_claim(sb, SB_KIND_WORKER)], 1);
    sb_worker_start(&sb->slots[sb_claim(sb, SB_KIND_WORKER)], 2);
    a0 = begin(sb, 0, 0, 0, peer());
    a1 = begin(sb, 0, 1, 0, peer());
    b0 = begin(sb, 1, 0, 0, peer());
    sb_req_answer(&sb->slots[0], a0, SB_OUT_OK, "a0", 1 << 30, SB_SENDING);
    sb_req_answer(&sb->slots[0], a1, SB_OUT_OK, "a1", 1 << 30, SB_SENDING);
    sb_req_answer(&sb->slots[1], b0, SB_OUT_OK, "b0", 1 << 30, SB_SENDING);
    started_at(a0, 0);
    started_at(a1, 0);
    started_at(b0, 0);
    sb_conn_progress(&sb->slots[0], a0, 1000);
    sb_conn_progress(&sb->slots[0], a1, 2000);
    sb_conn_progress(&sb->slots[1], b0, 4000);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 1000000000;
    snap_history_add(&h, &s);
    assert_int_equal(s.nconns, 3);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 1000, 0.01);
    snap_transfer_rates(&h, &s, 1, &rate, &avg);
    assert_float_equal(avg, 2000, 0.01);
    snap_transfer_rates(&h, &s, 2, &rate, &avg);
    assert_float_equal(avg, 4000, 0.01);
    /* A second on: each moved its own bytes. */
    sb_conn_progress(&sb->slots[0], a0, 100);
    sb_conn_progress(&sb->slots[0], a1, 300);
    sb_conn_progress(&sb->slots[1], b0, 500);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 2000000000;
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 100, 0.01);
    assert_float_equal(avg, 550, 0.01);
    snap_transfer_rates(&h, &s, 1, &rate, &avg);
    assert_float_equal(rate, 300, 0.01);
    assert_float_equal(avg, 1150, 0.01);
    snap_transfer_rates(&h, &s, 2, &rate, &avg);
    assert_float_equal(rate, 500, 0.01);
    /* a0 closes: a1 is conns[0] now, and still measured against its own
     * last sample (2300 bytes), not a0's (1100). */
    sb_conn_end(&sb->slots[0], a0, clock_now_ns());
    sb_conn_progress(&sb->slots[0], a1, 700);
    sb_conn_progress(&sb->slots[1], b0, 50);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 3000000000;
    snap_history_add(&h, &s);
    assert_int_equal(s.nconns, 2);
    assert_string_equal(s.conns[0].r.target, "a1");
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 700, 0.01);
    assert_float_equal(avg, 1000, 0.01);
    snap_transfer_rates(&h, &s, 1, &rate, &avg);
    assert_float_equal(rate, 50, 0.01);
    /* A new connection in a0's record has no rate of its own yet: its
     * average, not a0's old figures. */
    a0 = begin(sb, 0, 0, 0, peer());
    sb_req_answer(&sb->slots[0], a0, SB_OUT_OK, "new", 1 << 30, SB_SENDING);
    started_at(a0, 2000000000);
    sb_conn_progress(&sb->slots[0], a0, 5000);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 4000000000;
    assert_string_equal(s.conns[0].r.target, "new");
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 2500, 0.01);
    assert_float_equal(rate, 2500, 0.01);
    snap_history_free(&h);
    snap_free(&s);
    sb_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals_are_reaped_plus_live),
        cmocka_unit_test(test_hub_is_no_pool_worker),
        cmocka_unit_test(test_torn_slot_is_reported),
        cmocka_unit_test(test_conns_beneath_their_process),
        cmocka_unit_test(test_conns_grow),
        cmocka_unit_test(test_rates_over_windows),
        cmocka_unit_test(test_rate_with_short_history),
        cmocka_unit_test(test_transfer_rates),
        cmocka_unit_test(test_transfer_rates_per_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
