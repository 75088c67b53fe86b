/*
 * daytime: the daytime service. See daytime.h.
 */
#include "worker/daytime.h"

#include "worker/svc.h"

struct daytime_state {
    bool told; /* the line is queued */
};

_Static_assert(sizeof(struct daytime_state) <= CONN_STATE_MAX, "daytime state too large");

size_t daytime_format(char *buf, size_t cap, time_t when)
{
    struct tm tm;

    /* ferryd never calls setlocale(): the C locale's English names, and
     * %e pads the day with a space as ctime() does. */
    if (localtime_r(&when, &tm) == NULL)
        return 0;
    return strftime(buf, cap, "%a %b %e %H:%M:%S %Y\r\n", &tm);
}

/* The line is sent at the first turn of the connection, not here: over
 * --max-conn-per-ip the connection is closed before that turn. */
static enum conn_wait daytime_start(struct conn *c, int64_t now)
{
    (void)now;
    svc_start(c, "DAYTIME");
    c->cut_on_stop = false;
    c->close_after = true; /* the empty first flush must not uncork */
    return CONN_WRITE;
}

static enum conn_wait daytime_sent(struct conn *c, int64_t now)
{
    struct daytime_state *st = c->state;
    size_t room, n;
    uint8_t *out;

    (void)now;
    if (st->told)
        return CONN_DONE;
    st->told = true;
    out = conn_room(c, &room);
    n = daytime_format((char *)out, room, c->wall);
    if (n == 0)
        return conn_trouble(c, "cannot format the local time", 0, true);
    conn_commit_body(c, n);
    conn_answer(c, SB_OUT_OK, 200, "OK", n, SB_SENDING);
    return svc_last(c, NULL);
}

/* Never asked for input: a stray call answers nothing more. */
static enum conn_wait daytime_input(struct conn *c, int64_t now)
{
    return daytime_sent(c, now);
}

const struct conn_handler daytime_handler = {
    .proto = PROTO_DAYTIME,
    .state_size = sizeof(struct daytime_state),
    .start = daytime_start,
    .input = daytime_input,
    .sent = daytime_sent,
    .expired = svc_expired,
    .busy = svc_busy,
};
