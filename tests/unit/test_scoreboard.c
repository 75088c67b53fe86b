/* Unit tests for common/scoreboard: allocation, the limit, counter
 * folding on reap, the duration histogram, and the sequence lock, raced
 * by a writer process against a reader. */
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

static void test_claim_until_full(void **state)
{
    struct scoreboard *sb = sb_create(4);

    (void)state;
    assert_non_null(sb);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sb_claim(sb), i);
        assert_int_equal(sb->slots[i].state, SB_STARTING);
    }
    assert_int_equal(sb_in_use(sb), 4);
    assert_int_equal(sb_claim(sb), -ENOSPC);
    sb_release(sb, 2, SB_EXIT_CLEAN);
    assert_int_equal(sb_in_use(sb), 3);
    assert_int_equal(sb_claim(sb), 2); /* the freed slot is reused */
    assert_int_equal(sb_claim(sb), -ENOSPC);
    sb_destroy(sb);
}

static void test_generation_bumps(void **state)
{
    struct scoreboard *sb = sb_create(1);
    uint32_t g;

    (void)state;
    assert_int_equal(sb_claim(sb), 0);
    g = sb->slots[0].generation;
    sb_release(sb, 0, SB_EXIT_CLEAN);
    assert_int_equal(sb->slots[0].state, SB_EMPTY);
    assert_int_equal(sb_claim(sb), 0);
    assert_int_equal(sb->slots[0].generation, g + 1);
    sb_unclaim(sb, 0);
    assert_int_equal(sb->reaped.worker_exits, 1); /* unclaim is not an exit */
    sb_destroy(sb);
}

static void test_create_rejects_zero(void **state)
{
    (void)state;
    assert_null(sb_create(0));
    assert_int_equal(errno, EINVAL);
}

/* A worker's counters survive its reap: totals before == totals after. */
static void test_fold_on_reap(void **state)
{
    struct scoreboard *sb = sb_create(3);
    struct sb_totals before, after;
    int a = sb_claim(sb), b = sb_claim(sb);

    (void)state;
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    sb_conn_begin(&sb->slots[a], 0, peer_v4(1), clock_now_ns());
    sb_req_answer(&sb->slots[a], SB_OUT_OK, "f", 10, SB_WAITING);
    sb_conn_progress(&sb->slots[a], 6);
    sb_conn_progress(&sb->slots[a], 4);
    sb_conn_begin(&sb->slots[b], 0, peer_v4(2), clock_now_ns());
    sb_req_answer(&sb->slots[b], SB_OUT_CLIENT_ERROR, NULL, 0, SB_CLOSING);
    sb_conn_begin(&sb->slots[b], 0, peer_v4(3), clock_now_ns()); /* closed before a request */

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
    /* A worker the master killed on purpose is a kill, not a crash. */
    a = sb_claim(sb);
    sb_release(sb, a, SB_EXIT_KILLED);
    assert_int_equal(sb_totals(sb, &after), 0);
    assert_int_equal(after.worker_exits, 3);
    assert_int_equal(after.crashes, 1);
    assert_int_equal(after.kills, 1);
    sb_destroy(sb);
}

/* Each connection lands in the first bucket whose bound it does not
 * exceed; the sum adds up; the answer moves the state to WAITING. */
static void test_duration_histogram(void **state)
{
    struct scoreboard *sb = sb_create(1);
    int s = sb_claim(sb);
    int64_t t0 = 1000000000;
    struct sb_slot copy;

    (void)state;
    sb_worker_start(&sb->slots[s], 1);
    sb_conn_begin(&sb->slots[s], 0, peer_v4(1), t0);
    sb_conn_received(&sb->slots[s], 3);
    assert_int_equal(sb->slots[s].state, SB_READING);
    sb_req_answer(&sb->slots[s], SB_OUT_OK, "f", 1, SB_WAITING);
    assert_int_equal(sb->slots[s].state, SB_WAITING);
    sb_conn_end(&sb->slots[s], t0 + 200000); /* 0.2 ms: first bucket */
    sb_conn_begin(&sb->slots[s], 0, peer_v4(1), t0);
    sb_req_answer(&sb->slots[s], SB_OUT_CLIENT_ERROR, NULL, 0, SB_CLOSING);
    assert_int_equal(sb->slots[s].state, SB_CLOSING); /* the state the answer says */
    sb_conn_end(&sb->slots[s], t0 + 1000000000);      /* exactly 1 s: the "1" bucket */
    sb_conn_begin(&sb->slots[s], 0, peer_v4(1), t0);
    sb_conn_end(&sb->slots[s], t0 + 3600LL * 1000000000); /* an hour: +Inf */
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(copy.state, SB_CLOSING);
    assert_int_equal(copy.t.received, 0); /* reset by the last sb_conn_begin */
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
    assert_true(sb_state_busy(SB_SENDING));
    assert_true(sb_state_busy(SB_CLOSING));
    assert_false(sb_state_busy(SB_EXITING));
    assert_string_equal(sb_state_name(SB_WAITING), "waiting");
}

