/* Unit tests for common/scoreboard: allocation, the limit, counter
 * folding on reap, the duration histogram, the connection records beneath
 * each slot (independent, bounded by conn_hi, freed on reap), and the
 * sequence locks, raced by a writer process against a reader. */
#include "common/scoreboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* A loopback address and port, as a worker would pass from accept(). */
static const struct sockaddr *peer_v4(uint16_t port)
{
    static struct sockaddr_in sin;

    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return (const struct sockaddr *)&sin;
}

/* ::ffff:127.0.0.1, as a dual-stack listener reports an IPv4 client. */
static const struct sockaddr *peer_mapped(uint16_t port)
{
    static struct sockaddr_in6 sin6;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    sin6.sin6_addr.s6_addr[10] = sin6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6.sin6_addr.s6_addr[12], "\x7f\x00\x00\x01", 4);
    return (const struct sockaddr *)&sin6;
}

/* Record k of slot s opens a connection on listener from peer at now. */
static struct sb_conn *begin(struct scoreboard *sb, int s, uint32_t k, unsigned listener,
                             const struct sockaddr *peer, int64_t now)
{
    struct sb_conn *r = sb_rec(sb, s, k);

    sb_conn_begin(&sb->slots[s], r, k, listener, peer, now);
    return r;
}

/* A copy of slot s, which must be readable. */
static struct sb_slot slot_copy(const struct scoreboard *sb, int s)
{
    struct sb_slot copy;

    assert_int_equal(sb_read(sb, s, &copy), 0);
    return copy;
}

/* A copy of a record, which must be readable. */
static struct sb_conn rec_copy(const struct sb_conn *r)
{
    struct sb_conn copy;

    assert_int_equal(sb_read_conn(r, &copy), 0);
    return copy;
}

static void test_claim_until_full(void **state)
{
    struct scoreboard *sb = sb_create(4, 1);

    (void)state;
    assert_non_null(sb);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sb_claim(sb, SB_KIND_WORKER), i);
        assert_int_equal(sb->slots[i].state, SB_STARTING);
    }
    assert_int_equal(sb_in_use(sb), 4);
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), -ENOSPC);
    sb_release(sb, 2, SB_EXIT_CLEAN);
    assert_int_equal(sb_in_use(sb), 3);
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), 2); /* the freed slot is reused */
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), -ENOSPC);
    sb_destroy(sb);
}

static void test_generation_bumps(void **state)
{
    struct scoreboard *sb = sb_create(1, 1);
    uint32_t g;

    (void)state;
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), 0);
    g = sb->slots[0].generation;
    sb_release(sb, 0, SB_EXIT_CLEAN);
    assert_int_equal(sb->slots[0].state, SB_EMPTY);
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), 0);
    assert_int_equal(sb->slots[0].generation, g + 1);
    sb_unclaim(sb, 0);
    assert_int_equal(sb->reaped.worker_exits, 1); /* unclaim is not an exit */
    sb_destroy(sb);
}

static void test_create_rejects_zero(void **state)
{
    struct scoreboard *sb;

    (void)state;
    errno = 0;
    assert_null(sb_create(0, 1));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(sb_create(1, 0)); /* a slot holds at least one connection */
    assert_int_equal(errno, EINVAL);
    /* The records lie past the slots, each on its own cache lines, and
     * the last one ends inside the map. */
    sb = sb_create(3, 5);
    assert_non_null(sb);
    assert_int_equal(sb->conns_per_slot, 5);
    assert_true(sb->conn_off >= sizeof(*sb) + 3 * sizeof(struct sb_slot));
    assert_int_equal((uintptr_t)sb_rec(sb, 0, 0) % 64, 0);
    assert_ptr_equal(sb_rec(sb, 1, 0), sb_rec(sb, 0, 4) + 1);
    assert_true((char *)(sb_rec(sb, 2, 4) + 1) <= (char *)sb + sb->map_len);
    sb_destroy(sb);
}

/* A worker's counters survive its reap: totals before == totals after. */
static void test_fold_on_reap(void **state)
{
    struct scoreboard *sb = sb_create(3, 2);
    struct sb_totals before, after;
    int a = sb_claim(sb, SB_KIND_WORKER), b = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r;

    (void)state;
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    r = begin(sb, a, 0, 0, peer_v4(1), clock_now_ns());
    sb_req_answer(&sb->slots[a], r, SB_OUT_OK, "f", 10, SB_WAITING);
    sb_conn_progress(&sb->slots[a], r, 6);
    sb_conn_progress(&sb->slots[a], r, 4);
    r = begin(sb, b, 0, 0, peer_v4(2), clock_now_ns());
    sb_req_answer(&sb->slots[b], r, SB_OUT_CLIENT_ERROR, NULL, 0, SB_CLOSING);
    sb_conn_end(&sb->slots[b], r, clock_now_ns());
    begin(sb, b, 1, 0, peer_v4(3), clock_now_ns()); /* still open, before a request */

    assert_int_equal(sb_totals(sb, &before), 0);
    assert_int_equal(before.c.connections, 3);
    assert_int_equal(before.c.requests, 2);
    assert_int_equal(before.c.bytes, 10);
    assert_int_equal(before.c.listener[0].requests[SB_OUT_OK], 1);
    assert_int_equal(before.c.listener[0].requests[SB_OUT_CLIENT_ERROR], 1);

    sb_release(sb, a, SB_EXIT_CLEAN);
    sb_release(sb, b, SB_EXIT_CRASH);
    assert_int_equal(sb_totals(sb, &after), 0);
    assert_memory_equal(&before.c, &after.c, sizeof(before.c));
    assert_int_equal(after.worker_exits, 2);
    assert_int_equal(after.crashes, 1);
    assert_int_equal(after.kills, 0);
    assert_int_equal(sb_in_use(sb), 0);
    /* The reap freed the records the workers held. */
    for (uint32_t k = 0; k < 2; k++) {
        assert_int_equal(rec_copy(sb_rec(sb, a, k)).state, SB_EMPTY);
        assert_int_equal(rec_copy(sb_rec(sb, b, k)).state, SB_EMPTY);
    }
    assert_int_equal(sb->slots[b].conns, 0);
    assert_int_equal(sb->slots[b].conn_hi, 0);
    /* A worker the master killed on purpose is a kill, not a crash. */
    a = sb_claim(sb, SB_KIND_WORKER);
    sb_release(sb, a, SB_EXIT_KILLED);
    assert_int_equal(sb_totals(sb, &after), 0);
    assert_int_equal(after.worker_exits, 3);
    assert_int_equal(after.crashes, 1);
    assert_int_equal(after.kills, 1);
    sb_destroy(sb);
}

