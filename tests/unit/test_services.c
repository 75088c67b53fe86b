/* Unit tests for the small services (worker/echo.c, daytime.c, lottery.c):
 * their pure parts, and each handler as a state machine driven without a
 * socket by a stand-in for the engine that takes every queued answer as
 * sent at once. */
#include "worker/daytime.h"
#include "worker/echo.h"
#include "worker/lottery.h"

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW 1000000000000LL

static struct scoreboard *sb;

static int setup(void **state)
{
    (void)state;
    sb = sb_create(1, 2); /* two sessions at once */
    return sb != NULL && sb_claim(sb, SB_KIND_WORKER) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sb_destroy(sb);
    return 0;
}

/* One session of a handler, and everything it answered so far. */
struct sess {
    struct conn c;
    struct conn_env env;
    uint8_t got[256 * 1024];
    size_t got_len;
};

/* What the engine does with an answer: takes it as sent, then asks the
 * handler what next; until it waits for input or is done. */
static enum conn_wait sess_drain(struct sess *s, enum conn_wait want)
{
    struct conn *c = &s->c;

    while (want == CONN_WRITE) {
        size_t n = c->out_len - c->out_off;

        assert_true(s->got_len + n <= sizeof(s->got));
        memcpy(s->got + s->got_len, c->out + c->out_off, n);
        s->got_len += n;
        c->out_len = c->out_off = 0;
        c->out_body = SIZE_MAX;
        want = c->h->sent(c, NOW);
    }
    return c->want = want;
}

/* Opens a session of h in the process's record k. */
static void sess_open(struct sess *s, const struct conn_handler *h, uint64_t echo_max, uint32_t k)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};

    memset(s, 0, sizeof(*s));
    s->env = (struct conn_env){.io_timeout_ms = 30000,
                               .echo_max_bytes = echo_max,
                               .slot = &sb->slots[0],
                               .recs = sb_rec(sb, 0, 0)};
    assert_int_equal(conn_init(&s->c, CONN_STATE_MAX), 0);
    s->c.rec = &s->env.recs[k];
    s->c.rec_k = k;
    conn_attach(&s->c, &s->env, h, -1, 0, (struct sockaddr *)&peer, NOW);
    s->c.in = malloc(CONN_IN_MAX);
    assert_non_null(s->c.in);
    s->c.in_cap = CONN_IN_MAX;
    sess_drain(s, s->c.want);
}

/* Feeds len bytes, step at a time, while the handler reads. Returns what
 * it waits for after the last of them. */
static enum conn_wait sess_feed(struct sess *s, const void *p, size_t len, size_t step)
{
    struct conn *c = &s->c;

    for (size_t at = 0; at < len && c->want == CONN_READ; at += step) {
        size_t n = len - at < step ? len - at : step;

        assert_true(c->in_len + n <= c->in_cap);
        memcpy(c->in + c->in_len, (const uint8_t *)p + at, n);
        c->in_len += n;
        c->req.active = true;
        sess_drain(s, c->h->input(c, NOW));
    }
    return c->want;
}

/* The client closes its side. */
static enum conn_wait sess_eof(struct sess *s)
{
    s->c.eof = true;
    return sess_drain(s, s->c.h->input(&s->c, NOW));
}

static void sess_close(struct sess *s)
{
    conn_close(&s->c, NOW);
    conn_free(&s->c);
}

/*
 * echo, upcase
 */

static void test_upcase_every_byte_value(void **state)
{
    uint8_t in[256], out[256];

    (void)state;
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    echo_upcase(out, in, sizeof(in));
    for (int i = 0; i < 256; i++) /* the C locale's toupper: ASCII only */
        assert_int_equal(out[i], i < 128 ? toupper(i) : i);
}

/* The upcase handler answers the same whether the bytes come at once or
 * one by one; the client's close ends the session, without a problem. */