/*
 * The sequence lock under a real race: a forked writer (as a worker is)
 * updates its slot as fast as it can, keeping invariants that a torn copy
 * would break (the target's letter matches the size; the totals equal
 * the listener's row), while this process reads. Every copy sb_read()
 * returns must be whole.
 */
#define RACE_NS 1000000000LL /* one second of racing */

static void race_writer(struct sb_slot *s)
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
        sb_req_answer(s, SB_OUT_OK, x & 1 ? b : a, x & 1 ? 2 : 1, SB_WAITING);
        sb_conn_progress(s, 1);
    }
    _exit(0);
}

/* One read and its checks; counts whole copies and which letter they held. */
static void race_check(struct scoreboard *sb, int s, unsigned *whole, unsigned seen[2])
{
    struct sb_slot copy;

    if (sb_read(sb, s, &copy) < 0)
        return; /* gave up on a busy slot: allowed, never torn */
    (*whole)++;
    if (copy.t.target[0] == '\0')
        return; /* before the first answer */
    assert_int_equal(copy.t.size, copy.t.target[0] == 'a' ? 1 : 2);
    assert_int_equal(copy.t.target[0], copy.t.target[(SB_TARGET_MAX - 1) - 1]);
    /* Written in one section: the totals and the listener's row agree. */
    assert_int_equal(copy.c.bytes, copy.c.listener[0].bytes);
    assert_int_equal(copy.c.requests, copy.c.listener[0].requests[SB_OUT_OK]);
    assert_true(copy.t.sent <= 1); /* reset by each answer, one byte after it */
    seen[copy.t.target[0] == 'b']++;
}

/* --max-conn-per-ip's count: busy connections from one address, the port
 * aside, an IPv4-mapped IPv6 peer counted as its IPv4 address. */
static void test_count_peer(void **state)
{
    struct scoreboard *sb = sb_create(4);
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002)};
    int s[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        s[i] = sb_claim(sb);
        sb_worker_start(&sb->slots[s[i]], 100 + i);
    }
    mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&mapped.sin6_addr.s6_addr[12], "\x7f\x00\x00\x01", 4); /* ::ffff:127.0.0.1 */
    assert_int_equal(sb_count_peer(sb, peer_v4(1)), 0);
    sb_conn_begin(&sb->slots[s[0]], 0, peer_v4(1), clock_now_ns());
    sb_conn_begin(&sb->slots[s[1]], 0, (struct sockaddr *)&mapped, clock_now_ns());
    sb_conn_begin(&sb->slots[s[2]], 0, (struct sockaddr *)&other, clock_now_ns());
    assert_int_equal(sb_count_peer(sb, peer_v4(7)), 2); /* another port, the same address */
    assert_int_equal(sb_count_peer(sb, (struct sockaddr *)&other), 1);
    sb_conn_end(&sb->slots[s[0]], clock_now_ns()); /* closing: no longer counted */
    assert_int_equal(sb_count_peer(sb, peer_v4(1)), 1);
    sb_set_state(&sb->slots[s[1]], SB_IDLE);
    assert_int_equal(sb_count_peer(sb, peer_v4(1)), 0);
    sb_destroy(sb);
}

/* A line a second per address, pool-wide. */
static void test_quiet(void **state)
{
    struct scoreboard *sb = sb_create(1);
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    int64_t t0 = 5000000000;

    (void)state;
    assert_false(sb_quiet(sb, peer_v4(1), t0));                /* the first: log it */
    assert_true(sb_quiet(sb, peer_v4(2), t0 + 500000000));     /* same address, 0.5 s on */
    assert_false(sb_quiet(sb, (struct sockaddr *)&other, t0)); /* another address */
    assert_false(sb_quiet(sb, peer_v4(1), t0 + 1000000000));   /* a second on: again */
    sb_destroy(sb);
}

