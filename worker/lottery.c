/*
 * lottery: the lottery service. See lottery.h.
 */
#include "worker/lottery.h"

#include "common/rand.h"

#include "worker/svc.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

struct lottery_state {
    struct lottery draw;
    bool ended; /* END came: close once the answers before it are sent */
};

_Static_assert(sizeof(struct lottery_state) <= CONN_STATE_MAX, "lottery state too large");

enum lottery_cmd lottery_command(const uint8_t b[LOTTERY_CMD_LEN], uint32_t *value)
{
    *value = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    switch (*value) {
    case 0:
        return LOTTERY_GEN;
    case 1:
    case 0x01000000: /* 1 written little-endian */
        return LOTTERY_LIST;
    case 2:
    case 0x02000000:
        return LOTTERY_END;
    }
    return LOTTERY_UNKNOWN;
}

bool lottery_uniform(uint32_t r, uint32_t n, uint32_t *out)
{
    /* The largest multiple of n that 2^32 holds: below it every residue
     * is equally often hit. */
    uint64_t whole = ((uint64_t)1 << 32) / n * n;

    if (r >= whole)
        return false;
    *out = r % n;
    return true;
}

int lottery_draw(struct lottery *l, lottery_rand_fn rnd)
{
    uint32_t r, k;
    int rc;

    if (l->n == LOTTERY_PICKS)
        return 0;
    /* The k-th of the numbers not drawn yet: one draw each, no retry for
     * a duplicate, every remaining number equally likely. */
    do {
        if ((rc = rnd(&r)) < 0)
            return rc;
    } while (!lottery_uniform(r, LOTTERY_HIGHEST - l->n, &k));
    for (int v = 1; v <= LOTTERY_HIGHEST; v++) {
        bool taken = false;

        for (unsigned i = 0; i < l->n; i++)
            taken = taken || l->drawn[i] == v;
        if (!taken && k-- == 0) {
            l->drawn[l->n++] = (uint8_t)v;
            return v;
        }
    }
    return -EINVAL; /* unreachable: k is below the count of numbers left */
}

int lottery_reply(struct lottery *l, const uint8_t cmd[LOTTERY_CMD_LEN], lottery_rand_fn rnd,
                  char *buf)
{
    uint32_t value;
    const uint8_t *d = l->drawn;
    int v;

    switch (lottery_command(cmd, &value)) {
    case LOTTERY_GEN:
        if ((v = lottery_draw(l, rnd)) < 0)
            return v;
        if (v == 0)
            return snprintf(buf, LOTTERY_LINE_MAX, "Full\n");
        return snprintf(buf, LOTTERY_LINE_MAX, "New number generated: %d\n", v);
    case LOTTERY_LIST: /* not drawn yet: 0 (the array is zeroed past n) */
        return snprintf(buf, LOTTERY_LINE_MAX, "numbers: %u %u %u %u %u %u\n", d[0], d[1], d[2],
                        d[3], d[4], d[5]);
    case LOTTERY_END:
        return 0;
    case LOTTERY_UNKNOWN:
        break;
    }
    return snprintf(buf, LOTTERY_LINE_MAX, "error: unknown command %u\n", value);
}

static enum conn_wait lottery_start(struct conn *c, int64_t now)
{
    (void)now;
    svc_start(c, "LOTTERY");
    return CONN_READ;
}

/* Answers every whole command that arrived, as far as the output buffer
 * takes them (the rest wait in the input until these are sent). */
static enum conn_wait lottery_run(struct conn *c)
{
    struct lottery_state *st = c->state;
    size_t used = 0, room;
    int n = 1;

    while (c->in_len - used >= LOTTERY_CMD_LEN && !st->ended) {
        char *out = (char *)conn_room(c, &room);

        if (room < LOTTERY_LINE_MAX)
            break;
        n = lottery_reply(&st->draw, c->in + used, rand_u32, out);
        if (n < 0)
            return conn_trouble(c, "getrandom failed", -n, true);
        used += LOTTERY_CMD_LEN;
        conn_commit_body(c, (size_t)n);
        st->ended = n == 0;
    }
    conn_consume(c, used); /* once: commands are 4 bytes, the input up to 32 KiB */
    if (st->ended)
        return svc_last(c, NULL);
    if (c->out_len > c->out_off)
        return svc_sending(c);
    if (c->eof && c->in_len > 0)
        return conn_trouble(c, "client closed inside a command", 0, false);
    return c->eof ? CONN_DONE : CONN_READ;
}

static enum conn_wait lottery_input(struct conn *c, int64_t now)
{
    (void)now;
    return lottery_run(c);
}

static enum conn_wait lottery_sent(struct conn *c, int64_t now)
{
    struct lottery_state *st = c->state;

    if (st->ended)
        return CONN_DONE;
    if (c->in_len >= LOTTERY_CMD_LEN)
        return lottery_run(c);
    if (c->eof && c->in_len > 0)
        return conn_trouble(c, "client closed inside a command", 0, false);
    return svc_idle(c, now);
}

const struct conn_handler lottery_handler = {
    .proto = PROTO_LOTTERY,
    .state_size = sizeof(struct lottery_state),
    .start = lottery_start,
    .input = lottery_input,
    .sent = lottery_sent,
    .expired = svc_expired,
    .busy = svc_busy,
};