static void test_upcase_handler_either_way(void **state)
{
    static struct sess whole, bytewise;
    uint8_t in[256];

    (void)state;
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(255 - i);
    sess_open(&whole, &upcase_handler, 1 << 20, 0);
    sess_open(&bytewise, &upcase_handler, 1 << 20, 1);
    assert_int_equal(sess_feed(&whole, in, sizeof(in), sizeof(in)), CONN_READ);
    assert_int_equal(sess_feed(&bytewise, in, sizeof(in), 1), CONN_READ);
    assert_int_equal(whole.got_len, 256);
    assert_int_equal(bytewise.got_len, 256);
    assert_memory_equal(whole.got, bytewise.got, 256);
    assert_int_equal(whole.got[255 - 'q'], 'Q');
    assert_int_equal(whole.got[255 - 0xe9], 0xe9);
    /* Waiting for more, idle; the session was answered once. */
    assert_int_equal(whole.c.rec->state, SB_KEEPALIVE);
    assert_int_equal(whole.c.rec->requests, 1);
    assert_string_equal(whole.c.req.method, "UPCASE");
    assert_int_equal(sess_eof(&whole), CONN_DONE);
    assert_null(whole.c.problem);
    sess_close(&whole);
    sess_close(&bytewise);
}

/* More than one answer holds: echoed in batches, byte for byte. */
static void test_echo_large_input(void **state)
{
    static struct sess s;
    static uint8_t in[100 * 1024];

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + i / 251);
    sess_open(&s, &echo_handler, 1 << 20, 0);
    assert_int_equal(sess_feed(&s, in, sizeof(in), CONN_IN_MAX), CONN_READ);
    assert_int_equal(s.got_len, sizeof(in));
    assert_memory_equal(s.got, in, sizeof(in));
    sess_close(&s);
}

/* Exactly --echo-max-bytes are echoed, and the session lives on; one
 * byte more ends it, without an answer. */
static void test_echo_max_bytes_exactly(void **state)
{
    static struct sess s;

    (void)state;
    sess_open(&s, &echo_handler, 10, 0);
    assert_int_equal(sess_feed(&s, "0123456789", 10, 4), CONN_READ);
    assert_int_equal(s.got_len, 10);
    assert_int_equal(sess_feed(&s, "x", 1, 1), CONN_DONE);
    assert_int_equal(s.got_len, 10);
    assert_string_equal(s.c.problem, "over --echo-max-bytes");
    assert_true(s.c.linger); /* the byte past the limit is drained, not reset */
    sess_close(&s);
}

/* One write past the limit: the limit's bytes, then the close. */
static void test_echo_max_bytes_in_one_write(void **state)
{
    static struct sess s;

    (void)state;
    sess_open(&s, &echo_handler, 10, 0);
    memcpy(s.c.in, "0123456789AB", 12);
    s.c.in_len = 12;
    assert_int_equal(s.c.h->input(&s.c, NOW), CONN_WRITE);
    assert_int_equal(s.c.out_len, 10);
    assert_memory_equal(s.c.out, "0123456789", 10);
    assert_true(s.c.close_after);
    assert_int_equal(sess_drain(&s, CONN_WRITE), CONN_DONE);
    assert_string_equal(s.c.problem, "over --echo-max-bytes");
    sess_close(&s);
}

/*
 * daytime
 */

static void test_daytime_format(void **state)
{
    char line[DAYTIME_LINE_MAX];

    (void)state;
    setenv("TZ", "UTC0", 1);
    tzset();
    assert_int_equal(daytime_format(line, sizeof(line), 1795523885), 26);
    assert_string_equal(line, "Tue Nov 24 12:38:05 2026\r\n");
    daytime_format(line, sizeof(line), 1793754123); /* a one-digit day, padded as ctime() */
    assert_string_equal(line, "Wed Nov  4 01:02:03 2026\r\n");
    setenv("TZ", "CET-1", 1); /* the server's local time, not UTC */
    tzset();
    daytime_format(line, sizeof(line), 1795523885);
    assert_string_equal(line, "Tue Nov 24 13:38:05 2026\r\n");
    assert_int_equal(daytime_format(line, 20, 1795523885), 0);
}