static void test_seqlock_race(void **state)
{
    struct scoreboard *sb = sb_create(1);
    int s = sb_claim(sb), status;
    unsigned whole = 0, seen[2] = {0, 0};
    int64_t deadline;
    pid_t pid;

    (void)state;
    sb_worker_start(&sb->slots[s], 1);
    sb_conn_begin(&sb->slots[s], 0, peer_v4(1), clock_now_ns());
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        race_writer(&sb->slots[s]); /* never returns; killed below */
    /* Race for a second once the writer runs, and on until both of its
     * names were seen whole (even on one CPU), within 20 s. */
    deadline = clock_now_ns() + 20 * 1000000000LL;
    while (atomic_load(&sb->slots[s].seq) < 4 && clock_now_ns() < deadline)
        ;
    for (int64_t end = clock_now_ns() + RACE_NS;
         (clock_now_ns() < end || !seen[0] || !seen[1]) && clock_now_ns() < deadline;)
        race_check(sb, s, &whole, seen);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(whole > 100);                /* reads got through, even against this writer */
    assert_true(seen[0] > 0 && seen[1] > 0); /* the writer really ran */
    sb_destroy(sb);
}

static void test_transfer_fields(void **state)
{
    struct scoreboard *sb = sb_create(1);
    struct sb_slot copy;
    int s = sb_claim(sb);

    (void)state;
    sb_worker_start(&sb->slots[s], 42);
    sb_conn_begin(&sb->slots[s], 0, peer_v4(5555), clock_now_ns());
    sb_req_answer(&sb->slots[s], SB_OUT_OK, "big.iso", 1000, SB_WAITING);
    sb_set_state(&sb->slots[s], SB_SENDING);
    sb_conn_progress(&sb->slots[s], 250);
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(copy.pid, 42);
    assert_int_equal(copy.state, SB_SENDING);
    assert_int_equal(copy.t.peer.sa.sa_family, AF_INET);
    assert_int_equal(ntohs(copy.t.peer.in.sin_port), 5555);
    assert_string_equal(copy.t.target, "big.iso");
    assert_int_equal(copy.t.size, 1000);
    assert_int_equal(copy.t.sent, 250);
    assert_true(copy.t.progress_ns >= copy.t.start_ns);
    /* A new connection starts a fresh transfer but keeps the counters. */
    sb_conn_begin(&sb->slots[s], 0, peer_v4(6666), clock_now_ns());
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(copy.t.sent, 0);
    assert_string_equal(copy.t.target, "");
    assert_int_equal(copy.c.bytes, 250);
    assert_int_equal(copy.c.connections, 2);
    sb_destroy(sb);
}

/* A writer killed mid-write leaves seq odd: readers give up instead of
 * spinning, and the reap repairs the slot. */
static void test_torn_slot(void **state)
{
    struct scoreboard *sb = sb_create(1);
    struct sb_totals t;
    struct sb_slot copy;
    int s = sb_claim(sb);

    (void)state;
    atomic_fetch_add(&sb->slots[s].seq, 1);
    assert_int_equal(sb_read(sb, s, &copy), -EAGAIN);
    assert_int_equal(sb_totals(sb, &t), -EAGAIN);
    sb_release(sb, s, SB_EXIT_CRASH);
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(sb_totals(sb, &t), 0);
    sb_destroy(sb);
}

/* The map is shared: a forked child's writes are what the parent reads. */
static void test_shared_across_fork(void **state)
{
    struct scoreboard *sb = sb_create(2);
    int s = sb_claim(sb), status;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sb_worker_start(&sb->slots[s], getpid());
        sb_conn_begin(&sb->slots[s], 0, peer_v4(7), clock_now_ns());
        sb_conn_progress(&sb->slots[s], 77);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(sb->slots[s].pid, pid);
    assert_int_equal(sb->slots[s].c.bytes, 77);
    sb_destroy(sb);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(sb_state_name(SB_IDLE), "idle");
    assert_string_equal(sb_state_name(SB_SENDING), "sending");
    assert_string_equal(sb_state_name(SB_STATE_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_until_full),
        cmocka_unit_test(test_generation_bumps),
        cmocka_unit_test(test_create_rejects_zero),
        cmocka_unit_test(test_fold_on_reap),
        cmocka_unit_test(test_transfer_fields),
        cmocka_unit_test(test_torn_slot),
        cmocka_unit_test(test_shared_across_fork),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_duration_histogram),
        cmocka_unit_test(test_busy_states),
        cmocka_unit_test(test_seqlock_race),
        cmocka_unit_test(test_count_peer),
        cmocka_unit_test(test_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