/* Each connection lands in the first bucket whose bound it does not
 * exceed; the sum adds up; the answer moves the record to the state it
 * says, and the end frees the record and idles the slot. */
static void test_duration_histogram(void **state)
{
    struct scoreboard *sb = sb_create(1, 1);
    int s = sb_claim(sb, SB_KIND_WORKER);
    int64_t t0 = 1000000000;
    struct sb_conn *r;
    struct sb_slot copy;

    (void)state;
    sb_worker_start(&sb->slots[s], 1);
    r = begin(sb, s, 0, 0, peer_v4(1), t0);
    sb_conn_received(r, 3);
    assert_int_equal(r->state, SB_READING);
    assert_int_equal(r->received, 3);
    assert_int_equal(sb->slots[s].state, SB_BUSY);
    sb_req_answer(&sb->slots[s], r, SB_OUT_OK, "f", 1, SB_WAITING);
    assert_int_equal(r->state, SB_WAITING);
    assert_int_equal(sb->slots[s].state, SB_BUSY);
    sb_conn_end(&sb->slots[s], r, t0 + 200000); /* 0.2 ms: first bucket */
    assert_int_equal(r->state, SB_EMPTY);
    assert_int_equal(sb->slots[s].state, SB_IDLE);
    begin(sb, s, 0, 0, peer_v4(1), t0);
    assert_int_equal(rec_copy(r).received, 0); /* reset by sb_conn_begin */
    sb_req_answer(&sb->slots[s], r, SB_OUT_CLIENT_ERROR, NULL, 0, SB_CLOSING);
    assert_int_equal(r->state, SB_CLOSING);         /* the state the answer says */
    sb_conn_end(&sb->slots[s], r, t0 + 1000000000); /* exactly 1 s: the "1" bucket */
    begin(sb, s, 0, 0, peer_v4(1), t0);
    sb_conn_end(&sb->slots[s], r, t0 + 3600LL * 1000000000); /* an hour: +Inf */
    copy = slot_copy(sb, s);
    assert_int_equal(copy.state, SB_IDLE);
    assert_int_equal(copy.conns, 0);
    assert_int_equal(rec_copy(r).state, SB_EMPTY);
    assert_int_equal(copy.c.duration[0], 1);
    for (int b = 0; b < SB_DURATION_BUCKETS - 1; b++) {
        if (sb_duration_bounds[b] == 1.0)
            assert_int_equal(copy.c.duration[b], 1);
    }
    assert_int_equal(copy.c.duration[SB_DURATION_BUCKETS - 1], 1);
    assert_int_equal(copy.c.duration_ns, 200000 + 1000000000ULL + 3600ULL * 1000000000);
    sb_destroy(sb);
}

static void test_busy_states(void **state)
{
    (void)state;
    assert_false(sb_state_busy(SB_EMPTY));
    assert_false(sb_state_busy(SB_STARTING));
    assert_false(sb_state_busy(SB_IDLE));
    assert_true(sb_state_busy(SB_READING));
    assert_true(sb_state_busy(SB_WAITING));
    assert_true(sb_state_busy(SB_KEEPALIVE));
    assert_true(sb_state_busy(SB_SENDING));
    assert_true(sb_state_busy(SB_CLOSING));
    assert_false(sb_state_busy(SB_EXITING));
    /* A process's BUSY is not a connection's state. */
    assert_false(sb_state_busy(SB_BUSY));
    assert_false(sb_state_busy(SB_STATE_COUNT));
    assert_string_equal(sb_state_name(SB_WAITING), "waiting");
}

/*
 * The sequence locks under a real race: a forked writer (as a worker is)
 * updates its slot and one of its records as fast as it can, keeping
 * invariants that a torn copy would break (the record's target letter
 * matches its size; the slot's totals equal the listener's row), while
 * this process reads both. Every copy sb_read() and sb_read_conn() return
 * must be whole.
 */
#define RACE_NS     1000000000LL /* one second of racing */
#define RACE_GAP_NS 200          /* between two rounds of the writer's updates */