/* The line at once, without a request, and the close after it. */
static void test_daytime_handler(void **state)
{
    static struct sess s;
    char line[DAYTIME_LINE_MAX];
    size_t n;

    (void)state;
    sess_open(&s, &daytime_handler, 1, 0);
    n = daytime_format(line, sizeof(line), s.c.wall);
    assert_int_equal(s.c.want, CONN_DONE);
    assert_int_equal(s.got_len, n);
    assert_memory_equal(s.got, line, n);
    assert_true(s.c.close_after);
    assert_null(s.c.problem);
    assert_int_equal(s.c.rec->size, n);
    assert_true(s.c.req.answered);
    sess_close(&s);
}

/*
 * lottery
 */

static void test_lottery_command(void **state)
{
    static const struct {
        uint8_t b[4];
        enum lottery_cmd cmd;
        uint32_t value;
    } cases[] = {
        {{0, 0, 0, 0}, LOTTERY_GEN, 0},
        {{0, 0, 0, 1}, LOTTERY_LIST, 1},
        {{0, 0, 0, 2}, LOTTERY_END, 2},
        {{1, 0, 0, 0}, LOTTERY_LIST, 16777216}, /* x86's int 1 */
        {{2, 0, 0, 0}, LOTTERY_END, 33554432},
        {{0, 0, 0, 3}, LOTTERY_UNKNOWN, 3},
        {{0, 0, 1, 0}, LOTTERY_UNKNOWN, 256},
        {{3, 0, 0, 0}, LOTTERY_UNKNOWN, 50331648},
        {{0xff, 0xff, 0xff, 0xff}, LOTTERY_UNKNOWN, 4294967295u},
    };
    uint32_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(lottery_command(cases[i].b, &v), cases[i].cmd);
        assert_int_equal(v, cases[i].value);
    }
}

static void test_lottery_uniform_rejects_the_last_span(void **state)
{
    uint32_t out = 99;

    (void)state;
    /* 2^32 = 95443717 x 45 + 31: the top 31 values would favour 0..30. */
    assert_true(lottery_uniform(4294967264u, 45, &out));
    assert_int_equal(out, 44);
    assert_false(lottery_uniform(4294967265u, 45, &out));
    assert_false(lottery_uniform(4294967295u, 45, &out));
    assert_true(lottery_uniform(0, 45, &out));
    assert_int_equal(out, 0);
    assert_true(lottery_uniform(4294967295u, 1, &out)); /* one choice: never rejected */
    assert_int_equal(out, 0);
    /* 2^32 = 107374182 x 40 + 16 */
    assert_true(lottery_uniform(4294967279u, 40, &out));
    assert_int_equal(out, 39);
    assert_false(lottery_uniform(4294967280u, 40, &out));
}

/* A scripted source, then a small generator: deterministic tests. */
static uint32_t script[8];
static size_t script_n, script_at;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static int rnd_script(uint32_t *out)
{
    if (script_at == script_n)
        return -EIO;
    *out = script[script_at++];
    return 0;
}

static int rnd_xorshift(uint32_t *out)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    *out = (uint32_t)(rng_state >> 32);
    return 0;
}

static void test_lottery_draw_redraws_and_fails_cleanly(void **state)
{
    struct lottery l = {0};

    (void)state;
    script[0] = 4294967295u; /* rejected */
    script[1] = 0;           /* the first of the 45 */
    script[2] = 44;          /* 44 numbers left: 44 % 44 = 0, the lowest of them */
    script_n = 3;
    script_at = 0;
    assert_int_equal(lottery_draw(&l, rnd_script), 1);
    assert_int_equal(script_at, 2);
    assert_int_equal(lottery_draw(&l, rnd_script), 2); /* 1 is taken: index 0 is now 2 */
    assert_int_equal(lottery_draw(&l, rnd_script), -EIO);
    assert_int_equal(l.n, 2);
}

