/* Unit tests for common/scoreboard: allocation, the limit, counter
 * folding on reap, and the sequence lock's reader. */
#include "common/scoreboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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
    sb_release(sb, 2, false);
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
    sb_release(sb, 0, false);
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
    sb_conn_begin(&sb->slots[a], peer_v4(1));
    sb_conn_answer(&sb->slots[a], WIRE_OK, "f", 10);
    sb_conn_progress(&sb->slots[a], 6);
    sb_conn_progress(&sb->slots[a], 4);
    sb_conn_begin(&sb->slots[b], peer_v4(2));
    sb_conn_answer(&sb->slots[b], WIRE_NOT_FOUND, NULL, 0);
    sb_conn_begin(&sb->slots[b], peer_v4(3)); /* closed before a request */

    assert_int_equal(sb_totals(sb, &before), 0);
    assert_int_equal(before.c.connections, 3);
    assert_int_equal(before.c.requests, 2);
    assert_int_equal(before.c.bytes, 10);
    assert_int_equal(before.c.status[WIRE_OK], 1);
    assert_int_equal(before.c.status[WIRE_NOT_FOUND], 1);

    sb_release(sb, a, false);
    sb_release(sb, b, true);
    assert_int_equal(sb_totals(sb, &after), 0);
    assert_memory_equal(&before.c, &after.c, sizeof(before.c));
    assert_int_equal(after.worker_exits, 2);
    assert_int_equal(after.crashes, 1);
    assert_int_equal(sb_in_use(sb), 0);
    sb_destroy(sb);
}

static void test_transfer_fields(void **state)
{
    struct scoreboard *sb = sb_create(1);
    struct sb_slot copy;
    int s = sb_claim(sb);

    (void)state;
    sb_worker_start(&sb->slots[s], 42);
    sb_conn_begin(&sb->slots[s], peer_v4(5555));
    sb_conn_answer(&sb->slots[s], WIRE_OK, "big.iso", 1000);
    sb_set_state(&sb->slots[s], SB_SENDING);
    sb_conn_progress(&sb->slots[s], 250);
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(copy.pid, 42);
    assert_int_equal(copy.state, SB_SENDING);
    assert_int_equal(copy.t.peer.sa.sa_family, AF_INET);
    assert_int_equal(ntohs(copy.t.peer.in.sin_port), 5555);
    assert_string_equal(copy.t.file, "big.iso");
    assert_int_equal(copy.t.size, 1000);
    assert_int_equal(copy.t.sent, 250);
    assert_true(copy.t.progress_ns >= copy.t.start_ns);
    /* A new connection starts a fresh transfer but keeps the counters. */
    sb_conn_begin(&sb->slots[s], peer_v4(6666));
    assert_int_equal(sb_read(sb, s, &copy), 0);
    assert_int_equal(copy.t.sent, 0);
    assert_string_equal(copy.t.file, "");
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
    sb_release(sb, s, true);
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
        sb_conn_begin(&sb->slots[s], peer_v4(7));
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
        cmocka_unit_test(test_claim_until_full),    cmocka_unit_test(test_generation_bumps),
        cmocka_unit_test(test_create_rejects_zero), cmocka_unit_test(test_fold_on_reap),
        cmocka_unit_test(test_transfer_fields),     cmocka_unit_test(test_torn_slot),
        cmocka_unit_test(test_shared_across_fork),  cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
