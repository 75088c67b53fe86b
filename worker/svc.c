/*
 * svc: the services' shared session steps. See svc.h.
 */
#include "worker/svc.h"

#include <errno.h>
#include <string.h>

/* A session's --io-timeout from now. */
static int64_t svc_deadline(const struct conn *c, int64_t from)
{
    return from + (int64_t)c->env->io_timeout_ms * 1000000;
}

void svc_start(struct conn *c, const char *method)
{
    strncpy(c->req.method, method, sizeof(c->req.method) - 1);
    c->read_deadline = svc_deadline(c, c->accepted_ns);
}

enum conn_wait svc_sending(struct conn *c)
{
    if (!c->req.answered)
        conn_answer(c, SB_OUT_OK, 200, "OK", 0, SB_SENDING);
    else
        sb_conn_state(c->rec, SB_SENDING);
    return CONN_WRITE;
}

enum conn_wait svc_idle(struct conn *c, int64_t now)
{
    if (c->eof)
        return CONN_DONE;
    if (c->req.answered)
        sb_conn_state(c->rec, SB_KEEPALIVE);
    c->read_deadline = svc_deadline(c, now);
    return CONN_READ;
}

enum conn_wait svc_last(struct conn *c, const char *why)
{
    c->problem = why;
    c->close_after = c->linger = true;
    c->cut_on_stop = false;
    if (c->out_len == c->out_off)
        return CONN_DONE;
    return svc_sending(c);
}

enum conn_wait svc_expired(struct conn *c, int64_t now)
{
    (void)now;
    return conn_trouble(c, "client silent for --io-timeout", ETIMEDOUT, false);
}

enum conn_wait svc_busy(struct conn *c, int64_t now)
{
    (void)now;
    c->cut_on_stop = false;
    c->linger = true; /* a FIN, not a reset, for a client that sent already */
    return CONN_DONE;
}
