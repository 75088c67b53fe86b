/*
 * echo: the echo and upcase services. See echo.h.
 */
#include "worker/echo.h"

#include "worker/svc.h"

#include <string.h>

struct echo_state {
    bool upcase;
    bool last;       /* the last answer is queued: close once it is sent */
    uint64_t echoed; /* bytes queued back so far */
};

_Static_assert(sizeof(struct echo_state) <= CONN_STATE_MAX, "echo state too large");

void echo_upcase(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] >= 'a' && src[i] <= 'z' ? (uint8_t)(src[i] - ('a' - 'A')) : src[i];
}

static enum conn_wait echo_start(struct conn *c, int64_t now)
{
    (void)now;
    svc_start(c, "ECHO");
    return CONN_READ;
}

static enum conn_wait upcase_start(struct conn *c, int64_t now)
{
    struct echo_state *st = c->state;

    (void)now;
    st->upcase = true;
    svc_start(c, "UPCASE");
    return CONN_READ;
}

/* Queues back as much of the input as the output buffer and the limit
 * take; a byte past the limit ends the session. */
static enum conn_wait echo_pump(struct conn *c)
{
    struct echo_state *st = c->state;
    uint64_t left = c->env->echo_max_bytes - st->echoed;
    size_t room, n = c->in_len;
    uint8_t *out = conn_room(c, &room);

    if (n > left)
        n = (size_t)left;
    if (n > room)
        n = room;
    if (st->upcase)
        echo_upcase(out, c->in, n);
    else
        memcpy(out, c->in, n);
    conn_commit_body(c, n);
    conn_consume(c, n);
    st->echoed += n;
    if (st->echoed == c->env->echo_max_bytes && c->in_len > 0) {
        st->last = true;
        return svc_last(c, "over --echo-max-bytes");
    }
    return svc_sending(c);
}

static enum conn_wait echo_input(struct conn *c, int64_t now)
{
    (void)now;
    if (c->in_len > 0)
        return echo_pump(c);
    return c->eof ? CONN_DONE : CONN_READ; /* the client closed: all is echoed */
}

static enum conn_wait echo_sent(struct conn *c, int64_t now)
{
    struct echo_state *st = c->state;

    if (st->last)
        return CONN_DONE;
    if (c->in_len > 0) /* more arrived than one answer held */
        return echo_pump(c);
    return svc_idle(c, now);
}

const struct conn_handler echo_handler = {
    .proto = PROTO_ECHO,
    .state_size = sizeof(struct echo_state),
    .start = echo_start,
    .input = echo_input,
    .sent = echo_sent,
    .expired = svc_expired,
    .busy = svc_busy,
};

const struct conn_handler upcase_handler = {
    .proto = PROTO_UPCASE,
    .state_size = sizeof(struct echo_state),
    .start = upcase_start,
    .input = echo_input,
    .sent = echo_sent,
    .expired = svc_expired,
    .busy = svc_busy,
};