static void race_writer(struct sb_slot *s, struct sb_conn *r)
{
    int64_t deadline = clock_now_ns() + 30 * 1000000000LL;
    char a[(SB_TARGET_MAX - 1) + 1], b[(SB_TARGET_MAX - 1) + 1];

    memset(a, 'a', (SB_TARGET_MAX - 1));
    memset(b, 'b', (SB_TARGET_MAX - 1));
    a[(SB_TARGET_MAX - 1)] = b[(SB_TARGET_MAX - 1)] = '\0';
    /* Dies with the test, even one that failed before killing it; and
     * gives up by itself after 30 s in any case. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The letter is picked at random (xorshift), not by turns: a reader
     * that wakes at regular intervals could otherwise fall in step with the
     * writer and only ever find one of them. */
    for (uint64_t i = 0, x = 88172645463325252ULL; (i & 0xffff) != 0 || clock_now_ns() < deadline;
         i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sb_req_answer(s, r, SB_OUT_OK, x & 1 ? b : a, x & 1 ? 2 : 1, SB_WAITING);
        sb_conn_progress(s, r, 1);
        /* A breath between updates, as a worker's system calls give: a
         * writer whose sections follow each other with no gap at all
         * starves a reader for many milliseconds at a time (the copy
         * never fits between two sections), which says nothing about
         * torn copies and made the count of whole ones a matter of luck. */
        for (int64_t until = clock_now_ns() + RACE_GAP_NS; clock_now_ns() < until;)
            ;
    }
    _exit(0);
}

struct race_tally {
    unsigned slots, recs; /* whole copies of each */
    unsigned seen[2];     /* records holding 'a', 'b' */
};

/* One read of each and their checks. */
static void race_check(struct scoreboard *sb, int s, struct race_tally *t)
{
    struct sb_slot copy;
    struct sb_conn rc;

    if (sb_read(sb, s, &copy) == 0) { /* else gave up on a busy slot: allowed, never torn */
        t->slots++;
        /* Written in one section: the totals and the listener's row agree. */
        assert_int_equal(copy.c.bytes, copy.c.listener[0].bytes);
        assert_int_equal(copy.c.requests, copy.c.listener[0].requests[SB_OUT_OK]);
        assert_int_equal(copy.state, SB_BUSY);
    }
    if (sb_read_conn(sb_rec(sb, s, 0), &rc) < 0)
        return;
    t->recs++;
    assert_int_equal(rc.state, rc.target[0] == '\0' ? SB_READING : SB_WAITING);
    if (rc.target[0] == '\0')
        return; /* before the first answer */
    assert_int_equal(rc.size, rc.target[0] == 'a' ? 1 : 2);
    assert_int_equal(rc.target[0], rc.target[(SB_TARGET_MAX - 1) - 1]);
    assert_int_equal(rc.target[SB_TARGET_MAX - 1], '\0');
    assert_true(rc.sent <= 1); /* reset by each answer, one byte after it */
    assert_true(rc.requests > 0);
    t->seen[rc.target[0] == 'b']++;
}

static void test_seqlock_race(void **state)
{
    struct scoreboard *sb = sb_create(1, 2);
    int s = sb_claim(sb, SB_KIND_WORKER), status;
    struct race_tally t = {0};
    int64_t deadline;
    pid_t pid;

    (void)state;
    sb_worker_start(&sb->slots[s], 1);
    begin(sb, s, 0, 0, peer_v4(1), clock_now_ns());
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        race_writer(&sb->slots[s], sb_rec(sb, s, 0)); /* never returns; killed below */
    /* Race for a second once the writer runs, and on until both of its
     * names were seen whole (even on one CPU), within 20 s. */
    deadline = clock_now_ns() + 20 * 1000000000LL;
    while (atomic_load(&sb_rec(sb, s, 0)->seq) < 4 && clock_now_ns() < deadline)
        ;
    for (int64_t end = clock_now_ns() + RACE_NS;
         (clock_now_ns() < end || !t.seen[0] || !t.seen[1]) && clock_now_ns() < deadline;)
        race_check(sb, s, &t);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(t.slots > 100); /* reads got through, even against this writer */
    assert_true(t.recs > 100);
    assert_true(t.seen[0] > 0 && t.seen[1] > 0); /* the writer really ran */
    /* The record the writer did not hold was never written. */
    assert_int_equal(atomic_load(&sb_rec(sb, s, 1)->seq), 0);
    assert_int_equal(sb_rec(sb, s, 1)->state, SB_EMPTY);
    sb_destroy(sb);
}

/* --max-conn-per-ip's count: busy connections from one address, the port
 * aside, an IPv4-mapped IPv6 peer counted as its IPv4 address. */
static void test_count_peer(void **state)
{
    struct scoreboard *sb = sb_create(4, 1);
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002)};
    struct sb_conn *r0, *r1;
    int s[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        s[i] = sb_claim(sb, SB_KIND_WORKER);
        sb_worker_start(&sb->slots[s[i]], 100 + i);
    }
    assert_int_equal(sb_count_peer(sb, peer_v4(1)), 0);
    r0 = begin(sb, s[0], 0, 0, peer_v4(1), clock_now_ns());
    r1 = begin(sb, s[1], 0, 0, peer_mapped(9), clock_now_ns());
    begin(sb, s[2], 0, 0, (struct sockaddr *)&other, clock_now_ns());
    assert_int_equal(sb_count_peer(sb, peer_v4(7)), 2); /* another port, the same address */
    assert_int_equal(sb_count_peer(sb, peer_mapped(7)), 2);
    assert_int_equal(sb_count_peer(sb, (struct sockaddr *)&other), 1);
    sb_conn_end(&sb->slots[s[0]], r0, clock_now_ns()); /* closed: no longer counted */
    assert_int_equal(sb_count_peer(sb, peer_v4(1)), 1);
    sb_conn_state(r1, SB_CLOSING); /* closing: no longer counted either */
    assert_int_equal(sb_count_peer(sb, peer_v4(1)), 0);
    sb_destroy(sb);
}

