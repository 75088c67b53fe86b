/* Unit tests for worker/hub/retx.c: the back-off schedule, acks and their
 * duplicates, which entry is due, the window. */
#include "worker/hub/retx.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define S(x)  ((int64_t)((x)*1000000000.0))
#define HELLO ((const uint8_t *)"<a>hello")

static void test_backoff(void **state)
{
    static const double want[] = {0.5, 1, 2, 4, 4, 4, 4, 4, 4};
    int64_t span = 0;

    (void)state;
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(retx_backoff(i + 1), S(want[i]));
    assert_int_equal(retx_backoff(1000), RETX_CAP_NS);
    for (unsigned i = 1; i <= RETX_TRIES; i++)
        span += retx_backoff(i);
    assert_int_equal(span, RETX_SPAN_NS);
}

/* Sends every due entry at each instant of the schedule and checks the
 * times the one entry went out at, then that it comes due a ninth time
 * (lost) one cap later. */
static void test_schedule(void **state)
{
    static const double sends[] = {0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5};
    struct retx r;
    struct retx_entry *e;

    (void)state;
    retx_init(&r);
    assert_int_equal(retx_next(&r), INT64_MAX);
    assert_int_equal(retx_add(&r, HUB_FORWARD, 7, HELLO, 8, S(100)), 0);
    for (unsigned i = 0; i < RETX_TRIES; i++) {
        int64_t at = S(100 + sends[i]);

        assert_int_equal(retx_next(&r), at);
        assert_null(retx_due(&r, at - 1));
        e = retx_due(&r, at);
        assert_non_null(e);
        assert_int_equal(e->tries, i);
        assert_memory_equal(e->payload, HELLO, 8);
        retx_sent(e, at);
    }
    assert_null(retx_due(&r, S(123.5) - 1));
    e = retx_due(&r, S(123.5));
    assert_non_null(e);
    assert_int_equal(e->tries, RETX_TRIES);
    retx_free(&r);
}

static void test_ack(void **state)
{
    struct retx r;

    (void)state;
    retx_init(&r);
    assert_int_equal(retx_add(&r, HUB_FORWARD, 1, HELLO, 8, 0), 0);
    assert_int_equal(retx_add(&r, HUB_FORWARD, 2, HELLO, 8, 0), 0);
    assert_int_equal(retx_add(&r, HUB_FORWARD, 2, HELLO, 8, 0), -EEXIST);
    assert_int_equal(retx_count(&r), 2);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 3), RETX_UNKNOWN);
    assert_int_equal(retx_ack(&r, HUB_FILE_NOTE, 1), RETX_UNKNOWN); /* sent as a forward */
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 1), RETX_ACKED);
    assert_int_equal(retx_count(&r), 1);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 1), RETX_DUPLICATE);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 2), RETX_ACKED);
    assert_int_equal(retx_count(&r), 0);
    assert_int_equal(retx_next(&r), INT64_MAX);
    retx_free(&r);
}

/* Only the last RETX_RECENT acks count as duplicates. */
static void test_recent_window(void **state)
{
    struct retx r;

    (void)state;
    retx_init(&r);
    for (uint32_t id = 1; id <= RETX_RECENT + 1; id++) {
        assert_int_equal(retx_add(&r, HUB_FORWARD, id, HELLO, 8, 0), 0);
        assert_int_equal(retx_ack(&r, HUB_FORWARD, id), RETX_ACKED);
    }
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 1), RETX_UNKNOWN);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 2), RETX_DUPLICATE);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, RETX_RECENT + 1), RETX_DUPLICATE);
    retx_free(&r);
}

/* Earliest due first; at equal times the one added first; an acked one
 * in the middle keeps the order of the rest. */
static void test_due_order(void **state)
{
    struct retx r;
    struct retx_entry *e;

    (void)state;
    retx_init(&r);
    for (uint32_t id = 10; id < 14; id++)
        assert_int_equal(retx_add(&r, HUB_FORWARD, id, HELLO, 8, S(1)), 0);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 11), RETX_ACKED);
    e = retx_due(&r, S(1));
    assert_int_equal(e->msg_id, 10);
    retx_sent(e, S(1));
    e = retx_due(&r, S(1));
    assert_int_equal(e->msg_id, 12);
    retx_sent(e, S(1));
    e = retx_due(&r, S(1));
    assert_int_equal(e->msg_id, 13);
    retx_sent(e, S(1));
    assert_null(retx_due(&r, S(1.4)));
    assert_int_equal(retx_next(&r), S(1.5));
    /* 13 acked; 10 and 12 due together again: 10 first. */
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 13), RETX_ACKED);
    assert_int_equal(retx_due(&r, S(2))->msg_id, 10);
    retx_free(&r);
}

static void test_window(void **state)
{
    struct retx r;

    (void)state;
    retx_init(&r);
    for (uint32_t id = 1; id <= RETX_WINDOW; id++)
        assert_int_equal(retx_add(&r, HUB_FORWARD, id, HELLO, 8, 0), 0);
    assert_int_equal(retx_add(&r, HUB_FORWARD, RETX_WINDOW + 1, HELLO, 8, 0), -ENOSPC);
    assert_int_equal(retx_count(&r), RETX_WINDOW);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 1), RETX_ACKED);
    assert_int_equal(retx_add(&r, HUB_FORWARD, RETX_WINDOW + 1, HELLO, 8, 0), 0);
    retx_free(&r);
    assert_int_equal(retx_count(&r), 0);
    assert_int_equal(retx_ack(&r, HUB_FORWARD, 2), RETX_UNKNOWN); /* forgotten */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),   cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_ack),       cmocka_unit_test(test_recent_window),
        cmocka_unit_test(test_due_order), cmocka_unit_test(test_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