/* 20,000 sessions: six distinct numbers of 1-45, then Full; every number
 * about equally often first (chi-square, 44 degrees of freedom, below
 * its 0.1 % critical value 78.75 for this fixed seed). */
static void test_lottery_draws_are_distinct_and_even(void **state)
{
    enum { SESSIONS = 20000 };
    unsigned first[LOTTERY_HIGHEST + 1] = {0};
    double expect = (double)SESSIONS / LOTTERY_HIGHEST, chi = 0;

    (void)state;
    for (int s = 0; s < SESSIONS; s++) {
        struct lottery l = {0};
        uint64_t seen = 0;

        for (int i = 0; i < LOTTERY_PICKS; i++) {
            int v = lottery_draw(&l, rnd_xorshift);

            assert_in_range(v, 1, LOTTERY_HIGHEST);
            assert_false(seen & (1ull << v));
            seen |= 1ull << v;
            if (i == 0)
                first[v]++;
        }
        assert_int_equal(lottery_draw(&l, rnd_xorshift), 0);
    }
    for (int v = 1; v <= LOTTERY_HIGHEST; v++)
        chi += (first[v] - expect) * (first[v] - expect) / expect;
    assert_true(chi < 78.75);
}

static void test_lottery_reply_lines(void **state)
{
    struct lottery l = {0};
    char buf[LOTTERY_LINE_MAX];
    static const uint8_t gen[4] = {0, 0, 0, 0}, list[4] = {0, 0, 0, 1}, end[4] = {0, 0, 0, 2},
                         odd[4] = {0, 0, 0, 9};

    (void)state;
    assert_int_equal(lottery_reply(&l, list, rnd_xorshift, buf), 21);
    assert_string_equal(buf, "numbers: 0 0 0 0 0 0\n");
    script[0] = 31; /* 32 */
    script[1] = 4;  /* 5 */
    script[2] = 20; /* 22: the 21st of those left, 1..45 without 5 and 32 */
    script_n = 3;
    script_at = 0;
    lottery_reply(&l, gen, rnd_script, buf);
    assert_string_equal(buf, "New number generated: 32\n");
    lottery_reply(&l, gen, rnd_script, buf);
    lottery_reply(&l, gen, rnd_script, buf);
    assert_string_equal(buf, "New number generated: 22\n");
    lottery_reply(&l, list, rnd_script, buf);
    assert_string_equal(buf, "numbers: 32 5 22 0 0 0\n"); /* the course's own example */
    assert_int_equal(lottery_reply(&l, odd, rnd_script, buf), 25);
    assert_string_equal(buf, "error: unknown command 9\n");
    assert_int_equal(lottery_reply(&l, end, rnd_script, buf), 0);
}

/* Parses a session's answers: numbers drawn, Full lines, LIST lines
 * (each checked against the draw so far), errors. */
struct tally {
    int drawn[LOTTERY_PICKS], n, full, lists, errors;
};

static void tally_lines(const uint8_t *p, size_t len, struct tally *t)
{
    char *text = strndup((const char *)p, len), *save = NULL;
    int v, a[6];

    assert_non_null(text);
    memset(t, 0, sizeof(*t));
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "New number generated: %d", &v) == 1) {
            assert_true(t->n < LOTTERY_PICKS);
            t->drawn[t->n++] = v;
        } else if (strcmp(line, "Full") == 0) {
            t->full++;
        } else if (sscanf(line, "numbers: %d %d %d %d %d %d", &a[0], &a[1], &a[2], &a[3], &a[4],
                          &a[5]) == 6) {
            for (int i = 0; i < LOTTERY_PICKS; i++)
                assert_int_equal(a[i], i < t->n ? t->drawn[i] : 0);
            t->lists++;
        } else {
            assert_string_equal(line, "error: unknown command 7");
            t->errors++;
        }
    }
    free(text);
}