/* The same over several records of several slots: each open record from
 * the address counts once, wherever it lies; free and closing ones do
 * not. */
static void test_count_peer_across_records(void **state)
{
    struct scoreboard *sb = sb_create(3, 4);
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sb_conn *r;
    int64_t now = clock_now_ns();

    (void)state;
    for (int i = 0; i < 3; i++)
        sb_worker_start(&sb->slots[sb_claim(sb, SB_KIND_WORKER)], 100 + i);
    /* Slot 0: 127.0.0.1 twice (once v4-mapped) and another address. */
    begin(sb, 0, 0, 0, peer_v4(1), now);
    begin(sb, 0, 1, 0, (struct sockaddr *)&other, now);
    begin(sb, 0, 2, 1, peer_mapped(2), now);
    /* Slot 1: 127.0.0.1 closing, then freed, then open in the last record. */
    r = begin(sb, 1, 0, 0, peer_v4(3), now);
    sb_conn_state(r, SB_CLOSING);
    r = begin(sb, 1, 1, 0, peer_v4(4), now);
    sb_conn_end(&sb->slots[1], r, now);
    r = begin(sb, 1, 3, 0, peer_v4(5), now);
    sb_req_answer(&sb->slots[1], r, SB_OUT_OK, "f", 1, SB_SENDING);
    /* Slot 2: ::1, which is not 127.0.0.1. */
    begin(sb, 2, 0, 1, (struct sockaddr *)&v6, now);

    assert_int_equal(sb_count_peer(sb, peer_v4(80)), 3);
    assert_int_equal(sb_count_peer(sb, peer_mapped(80)), 3);
    assert_int_equal(sb_count_peer(sb, (struct sockaddr *)&other), 1);
    assert_int_equal(sb_count_peer(sb, (struct sockaddr *)&v6), 1);
    /* Keep-alive and waiting connections are open: counted. */
    sb_req_next(r, SB_KEEPALIVE);
    sb_req_answer(&sb->slots[0], sb_rec(sb, 0, 0), SB_OUT_OK, "g", 1, SB_WAITING);
    assert_int_equal(sb_count_peer(sb, peer_v4(80)), 3);
    /* The closing one reopened as another connection from the address. */
    sb_conn_end(&sb->slots[1], sb_rec(sb, 1, 0), now);
    begin(sb, 1, 0, 0, peer_v4(6), now);
    assert_int_equal(sb_count_peer(sb, peer_v4(80)), 4);
    sb_destroy(sb);
}

/* A line a second per address, pool-wide. */
static void test_quiet(void **state)
{
    struct scoreboard *sb = sb_create(1, 1);
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    int64_t t0 = 5000000000;

    (void)state;
    assert_false(sb_quiet(sb, peer_v4(1), t0));                /* the first: log it */
    assert_true(sb_quiet(sb, peer_v4(2), t0 + 500000000));     /* same address, 0.5 s on */
    assert_false(sb_quiet(sb, (struct sockaddr *)&other, t0)); /* another address */
    assert_false(sb_quiet(sb, peer_v4(1), t0 + 1000000000));   /* a second on: again */
    sb_destroy(sb);
}

static void test_transfer_fields(void **state)
{
    struct scoreboard *sb = sb_create(1, 1);
    struct sb_slot copy;
    struct sb_conn rc, *r;
    int s = sb_claim(sb, SB_KIND_WORKER);

    (void)state;
    sb_worker_start(&sb->slots[s], 42);
    r = begin(sb, s, 0, 1, peer_v4(5555), clock_now_ns());
    sb_req_answer(&sb->slots[s], r, SB_OUT_OK, "big.iso", 1000, SB_WAITING);
    sb_conn_state(r, SB_SENDING);
    sb_conn_progress(&sb->slots[s], r, 250);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.pid, 42);
    assert_int_equal(copy.state, SB_BUSY);
    assert_int_equal(copy.conns, 1);
    rc = rec_copy(r);
    assert_int_equal(rc.state, SB_SENDING);
    assert_int_equal(rc.listener, 1);
    assert_int_equal(rc.peer.sa.sa_family, AF_INET);
    assert_int_equal(ntohs(rc.peer.in.sin_port), 5555);
    assert_string_equal(rc.target, "big.iso");
    assert_int_equal(rc.size, 1000);
    assert_int_equal(rc.sent, 250);
    assert_int_equal(rc.requests, 1);
    assert_true(rc.progress_ns >= rc.start_ns);
    assert_true(rc.req_ns >= rc.start_ns);
    /* A new connection in the record starts a fresh transfer, and forgets
     * the watchdog's request to cut the old one; the slot keeps the
     * counters. */
    atomic_store(&r->cut_ns, rc.start_ns);
    sb_conn_end(&sb->slots[s], r, clock_now_ns());
    begin(sb, s, 0, 0, peer_mapped(6666), clock_now_ns());
    rc = rec_copy(r);
    assert_int_equal(rc.state, SB_READING);
    assert_int_equal(rc.sent, 0);
    assert_int_equal(rc.size, 0);
    assert_int_equal(rc.requests, 0);
    assert_int_equal(rc.listener, 0);
    assert_string_equal(rc.target, "");
    assert_int_equal(atomic_load(&rc.cut_ns), 0);
    assert_int_equal(rc.peer.sa.sa_family, AF_INET6);
    assert_int_equal(ntohs(rc.peer.in6.sin6_port), 6666);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.c.bytes, 250);
    assert_int_equal(copy.c.listener[1].bytes, 250);
    assert_int_equal(copy.c.connections, 2);
    sb_destroy(sb);
}

