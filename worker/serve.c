/*
 * serve: the blocking driver. See serve.h.
 */
#include "worker/serve.h"

#include "worker/daytime.h"
#include "worker/echo.h"
#include "worker/http.h"
#include "worker/lottery.h"
#include "worker/native.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

/* The handler of each protocol: one table for every driver. */
static const struct conn_handler *const serve_handlers[PROTO_COUNT] = {
    [PROTO_NATIVE] = &native_handler,   [PROTO_HTTP] = &http_handler,
    [PROTO_ECHO] = &echo_handler,       [PROTO_UPCASE] = &upcase_handler,
    [PROTO_DAYTIME] = &daytime_handler, [PROTO_LOTTERY] = &lottery_handler,
};

#define SERVE_POLL_MAX (2 + PROTO_LISTENERS_MAX)

/* The one connection this process holds at a time; its buffers live as
 * long as the process. */
static struct conn serve_c;
static bool serve_c_ready;
/* While idle: when a client seen waiting on a listener is looked at again
 * (0: none seen). */
static int64_t serve_yield_at;
static uint64_t serve_yield_sent; /* c->out_total when the moment began */

const struct conn_handler *serve_handler(enum proto proto)
{
    return serve_handlers[proto < PROTO_COUNT ? proto : PROTO_NATIVE];
}

/* Empties the wake-up eventfd: the flags it woke us for are the truth. */
static void serve_drain_wake(int wake_fd)
{
    uint64_t v;

    if (read(wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: drained already */
    }
}

/* The fds to poll: the connection, the wake fd while a stop may cut the
 * wait, and the listeners while the connection is idle. Returns how many. */
static nfds_t serve_pollset(const struct serve_ctx *ctx, const struct conn *c, struct pollfd *p,
                            bool *watch_stop)
{
    nfds_t n = 1;

    p[0] = (struct pollfd){.fd = c->fd, .events = c->want == CONN_READ ? POLLIN : POLLOUT};
    *watch_stop = c->want == CONN_READ && c->cut_on_stop && ctx->wake_fd >= 0;
    if (*watch_stop)
        p[n++] = (struct pollfd){.fd = ctx->wake_fd, .events = POLLIN};
    for (size_t i = 0; conn_idle(c) && serve_yield_at == 0 && i < ctx->nlfds; i++) {
        if (ctx->lfds[i] >= 0)
            p[n++] = (struct pollfd){.fd = ctx->lfds[i], .events = POLLIN};
    }
    return n;
}

/* True when a client still waits on a listener (poll without waiting). */
static bool serve_client_waiting(const struct serve_ctx *ctx)
{
    struct pollfd p[PROTO_LISTENERS_MAX];
    nfds_t n = 0;

    for (size_t i = 0; i < ctx->nlfds && n < PROTO_LISTENERS_MAX; i++) {
        if (ctx->lfds[i] >= 0)
            p[n++] = (struct pollfd){.fd = ctx->lfds[i], .events = POLLIN};
    }
    if (n == 0 || poll(p, n, 0) <= 0)
        return false;
    for (nfds_t i = 0; i < n; i++) {
        if (p[i].revents & POLLIN)
            return true;
    }
    return false;
}

/* True when the connection has bytes waiting (its next request began). */
static bool serve_conn_readable(const struct conn *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

/* A client waits on a listener while c is idle: after this process's
 * moment, if c stayed idle all along (any work resets the moment), the
 * client still waits, and c's next request has not begun, c yields: a
 * half-close, then close, so that bytes racing in cannot turn into a reset.
 * Returns the next want. */
static enum conn_wait serve_yield_check(const struct serve_ctx *ctx, struct conn *c, int64_t now)
{
    if (now < serve_yield_at)
        return c->want;
    serve_yield_at = 0;
    if (conn_idle(c) && c->out_total == serve_yield_sent && serve_client_waiting(ctx) &&
        !serve_conn_readable(c)) {
        c->linger = true;
        if (c->req.answered) /* a service's session: its client loses a conversation */
            c->problem = "closed while idle: a client was waiting";
        return c->want = CONN_DONE;
    }
    return c->want;
}

/* Waits for what c wants, until its deadline. Returns the next want. */
static enum conn_wait serve_wait(const struct serve_ctx *ctx, struct conn *c)
{
    struct pollfd p[SERVE_POLL_MAX];
    bool watch_stop;
    nfds_t np = serve_pollset(ctx, c, p, &watch_stop);
    int64_t now = clock_now_ns(), left = conn_deadline(c) - now;
    int n;

    if (ctx->abort != NULL && *ctx->abort)
        return conn_cut(c, "cut by shutdown", EINTR);
    if (ctx->stop != NULL && *ctx->stop && conn_stop(c, now) == CONN_DONE)
        return CONN_DONE;
    if (left <= 0)
        return conn_expired(c, now);
    if (!conn_idle(c)) /* a connection at work never yields */
        serve_yield_at = 0;
    if (serve_yield_at != 0) {
        if (serve_yield_check(ctx, c, now) == CONN_DONE)
            return CONN_DONE;
        if (serve_yield_at != 0 && serve_yield_at - now < left)
            left = serve_yield_at - now;
    }
    n = poll(p, np, (int)((left + 999999) / 1000000));
    if (n < 0 && errno != EINTR)
        return conn_trouble(c, "poll failed", errno, true);
    if (n > 0 && p[0].revents != 0) /* ready, or an error the next call reports */
        return conn_ready(c, clock_now_ns());
    if (n > 0 && watch_stop && p[1].revents != 0)
        serve_drain_wake(ctx->wake_fd);
    for (nfds_t i = watch_stop ? 2 : 1; n > 0 && i < np; i++) {
        if (p[i].revents & POLLIN) { /* a client waits: look again in a moment */
            serve_yield_at =
                clock_now_ns() + (int64_t)SERVE_YIELD_MS * 1000000 * (1 + ctx->rank % 8);
            serve_yield_sent = c->out_total;
            break;
        }
    }
    return c->want; /* a signal, the wake fd, or the timeout: the loop re-checks */
}

int serve_conn(const struct serve_ctx *ctx, enum proto proto, unsigned listener, int fd,
               const struct sockaddr *peer, int64_t accepted_ns)
{
    struct conn *c = &serve_c;
    enum conn_wait want;

    if (!serve_c_ready && conn_init(c, CONN_STATE_MAX) < 0) {
        close(fd);
        return -ENOMEM;
    }
    serve_c_ready = true;
    serve_yield_at = 0;
    c->rec = &ctx->env.recs[0]; /* one connection at a time: the first record */
    c->rec_k = 0;
    want = conn_open(c, &ctx->env, serve_handler(proto), fd, listener, peer, accepted_ns);
    while (want != CONN_DONE)
        want = serve_wait(ctx, c);
    conn_close(c, clock_now_ns());
    return 0;
}
