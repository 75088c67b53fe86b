/* Unit tests for master/snapshot: consistency of the totals, counts by
 * state, and the rate arithmetic over a synthetic history. */
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

/* Two live workers with traffic and one reaped: totals = reaped + live. */
static struct scoreboard *busy_board(void)
{
    struct scoreboard *sb = sb_create(4);
    int a = sb_claim(sb), b = sb_claim(sb), c = sb_claim(sb);

    sb_worker_start(&sb->slots[a], 10);
    sb_worker_start(&sb->slots[b], 11);
    sb_worker_start(&sb->slots[c], 12);
    sb_conn_begin(&sb->slots[c], 0, peer(), clock_now_ns());
    sb_req_answer(&sb->slots[c], SB_OUT_OK, "gone", 5, SB_SENDING);
    sb_conn_progress(&sb->slots[c], 5);
    sb_release(sb, c, SB_EXIT_CLEAN);
    sb_conn_begin(&sb->slots[a], 1, peer(), clock_now_ns());
    sb_req_answer(&sb->slots[a], SB_OUT_OK, "f", 100, SB_WAITING);
    sb_set_state(&sb->slots[a], SB_SENDING);
    sb_conn_progress(&sb->slots[a], 40);
    sb_conn_begin(&sb->slots[b], 0, peer(), clock_now_ns());
    sb_req_answer(&sb->slots[b], SB_OUT_CLIENT_ERROR, NULL, 0, SB_CLOSING);
    sb_set_state(&sb->slots[b], SB_IDLE);
    return sb;
}

static void test_totals_are_reaped_plus_live(void **state)
{
    struct scoreboard *sb = busy_board();
    struct snapshot s;
    uint64_t live_bytes = 0, live_conns = 0;

    (void)state;
    assert_int_equal(snap_init(&s, sb->nslots), 0);
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
    assert_int_equal(s.by_state[SB_SENDING], 1);
    assert_int_equal(s.by_state[SB_IDLE], 1);
    assert_int_equal(s.by_state[SB_EMPTY], 2);
    assert_int_equal(s.live_slot[0], 0);
    assert_int_equal(s.live_slot[1], 1);
    snap_free(&s);
    sb_destroy(sb);
}

static void test_torn_slot_is_reported(void **state)
{
    struct scoreboard *sb = busy_board();
    struct snapshot s;

    (void)state;
    assert_int_equal(snap_init(&s, sb->nslots), 0);
    atomic_fetch_add(&sb->slots[1].seq, 1);
    assert_int_equal(snap_take(sb, &s), -EAGAIN);
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
    assert_int_equal(snap_history_init(&h, 1), 0);
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
    assert_int_equal(snap_history_init(&h, 1), 0);
    feed(&h, &s, req, 3);
    s.totals.c.requests = 15;
    assert_true(snap_rate(&h, &s, 60, &rq, &by)); /* as far back as it goes: 3 s */
    assert_float_equal(rq, 5, 0.01);
    snap_history_free(&h);
}

static void test_transfer_rates(void **state)
{
    struct scoreboard *sb = sb_create(1);
    struct snap_history h;
    struct snapshot s;
    double rate, avg;
    int w = sb_claim(sb);

    (void)state;
    assert_int_equal(snap_init(&s, 1), 0);
    assert_int_equal(snap_history_init(&h, 1), 0);
    sb_worker_start(&sb->slots[w], 1);
    sb_conn_begin(&sb->slots[w], 0, peer(), clock_now_ns());
    sb_req_answer(&sb->slots[w], SB_OUT_OK, "f", 1 << 30, SB_SENDING);
    sb_conn_progress(&sb->slots[w], 1000);
    sb->slots[w].t.start_ns = sb->slots[w].t.req_ns = 0;
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 1000000000; /* 1 s after the start */
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 1000, 0.01);
    assert_float_equal(rate, 1000, 0.01); /* no interval yet: the average */
    sb_conn_progress(&sb->slots[w], 9000);
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
    sb_req_next(&sb->slots[w], SB_KEEPALIVE);
    sb_req_answer(&sb->slots[w], SB_OUT_OK, "g", 1 << 30, SB_SENDING);
    sb_conn_progress(&sb->slots[w], 12000);
    sb->slots[w].t.req_ns = 2000000000; /* answered 1 s before the sample */
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 3000000000; /* more than the last sample had, in another request */
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 12000, 0.01);  /* this request's bytes over its own time */
    assert_float_equal(rate, 12000, 0.01); /* not the last request's rate, 0 */
    snap_history_add(&h, &s);
    sb_conn_progress(&sb->slots[w], 3000);
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 4000000000;
    snap_history_add(&h, &s);
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(rate, 3000, 0.01);
    /* A new transfer in the same slot starts from scratch. */
    sb_conn_begin(&sb->slots[w], 0, peer(), clock_now_ns());
    sb_conn_progress(&sb->slots[w], 10);
    sb->slots[w].t.start_ns = sb->slots[w].t.req_ns = 2000000000;
    assert_int_equal(snap_take(sb, &s), 0);
    s.taken_ns = 3000000000;
    snap_transfer_rates(&h, &s, 0, &rate, &avg);
    assert_float_equal(avg, 10, 0.01);
    assert_float_equal(rate, 10, 0.01);
    snap_history_free(&h);
    snap_free(&s);
    sb_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals_are_reaped_plus_live),
        cmocka_unit_test(test_torn_slot_is_reported),
        cmocka_unit_test(test_rates_over_windows),
        cmocka_unit_test(test_rate_with_short_history),
        cmocka_unit_test(test_transfer_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