/* Two connections of one process, in two records, each written in its
 * own sections: one's answer, progress, state and end leave the other as
 * it was. */
static void test_two_records_independent(void **state)
{
    struct scoreboard *sb = sb_create(2, 4);
    struct sockaddr_in6 v6 = {
        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(2222)};
    struct sb_conn *r0, *r1, c0, c1, before;
    int s = sb_claim(sb, SB_KIND_WORKER);

    (void)state;
    sb_worker_start(&sb->slots[s], 7);
    r0 = begin(sb, s, 0, 0, peer_v4(1111), 1000);
    r1 = begin(sb, s, 1, 1, (struct sockaddr *)&v6, 2000);
    sb_conn_received(r1, 17);
    sb_req_answer(&sb->slots[s], r0, SB_OUT_OK, "/a", 10, SB_SENDING);
    sb_conn_progress(&sb->slots[s], r0, 3);
    sb_req_answer(&sb->slots[s], r1, SB_OUT_REDIRECT, "/b", 20, SB_WAITING);
    sb_conn_progress(&sb->slots[s], r1, 7);
    sb_conn_progress(&sb->slots[s], r0, 4);
    c0 = rec_copy(r0);
    c1 = rec_copy(r1);
    assert_int_equal(c0.state, SB_SENDING);
    assert_int_equal(c0.listener, 0);
    assert_int_equal(ntohs(c0.peer.in.sin_port), 1111);
    assert_string_equal(c0.target, "/a");
    assert_int_equal(c0.size, 10);
    assert_int_equal(c0.sent, 7);
    assert_int_equal(c0.received, 0);
    assert_int_equal(c0.requests, 1);
    assert_int_equal(c0.start_ns, 1000);
    assert_int_equal(c1.state, SB_WAITING);
    assert_int_equal(c1.listener, 1);
    assert_int_equal(c1.peer.sa.sa_family, AF_INET6);
    assert_int_equal(ntohs(c1.peer.in6.sin6_port), 2222);
    assert_string_equal(c1.target, "/b");
    assert_int_equal(c1.size, 20);
    assert_int_equal(c1.sent, 7);
    assert_int_equal(c1.received, 17);
    assert_int_equal(c1.requests, 1);
    assert_int_equal(c1.start_ns, 2000);
    /* Every change to r1 leaves r0's bytes, its lock included, alone. */
    memcpy(&before, r0, sizeof(before));
    sb_conn_state(r1, SB_SENDING);
    sb_req_next(r1, SB_KEEPALIVE);
    sb_conn_received(r1, 5);
    assert_int_equal(rec_copy(r1).state, SB_READING);
    assert_memory_equal(&before, r0, sizeof(before));
    /* The other slot's records were not touched at all. */
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(atomic_load(&sb_rec(sb, 1, k)->seq), 0);
    /* r0 ends: r1 is open still, as it was. */
    memcpy(&before, r1, sizeof(before));
    sb_conn_end(&sb->slots[s], r0, 5000);
    assert_int_equal(rec_copy(r0).state, SB_EMPTY);
    assert_memory_equal(&before, r1, sizeof(before));
    assert_int_equal(slot_copy(sb, s).conns, 1);
    assert_int_equal(slot_copy(sb, s).state, SB_BUSY);
    sb_destroy(sb);
}

/* conn_hi grows to one past the highest record ever used, never shrinks
 * while the worker lives, and bounds what readers scan and what the reap
 * clears: records at or above it are not touched. */
static void test_conn_hi_and_release(void **state)
{
    struct scoreboard *sb = sb_create(2, 8);
    int s = sb_claim(sb, SB_KIND_WORKER), t = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r;
    int64_t now = clock_now_ns();

    (void)state;
    sb_worker_start(&sb->slots[s], 10);
    sb_worker_start(&sb->slots[t], 11);
    assert_int_equal(sb->slots[s].conn_hi, 0);
    begin(sb, s, 0, 0, peer_v4(1), now);
    assert_int_equal(sb->slots[s].conn_hi, 1);
    r = begin(sb, s, 2, 0, peer_v4(2), now); /* record 1 skipped */
    assert_int_equal(sb->slots[s].conn_hi, 3);
    sb_conn_end(&sb->slots[s], r, now);
    assert_int_equal(sb->slots[s].conn_hi, 3); /* an end does not lower it */
    begin(sb, s, 1, 0, peer_v4(3), now);
    assert_int_equal(sb->slots[s].conn_hi, 3); /* nor does a lower record */
    begin(sb, t, 0, 0, peer_v4(4), now);
    assert_int_equal(sb->slots[t].conn_hi, 1);

    /* A record at conn_hi or above, written behind the scoreboard's back,
     * is not scanned: a reader never looks there. */
    memset(sb_rec(sb, s, 3), 0xa5, sizeof(struct sb_conn));
    sb_rec(sb, s, 3)->seq = 0;
    sb_rec(sb, s, 3)->state = SB_READING;
    memcpy(&sb_rec(sb, s, 3)->peer, peer_v4(5), sizeof(struct sockaddr_in));
    sb_rec(sb, s, 7)->target[0] = 'M';
    memset(sb_rec(sb, s, 4), 0x5a, sizeof(struct sb_conn));
    assert_int_equal(sb_count_peer(sb, peer_v4(80)), 3); /* 0, 1 of s and 0 of t */

    sb_release(sb, s, SB_EXIT_CRASH);
    /* Exactly the records below conn_hi and the one at it (a worker killed
     * inside its first write there left it half-written) were cleared... */
    for (uint32_t k = 0; k < 4; k++) {
        const unsigned char *p = (const unsigned char *)sb_rec(sb, s, k);

        for (size_t i = 0; i < sizeof(struct sb_conn); i++) {
            if (p[i] != 0)
                fail_msg("record %u byte %zu is %u after the reap", k, i, p[i]);
        }
    }
    /* ...and the ones above it and the next slot's records are as they
     * were. */
    assert_int_equal(((const unsigned char *)sb_rec(sb, s, 4))[sizeof(struct sb_conn) - 1], 0x5a);
    assert_int_equal(sb_rec(sb, s, 7)->target[0], 'M');
    assert_int_equal(rec_copy(sb_rec(sb, t, 0)).state, SB_READING);
    assert_int_equal(ntohs(sb_rec(sb, t, 0)->peer.in.sin_port), 4);
    assert_int_equal(sb->slots[s].conn_hi, 0);
    assert_int_equal(sb->slots[s].conns, 0);
    assert_int_equal(sb_count_peer(sb, peer_v4(80)), 1); /* t's alone */
    sb_destroy(sb);
}