/* A whole session in one write and byte by byte: seven GENs, LIST, an
 * unknown command, LIST in little-endian, END, and a GEN after END that
 * is never answered. */
static void test_lottery_session_either_way(void **state)
{
    static struct sess s;
    static const uint8_t cmds[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                   0, 0, 0, 7, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0};
    struct tally t;

    (void)state;
    for (size_t step = 1; step <= sizeof(cmds); step += sizeof(cmds) - 1) {
        sess_open(&s, &lottery_handler, 1, 0);
        assert_int_equal(sess_feed(&s, cmds, sizeof(cmds), step), CONN_DONE);
        tally_lines(s.got, s.got_len, &t);
        assert_int_equal(t.n, LOTTERY_PICKS);
        for (int i = 0; i < LOTTERY_PICKS; i++)
            for (int j = 0; j < i; j++)
                assert_int_not_equal(t.drawn[i], t.drawn[j]);
        assert_int_equal(t.full, 1);
        assert_int_equal(t.lists, 2);
        assert_int_equal(t.errors, 1);
        assert_true(s.c.close_after);
        assert_null(s.c.problem);
        assert_string_equal(s.c.req.method, "LOTTERY");
        sess_close(&s);
    }
}

/* 3,000 commands in one write: more answers than the output buffer
 * holds, sent in batches, none lost; the session then waits. */
static void test_lottery_many_commands_at_once(void **state)
{
    static struct sess s;
    static uint8_t cmds[3000 * 4];
    struct tally t;

    (void)state;
    for (size_t i = 0; i < sizeof(cmds); i += 4)
        memcpy(cmds + i, "\0\0\0\1", 4);
    sess_open(&s, &lottery_handler, 1, 0);
    assert_int_equal(sess_feed(&s, cmds, sizeof(cmds), sizeof(cmds)), CONN_READ);
    tally_lines(s.got, s.got_len, &t);
    assert_int_equal(t.lists, 3000);
    assert_int_equal(s.c.in_len, 0);
    assert_int_equal(s.c.rec->state, SB_KEEPALIVE);
    sess_close(&s);
}

/* Half a command waits; the client's close inside one is its trouble. */
static void test_lottery_partial_command(void **state)
{
    static struct sess s;

    (void)state;
    sess_open(&s, &lottery_handler, 1, 0);
    assert_int_equal(sess_feed(&s, "\0\0", 2, 2), CONN_READ);
    assert_int_equal(s.got_len, 0);
    assert_int_equal(sess_feed(&s, "\0\1\0", 3, 3), CONN_READ);
    assert_string_equal((const char *)s.got, "numbers: 0 0 0 0 0 0\n");
    assert_int_equal(sess_eof(&s), CONN_DONE);
    assert_string_equal(s.c.problem, "client closed inside a command");
    sess_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upcase_every_byte_value),
        cmocka_unit_test(test_upcase_handler_either_way),
        cmocka_unit_test(test_echo_large_input),
        cmocka_unit_test(test_echo_max_bytes_exactly),
        cmocka_unit_test(test_echo_max_bytes_in_one_write),
        cmocka_unit_test(test_daytime_format),
        cmocka_unit_test(test_daytime_handler),
        cmocka_unit_test(test_lottery_command),
        cmocka_unit_test(test_lottery_uniform_rejects_the_last_span),
        cmocka_unit_test(test_lottery_draw_redraws_and_fails_cleanly),
        cmocka_unit_test(test_lottery_draws_are_distinct_and_even),
        cmocka_unit_test(test_lottery_reply_lines),
        cmocka_unit_test(test_lottery_session_either_way),
        cmocka_unit_test(test_lottery_many_commands_at_once),
        cmocka_unit_test(test_lottery_partial_command),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