/* A process is BUSY from its first connection on, and IDLE again only
 * when its last one ends; an exiting one stays EXITING. */
static void test_busy_until_last_conn(void **state)
{
    struct scoreboard *sb = sb_create(1, 3);
    int s = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r0, *r1, *r2;
    struct sb_slot copy;

    (void)state;
    sb_worker_start(&sb->slots[s], 9);
    assert_int_equal(slot_copy(sb, s).state, SB_IDLE);
    r0 = begin(sb, s, 0, 0, peer_v4(1), 1000);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.state, SB_BUSY);
    assert_int_equal(copy.conns, 1);
    assert_int_equal(copy.changed_ns, 1000);
    r1 = begin(sb, s, 1, 0, peer_v4(2), 2000);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.conns, 2);
    assert_int_equal(copy.changed_ns, 1000); /* busy since the first */
    sb_conn_end(&sb->slots[s], r0, 3000);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.state, SB_BUSY);
    assert_int_equal(copy.conns, 1);
    r2 = begin(sb, s, 0, 0, peer_v4(3), 3500); /* the freed record is reused */
    assert_int_equal(slot_copy(sb, s).conns, 2);
    sb_conn_end(&sb->slots[s], r1, 4000);
    assert_int_equal(slot_copy(sb, s).state, SB_BUSY);
    sb_conn_end(&sb->slots[s], r2, 5000);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.state, SB_IDLE);
    assert_int_equal(copy.conns, 0);
    assert_int_equal(copy.changed_ns, 5000);
    assert_int_equal(copy.c.connections, 3);
    /* A worker told to leave finishes its connection and stays EXITING. */
    r0 = begin(sb, s, 0, 0, peer_v4(4), 6000);
    sb_set_state(&sb->slots[s], SB_EXITING);
    sb_conn_end(&sb->slots[s], r0, 7000);
    copy = slot_copy(sb, s);
    assert_int_equal(copy.state, SB_EXITING);
    assert_int_equal(copy.conns, 0);
    /* full is the worker's word, apart from its state. */
    sb_set_full(&sb->slots[s], true);
    assert_true(slot_copy(sb, s).full);
    sb_set_full(&sb->slots[s], false);
    assert_false(slot_copy(sb, s).full);
    sb_turn(&sb->slots[s], 12345);
    assert_int_equal(atomic_load(&sb->slots[s].turn_ns), 12345);
    sb_destroy(sb);
}

/* The counters live in the slot: every record's connections, requests
 * (by listener and outcome), bytes and durations add up there, and in
 * the totals. */
static void test_counters_across_records(void **state)
{
    struct scoreboard *sb = sb_create(2, 3);
    int s = sb_claim(sb, SB_KIND_WORKER);
    struct sb_conn *r0, *r1, *r2;
    struct sb_totals tot;
    struct sb_slot copy;
    int64_t t0 = 1000000000;

    (void)state;
    sb_worker_start(&sb->slots[s], 5);
    r0 = begin(sb, s, 0, 0, peer_v4(1), t0);
    r1 = begin(sb, s, 1, 1, peer_v4(2), t0);
    r2 = begin(sb, s, 2, 0, peer_v4(3), t0);
    /* Interleaved, as an event loop serves them. */
    sb_req_answer(&sb->slots[s], r0, SB_OUT_OK, "/a", 100, SB_SENDING);
    sb_req_answer(&sb->slots[s], r1, SB_OUT_REDIRECT, "/b", 0, SB_SENDING);
    sb_conn_progress(&sb->slots[s], r0, 60);
    sb_req_answer(&sb->slots[s], r2, SB_OUT_CLIENT_ERROR, "/c", 5, SB_SENDING);
    sb_conn_progress(&sb->slots[s], r2, 5);
    sb_conn_progress(&sb->slots[s], r0, 40);
    sb_req_next(r1, SB_KEEPALIVE);
    sb_req_answer(&sb->slots[s], r1, SB_OUT_SERVER_ERROR, "/d", 9, SB_SENDING);
    sb_conn_progress(&sb->slots[s], r1, 9);
    sb_req_next(r0, SB_KEEPALIVE);
    sb_req_answer(&sb->slots[s], r0, SB_OUT_OK, "/e", 1, SB_SENDING);
    sb_conn_progress(&sb->slots[s], r0, 1);
    sb_conn_end(&sb->slots[s], r2, t0 + 200000);     /* 0.2 ms */
    sb_conn_end(&sb->slots[s], r1, t0 + 2000000000); /* 2 s */
    sb_conn_end(&sb->slots[s], r0, t0 + 2000000000); /* 2 s */

    copy = slot_copy(sb, s);
    assert_int_equal(copy.c.connections, 3);
    assert_int_equal(copy.c.listener[0].connections, 2);
    assert_int_equal(copy.c.listener[1].connections, 1);
    assert_int_equal(copy.c.requests, 5);
    assert_int_equal(copy.c.listener[0].requests[SB_OUT_OK], 2);
    assert_int_equal(copy.c.listener[0].requests[SB_OUT_CLIENT_ERROR], 1);
    assert_int_equal(copy.c.listener[0].requests[SB_OUT_REDIRECT], 0);
    assert_int_equal(copy.c.listener[0].requests[SB_OUT_SERVER_ERROR], 0);
    assert_int_equal(copy.c.listener[1].requests[SB_OUT_OK], 0);
    assert_int_equal(copy.c.listener[1].requests[SB_OUT_REDIRECT], 1);
    assert_int_equal(copy.c.listener[1].requests[SB_OUT_SERVER_ERROR], 1);
    assert_int_equal(copy.c.bytes, 115);
    assert_int_equal(copy.c.listener[0].bytes, 106);
    assert_int_equal(copy.c.listener[1].bytes, 9);
    assert_int_equal(copy.c.duration[0], 1);
    for (int b = 0; b < SB_DURATION_BUCKETS - 1; b++) {
        if (sb_duration_bounds[b] == 5.0)
            assert_int_equal(copy.c.duration[b], 2); /* 2 s: under le="5" */
    }
    assert_int_equal(copy.c.duration_ns, 200000 + 4000000000ULL);
    /* The records keep only their own connection's figures. */
    assert_int_equal(r1->requests, 2);
    assert_int_equal(r0->requests, 2);
    assert_int_equal(r2->requests, 1);
    /* The totals are the slot's, and stay so once it is reaped. */
    assert_int_equal(sb_totals(sb, &tot), 0);
    assert_memory_equal(&tot.c, &copy.c, sizeof(copy.c));
    sb_release(sb, s, SB_EXIT_CLEAN);
    assert_int_equal(sb_totals(sb, &tot), 0);
    assert_memory_equal(&tot.c, &copy.c, sizeof(copy.c));
    sb_destroy(sb);
}

/* A writer killed mid-write leaves seq odd: readers give up instead of
 * spinning, and the reap repairs the slot and its records. */
static void test_torn_slot(void **state)
{
    struct scoreboard *sb = sb_create(1, 2);
    struct sb_totals t;
    struct sb_slot copy;
    struct sb_conn rc;
    struct sockaddr_in anyone = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a0b0c0d)};
    int s = sb_claim(sb, SB_KIND_WORKER);

    (void)state;
    atomic_fetch_add(&sb->slots[s].seq, 1);
    assert_int_equal(sb_read(sb, s, &copy), -EAGAIN);
    assert_int_equal(sb_totals(sb, &t), -EAGAIN);
    sb_release(sb, s, SB_EXIT_CRASH);
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(sb_totals(sb, &t), 0);
    /* A record left mid-write: unreadable, and counted as a match for any
     * address (a limit errs on refusing). */
    s = sb_claim(sb, SB_KIND_WORKER);
    sb_worker_start(&sb->slots[s], 3);
    begin(sb, s, 1, 0, peer_v4(1), clock_now_ns());
    atomic_fetch_add(&sb_rec(sb, s, 1)->seq, 1);
    assert_int_equal(sb_read_conn(sb_rec(sb, s, 1), &rc), -EAGAIN);
    assert_int_equal(sb_read(sb, s, &copy), 0); /* the slot itself is whole */
    assert_int_equal(sb_count_peer(sb, (struct sockaddr *)&anyone), 1);
    sb_release(sb, s, SB_EXIT_CRASH);
    assert_int_equal(sb_read_conn(sb_rec(sb, s, 1), &rc), 0);
    assert_int_equal(rc.state, SB_EMPTY);
    sb_destroy(sb);
}

/* The map is shared: a forked child's writes are what the parent reads. */
static void test_shared_across_fork(void **state)
{
    struct scoreboard *sb = sb_create(2, 2);
    int s = sb_claim(sb, SB_KIND_WORKER), status;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sb_conn *r;

        sb_worker_start(&sb->slots[s], getpid());
        r = begin(sb, s, 1, 0, peer_v4(7), clock_now_ns());
        sb_req_answer(&sb->slots[s], r, SB_OUT_OK, "shared", 100, SB_SENDING);
        sb_conn_progress(&sb->slots[s], r, 77);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(sb->slots[s].pid, pid);
    assert_int_equal(sb->slots[s].c.bytes, 77);
    assert_int_equal(sb->slots[s].conn_hi, 2);
    assert_int_equal(sb_rec(sb, s, 1)->sent, 77);
    assert_string_equal(sb_rec(sb, s, 1)->target, "shared");
    assert_int_equal(ntohs(sb_rec(sb, s, 1)->peer.in.sin_port), 7);
    sb_destroy(sb);
}

/* A hub's figures, as its process publishes them. */
static struct sb_hub hub_figures(uint64_t base)
{
    return (struct sb_hub){.online = base,
                           .posts = base + 1,
                           .forwards = base + 2,
                           .retransmissions = base + 3,
                           .duplicates = base + 4,
                           .resets_sent = base + 5,
                           .resets_received = base + 6,
                           .rejected = base + 7};
}

/* The claim says what kind of process a slot holds; a hub's figures live
 * in their block, are read whole, count in the totals, and on the hub's
 * reap go on in the reaped totals (its sessions do not) as a hub's exit,
 * never a pool worker's. */
static void test_hub_kind_and_figures(void **state)
{
    struct scoreboard *sb = sb_create(3, 1);
    int w = sb_claim(sb, SB_KIND_WORKER), h = sb_claim(sb, SB_KIND_HUB);
    struct sb_hub f = hub_figures(10), got;
    struct sb_totals t;

    (void)state;
    assert_int_equal(slot_copy(sb, w).kind, SB_KIND_WORKER);
    assert_int_equal(slot_copy(sb, h).kind, SB_KIND_HUB);
    assert_string_equal(sb_kind_name(SB_KIND_HUB), "hub");
    assert_string_equal(sb_kind_name(SB_KIND_WORKER), "worker");
    assert_string_equal(sb_kind_name(SB_KIND_COUNT), "unknown");
    sb_worker_start(&sb->slots[h], 200);
    assert_int_equal(sb_read_hub(sb, &got), 0); /* nothing published yet: zeros */
    assert_int_equal(got.posts, 0);
    sb_hub_publish(&sb->hub, &f);
    assert_int_equal(sb_read_hub(sb, &got), 0);
    assert_memory_equal(&got, &f, sizeof(f));
    assert_int_equal(sb_totals(sb, &t), 0);
    assert_memory_equal(&t.hub, &f, sizeof(f));
    /* A hub killed inside a write: unreadable until its reap repairs it. */
    atomic_fetch_add(&sb->hub.seq, 1);
    assert_int_equal(sb_read_hub(sb, &got), -EAGAIN);
    assert_int_equal(sb_totals(sb, &t), -EAGAIN);
    sb_release(sb, h, SB_EXIT_CRASH);
    assert_int_equal(sb_read_hub(sb, &got), 0);
    assert_int_equal(got.posts, 0);
    assert_int_equal(sb_totals(sb, &t), 0);
    assert_int_equal(t.hub.online, 0); /* its sessions died with it */
    assert_int_equal(t.hub.posts, 11);
    assert_int_equal(t.hub.rejected, 17);
    assert_int_equal(t.hub_exits, 1);
    assert_int_equal(t.hub_crashes, 1);
    assert_int_equal(t.worker_exits, 0);
    assert_int_equal(t.crashes, 0);
    /* Its successor counts on from there; the slot it takes says hub again,
     * and a worker's reap is a worker's exit. */
    h = sb_claim(sb, SB_KIND_HUB);
    assert_int_equal(slot_copy(sb, h).kind, SB_KIND_HUB);
    f = hub_figures(1);
    sb_hub_publish(&sb->hub, &f);
    assert_int_equal(sb_totals(sb, &t), 0);
    assert_int_equal(t.hub.online, 1);
    assert_int_equal(t.hub.posts, 13);
    sb_release(sb, w, SB_EXIT_KILLED);
    sb_release(sb, h, SB_EXIT_CLEAN);
    assert_int_equal(sb_totals(sb, &t), 0);
    assert_int_equal(t.worker_exits, 1);
    assert_int_equal(t.kills, 1);
    assert_int_equal(t.hub_exits, 2);
    assert_int_equal(t.hub_crashes, 1);
    assert_int_equal(t.hub.posts, 13);
    assert_int_equal(t.hub.online, 0);
    /* The kind lives in what was padding: the slot did not grow for it. */
    assert_true(offsetof(struct sb_slot, kind) < offsetof(struct sb_slot, conns));
    sb_destroy(sb);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(sb_state_name(SB_IDLE), "idle");
    assert_string_equal(sb_state_name(SB_SENDING), "sending");
    assert_string_equal(sb_state_name(SB_KEEPALIVE), "keepalive");
    assert_string_equal(sb_state_name(SB_EXITING), "exiting");
    assert_string_equal(sb_state_name(SB_BUSY), "busy");
    assert_string_equal(sb_state_name(SB_STATE_COUNT), "unknown");
    assert_string_equal(sb_outcome_name(SB_OUT_CLIENT_ERROR), "client_error");
    assert_string_equal(sb_outcome_name(SB_OUT_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_until_full),
        cmocka_unit_test(test_generation_bumps),
        cmocka_unit_test(test_create_rejects_zero),
        cmocka_unit_test(test_fold_on_reap),
        cmocka_unit_test(test_transfer_fields),
        cmocka_unit_test(test_two_records_independent),
        cmocka_unit_test(test_conn_hi_and_release),
        cmocka_unit_test(test_busy_until_last_conn),
        cmocka_unit_test(test_counters_across_records),
        cmocka_unit_test(test_torn_slot),
        cmocka_unit_test(test_shared_across_fork),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_duration_histogram),
        cmocka_unit_test(test_busy_states),
        cmocka_unit_test(test_seqlock_race),
        cmocka_unit_test(test_count_peer),
        cmocka_unit_test(test_count_peer_across_records),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_hub_kind_and_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
