/*
 * conn: the engine between a handler and its socket. See conn.h.
 */
#include "worker/conn.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int conn_init(struct conn *c, size_t state_size)
{
    memset(c, 0, sizeof(*c));
    c->fd = c->body_fd = -1;
    c->state = calloc(1, state_size);
    c->state_size = state_size;
    return c->state == NULL ? -ENOMEM : 0;
}

/* The output buffer, before a handler may write into it. Returns 0 or
 * -ENOMEM. */
static int conn_out_alloc(struct conn *c)
{
    if (c->out == NULL && (c->out = malloc(CONN_OUT_CAP)) == NULL)
        return -ENOMEM;
    return 0;
}

void conn_trim(struct conn *c)
{
    if (c->in_len == 0 && c->in != NULL) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    if (c->out_len == 0 && c->out != NULL) {
        free(c->out);
        c->out = NULL;
    }
}

void conn_free(struct conn *c)
{
    free(c->in);
    free(c->out);
    free(c->state);
    c->in = c->out = c->state = NULL;
}

enum conn_wait conn_trouble(struct conn *c, const char *problem, int err, bool server_fault)
{
    c->problem = problem;
    c->about = NULL; /* a denied client's 403 that failed is logged as the failure */
    c->err = err;
    c->server_fault = server_fault;
    return c->want = CONN_DONE;
}

/* Classifies a failed socket call's errno into trouble. */
static enum conn_wait conn_io_failed(struct conn *c, int err)
{
    c->broken = true; /* no lingering close on a socket that failed */
    if (err == EPIPE || err == ECONNRESET)
        return conn_trouble(c, "client vanished", err, false);
    if (err == ETIMEDOUT) /* the kernel gave up retransmitting */
        return conn_trouble(c, "client vanished", err, false);
    return conn_trouble(c, "I/O error", err, true); /* unexpected: worth a warning */
}

/*
 * --allow/--deny, before a byte is read: a denied client is counted and
 * gets its protocol's refusal (HTTP: 403, then a lingering close), or,
 * where the protocol has none (native, the services), a reset. A reset
 * rather than a FIN: the client learns it was refused (ECONNRESET, not an
 * empty answer it could take for a server fault), the same way whether
 * or not its request had arrived (closing with it unread resets anyway),
 * and this side keeps no TIME_WAIT for a client it will not serve.
 * Returns true when the connection is denied.
 */
static bool conn_deny(struct conn *c, int64_t now)
{
    const struct acl_rule *r =
        acl_denied_by(c->env->acl[c->listener % PROTO_LISTENERS_MAX], &c->peer.sa);

    if (r == NULL)
        return false;
    c->denied = true;
    c->problem = "denied";
    c->about = r->text;
    c->phase = "accept";
    c->cut_on_stop = false;
    if (c->env->sb != NULL)
        sb_count_denied(c->env->sb, false, c->listener);
    if (c->h->denied != NULL) {
        c->want = c->h->denied(c, now);
    } else {
        c->reset = true;
        c->want = CONN_DONE;
    }
    return true;
}

void conn_attach(struct conn *c, const struct conn_env *env, const struct conn_handler *h, int fd,
                 unsigned listener, const struct sockaddr *peer, int64_t now)
{
    c->fd = fd;
    c->listener = listener;
    memcpy(&c->peer, peer, peer->sa_family == AF_INET6 ? sizeof(c->peer.in6) : sizeof(c->peer.in));
    c->accepted_ns = now;
    c->wall = time(NULL);
    c->env = env;
    c->h = h;
    memset(c->state, 0, h->state_size <= c->state_size ? h->state_size : c->state_size);
    c->in_len = c->out_len = c->out_off = 0;
    c->out_body = SIZE_MAX;
    c->eof = c->close_after = c->linger = c->draining = c->reported = c->broken = false;
    c->corked = proto_cork_at_accept(h->proto); /* inherited from the listener */
    c->body_fd = -1;
    c->body_off = c->body_end = 0;
    c->read_deadline = c->write_deadline = c->rate_end = 0;
    c->rate_from = c->out_total = 0;
    c->cut_on_stop = true;
    c->requests = 0;
    memset(&c->req, 0, sizeof(c->req));
    c->problem = c->about = NULL;
    c->phase = "request";
    c->err = 0;
    c->server_fault = false;
    c->busy = c->denied = c->reset = false;
    c->disk_ok = false;
    sb_conn_begin(env->slot, c->rec, c->rec_k, listener, peer, now);
    if (conn_out_alloc(c) < 0) {
        conn_trouble(c, "out of memory", ENOMEM, true);
        return;
    }
    c->want = h->start(c, now); /* first: finish() relies on the state it sets */
    if (conn_deny(c, now))
        return;
    /* Counted after this connection is on the scoreboard: two accepted at
     * once from one address both see both, so the limit is never passed. */
    if (env->max_per_ip > 0 && env->sb != NULL) /* our record visible before we look */
        atomic_thread_fence(memory_order_seq_cst);
    if (env->max_per_ip > 0 && env->sb != NULL && sb_count_peer(env->sb, peer) > env->max_per_ip) {
        c->busy = true;
        c->problem = "over --max-conn-per-ip";
        c->want = h->busy(c, now);
    }
}

enum conn_wait conn_open(struct conn *c, const struct conn_env *env, const struct conn_handler *h,
                         int fd, unsigned listener, const struct sockaddr *peer, int64_t now)
{
    conn_attach(c, env, h, fd, listener, peer, now);
    return conn_ready(c, now); /* deferred accept: the request is usually here */
}

/* Reads what arrived into the input buffer, growing it up to CONN_IN_MAX.
 * Returns 0 (bytes, or eof set), -EAGAIN, -ENOBUFS (full) or -errno. */
static int conn_fill(struct conn *c, int64_t now)
{
    ssize_t n;

    if (c->in == NULL) { /* the first read, or the first since conn_trim() */
        if ((c->in = malloc(CONN_IN_FIRST)) == NULL)
            return -ENOMEM;
        c->in_cap = CONN_IN_FIRST;
    }
    if (c->in_len == c->in_cap) {
        size_t cap = c->in_cap * 2 > CONN_IN_MAX ? CONN_IN_MAX : c->in_cap * 2;
        uint8_t *in;

        if (c->in_cap == CONN_IN_MAX)
            return -ENOBUFS;
        if ((in = realloc(c->in, cap)) == NULL)
            return -ENOMEM;
        c->in = in;
        c->in_cap = cap;
    }
    do {
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (n == 0) {
        c->eof = true;
        return 0;
    }
    c->in_len += (size_t)n;
    if (!c->req.active) {
        c->req.active = true;
        c->req.start_ns = now;
    }
    sb_conn_received(c->rec, (uint32_t)n);
    return 0;
}

/* One read, then the handler. Returns what to wait for. */
static enum conn_wait conn_read_step(struct conn *c, int64_t now)
{
    int rc = conn_fill(c, now);

    if (rc == -EAGAIN)
        return CONN_READ;
    if (rc == -ENOBUFS) /* the handler let its buffer fill: it cannot parse this */
        return conn_trouble(c, "request too large", 0, false);
    if (rc < 0)
        return conn_io_failed(c, -rc);
    c->want = c->h->input(c, now);
    if (c->want == CONN_READ && c->eof) /* the handler must decide at eof: a guard */
        return conn_trouble(c, "client closed early", 0, false);
    return c->want;
}

/* Sets or clears TCP_CORK. Returns 0 or -errno. */
static int conn_set_cork(struct conn *c, bool on)
{
    int v = on;

    if (setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) < 0)
        return -errno;
    c->corked = on;
    return 0;
}

/* Corks a response that ends the connection with a body, if the
 * connection is not corked already: header, body and FIN leave in full
 * segments, a small file in one. */
static int conn_cork(struct conn *c)
{
    if (c->corked || !c->close_after || c->body_fd < 0)
        return 0;
    return conn_set_cork(c, true);
}

/* Counts out[from..to) as sent, the part of it that is content. */
static void conn_count_body(struct conn *c, size_t from, size_t to)
{
    size_t n;

    if (c->out_body == SIZE_MAX || to <= c->out_body)
        return;
    n = to - (from > c->out_body ? from : c->out_body);
    c->req.sent += n;
    sb_conn_progress(c->env->slot, c->rec, n);
}

/* Sends the queued bytes; MSG_MORE when a body follows uncorked, so the
 * header waits for the body's first segment. Returns 0, -EAGAIN or -errno. */
static int conn_send_head(struct conn *c, bool *progress)
{
    bool more = c->body_fd >= 0 && c->body_off < c->body_end && !c->corked;

    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | (more ? MSG_MORE : 0));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        conn_count_body(c, c->out_off, c->out_off + (size_t)n);
        c->out_off += (size_t)n;
        c->out_total += (uint64_t)n;
        *progress = true;
    }
    return 0;
}

/* True when the last byte of the next chunk is in the page cache (or
 * unknown): sendfile will not wait for the disk. One 1-byte read that never
 * blocks (RWF_NOWAIT); the read-ahead that brought that byte in brought
 * the ones before it. */
static bool conn_chunk_cached(const struct conn *c, size_t len)
{
    struct iovec v = {.iov_base = &(char){0}, .iov_len = 1};

    return preadv2(c->body_fd, &v, 1, (off_t)(c->body_off + len - 1), RWF_NOWAIT) >= 0 ||
           errno != EAGAIN;
}

/* Sends the body in chunks: all it can, or one when the driver serves
 * many connections (env.one_chunk: fairness). Returns 0, -EAGAIN (the
 * socket is full, or the turn is over), -EINPROGRESS (the next chunk must
 * come from the disk first: conn_disk_range()), -ESPIPE when the file
 * shrank (never padded: the client sees the truncation) or -errno. */
static int conn_send_body(struct conn *c, bool *progress)
{
    while (c->body_off < c->body_end) {
        uint64_t left = c->body_end - c->body_off;
        size_t len = left < c->env->chunk ? (size_t)left : c->env->chunk;
        off_t off = (off_t)c->body_off;
        ssize_t n;

        if (c->env->disk_probe && !c->disk_ok && !conn_chunk_cached(c, len))
            return -EINPROGRESS;
        n = sendfile(c->fd, c->body_fd, &off, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
            return -ESPIPE;
        c->disk_ok = false;
        c->body_off += (uint64_t)n;
        c->req.sent += (uint64_t)n;
        c->out_total += (uint64_t)n;
        sb_conn_progress(c->env->slot, c->rec, (uint64_t)n);
        *progress = true;
        if (c->env->one_chunk && c->body_off < c->body_end)
            return -EAGAIN;
    }
    return 0;
}

void conn_disk_range(const struct conn *c, int *fd, uint64_t *off, size_t *len)
{
    uint64_t left = c->body_end - c->body_off;

    *fd = c->body_fd;
    *off = c->body_off;
    *len = left < c->env->chunk ? (size_t)left : c->env->chunk;
}

/* Bytes the client has acknowledged: what left this process, less what
 * the kernel still holds unacknowledged (SIOCOUTQ). Not what the kernel
 * accepted: a grown send buffer wakes a writer only once a third of it
 * drained, so a steady reader may take nothing "accepted" for a minute. */
static uint64_t conn_delivered(const struct conn *c)
{
    int queued = 0;

    if (ioctl(c->fd, SIOCOUTQ, &queued) < 0 || queued < 0 || (uint64_t)queued > c->out_total)
        return c->out_total; /* unknown: take all as delivered, never cut for it */
    return c->out_total - (uint64_t)queued;
}

/*
 * --min-rate: while a response is sent, every CONN_RATE_WINDOW_S seconds
 * the client must have acknowledged min_rate bytes a second, or it is
 * closed: a reader that keeps the writes progressing a few bytes at a time
 * would otherwise hold its connection (and, but in the event mode, a
 * process) for ever. The first window starts when a response first waits
 * for room (one sent at once needs none: no system call for it); one
 * window runs across the batches of one response (a listing), and the next
 * response starts afresh. Returns 0, or -1 with the trouble recorded.
 */
static int conn_rate_check(struct conn *c, int64_t now)
{
    uint64_t want = c->env->min_rate * CONN_RATE_WINDOW_S, delivered;

    if (c->env->min_rate == 0 || c->rate_end == 0 || now < c->rate_end)
        return 0;
    delivered = conn_delivered(c);
    if (delivered - c->rate_from < want) {
        conn_trouble(c, "client too slow: below --min-rate", 0, false);
        return -1;
    }
    c->rate_end = now + (int64_t)CONN_RATE_WINDOW_S * 1000000000;
    c->rate_from = delivered;
    return 0;
}

/* The request in hand, or trouble before any answer, gets its report
 * (once: a lingering close reports before it lingers). */
static void conn_report(struct conn *c, int64_t now)
{
    if (!c->reported && (c->req.active || (c->problem != NULL && c->requests == 0)))
        conn_request_end(c, now);
    c->reported = true;
}

/*
 * The lingering close. After an answer that ends the connection, the
 * client may still be sending (an echo past its limit, commands after the
 * lottery's END, a request body never read). close() with unread bytes,
 * or bytes arriving after it, makes the kernel send a reset, and a reset
 * makes the client's kernel discard what it holds of the answer, read or
 * not yet. So the write side is shut first (the FIN follows the answer;
 * the kernel sends what is queued even after close()), and arriving bytes
 * are read and discarded until the client closes, or stays quiet for
 * CONN_LINGER_QUIET_NS (then close() finds nothing unread: a clean
 * close), or CONN_LINGER_NS passed (as nginx's lingering_time: a client
 * that keeps sending does not hold the connection), or CONN_LINGER_BYTES
 * were discarded. A stop leaves a second at most. Returns CONN_READ, or
 * CONN_DONE when there is nothing to wait for.
 */
static enum conn_wait conn_drain(struct conn *c, int64_t now);

static enum conn_wait conn_drain_start(struct conn *c, int64_t now)
{
    int64_t io = (int64_t)c->env->io_timeout_ms * 1000000;

    c->draining = true;
    c->cut_on_stop = false; /* a stop shortens the linger (conn_stop) */
    if (shutdown(c->fd, SHUT_WR) < 0)
        return CONN_DONE;
    sb_conn_state(c->rec, SB_CLOSING);
    /* The answer is out: its log line now, not after the linger. */
    conn_report(c, now);
    c->in_len = 0;
    conn_trim(c); /* nothing more is parsed: no buffers while lingering */
    c->drain_until = now + (io < CONN_LINGER_NS ? io : CONN_LINGER_NS);
    c->drain_bytes = 0;
    c->read_deadline = now + CONN_LINGER_QUIET_NS;
    return conn_drain(c, now);
}

/* A lingering close's step: bytes came, or the quiet time is up. Returns
 * CONN_READ or CONN_DONE. */
static enum conn_wait conn_drain(struct conn *c, int64_t now)
{
    char sink[4096];
    bool quiet = true;

    for (int i = 0; i < 16; i++) { /* bounded: a fast sender cannot hold the loop */
        ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return c->want = CONN_DONE; /* closed (or reset): nothing left to save */
        if (n < 0 && errno == EAGAIN)
            break;
        c->drain_bytes += n > 0 ? (uint64_t)n : 0;
        quiet = quiet && n <= 0;
    }
    if ((quiet && now >= c->read_deadline) || now >= c->drain_until ||
        c->drain_bytes > CONN_LINGER_BYTES)
        return c->want = CONN_DONE;
    if (!quiet) /* the quiet time starts again */
        c->read_deadline = now + CONN_LINGER_QUIET_NS;
    if (c->read_deadline > c->drain_until)
        c->read_deadline = c->drain_until;
    return c->want = CONN_READ;
}

/* The response waits for room: its first --min-rate window begins. */
static void conn_rate_start(struct conn *c, int64_t now)
{
    if (c->env->min_rate == 0 || c->rate_end != 0)
        return;
    c->rate_end = now + (int64_t)CONN_RATE_WINDOW_S * 1000000000;
    c->rate_from = conn_delivered(c);
}

/*
 * The event driver: a body that fits behind its head in the output buffer
 * is read there with one read that never waits for the disk (RWF_NOWAIT),
 * which is the page-cache probe as well: head and body then leave in one
 * send, one system call fewer than a probe, a send and a sendfile.
 * Returns 0 (read, or not for here: sendfile sends it), or -EINPROGRESS
 * when it is not in the page cache.
 */
static int conn_inline_body(struct conn *c)
{
    uint64_t len = c->body_end - c->body_off;
    struct iovec v;
    ssize_t n;

    if (!c->env->disk_probe || c->body_fd < 0 || len == 0 || c->disk_ok ||
        len > CONN_OUT_CAP - c->out_len)
        return 0;
    v = (struct iovec){.iov_base = c->out + c->out_len, .iov_len = (size_t)len};
    n = preadv2(c->body_fd, &v, 1, (off_t)c->body_off, RWF_NOWAIT);
    if (n < 0 && errno == EAGAIN)
        return -EINPROGRESS;
    if (n != (ssize_t)len) /* short (shrank, or partly cached) or failed: sendfile tells */
        return 0;
    if (c->out_body == SIZE_MAX)
        c->out_body = c->out_len;
    c->out_len += (size_t)len;
    c->body_off = c->body_end;
    return 0;
}

/* Sends what is queued. Returns 0 when all is sent, -EAGAIN,
 * -EINPROGRESS (the body must come from the disk first), or -1 with the
 * trouble recorded. */
static int conn_flush(struct conn *c, int64_t now)
{
    bool progress = false;
    int rc;

    if (conn_rate_check(c, now) < 0)
        return -1;
    rc = conn_inline_body(c);
    if (rc == 0)
        rc = conn_cork(c);

    if (rc == 0)
        rc = conn_send_head(c, &progress);
    if (rc == 0)
        rc = conn_send_body(c, &progress);
    if (progress || c->write_deadline == 0) /* --io-timeout: without progress */
        c->write_deadline = now + (int64_t)c->env->io_timeout_ms * 1000000;
    if (rc == -EAGAIN || rc == -EINPROGRESS) {
        conn_rate_start(c, now);
        return rc;
    }
    if (rc == -ESPIPE) {
        conn_trouble(c, "file shrank", 0, true);
        return -1;
    }
    if (rc < 0) {
        conn_io_failed(c, -rc);
        return -1;
    }
    c->out_len = c->out_off = 0;
    c->out_body = SIZE_MAX;
    if (c->body_fd >= 0)
        close(c->body_fd);
    c->body_fd = -1;
    c->write_deadline = 0;
    /* A response the connection outlives must leave now, not at close:
     * uncork, once; later responses go out with MSG_MORE instead. */
    if (c->corked && !c->close_after && (rc = conn_set_cork(c, false)) < 0) {
        conn_io_failed(c, -rc);
        return -1;
    }
    return 0;
}

enum conn_wait conn_ready(struct conn *c, int64_t now)
{
    c->wall = time(NULL); /* the vDSO: no system call */
    if (c->want != CONN_DONE && !c->draining && conn_out_alloc(c) < 0)
        return conn_trouble(c, "out of memory", ENOMEM, true);
    for (;;) {
        int rc;

        switch (c->want) {
        case CONN_DONE:
            /* An answer that ends the connection, bytes perhaps still
             * coming, the socket sound: linger. */
            if (c->linger && !c->draining && !c->broken)
                return conn_drain_start(c, now);
            return CONN_DONE;
        case CONN_READ:
            if (c->draining)
                return conn_drain(c, now);
            if (conn_read_step(c, now) == CONN_READ)
                return CONN_READ;
            break;
        case CONN_DISK: /* the driver read the chunk ahead: send it */
            c->disk_ok = true;
            c->want = CONN_WRITE;
            if (c->rate_end != 0) /* the disk's time is not the client's */
                c->rate_end += now - c->disk_since;
            break;
        case CONN_WRITE:
            if ((rc = conn_flush(c, now)) == -EINPROGRESS) {
                c->disk_since = now;
                return c->want = CONN_DISK;
            }
            if (rc == -EAGAIN)
                return CONN_WRITE;
            c->want = rc < 0 ? CONN_DONE : c->h->sent(c, now);
            if (c->want != CONN_WRITE) /* the response is over: the next has its own windows */
                c->rate_end = 0;
            break;
        }
    }
}

int64_t conn_deadline(const struct conn *c)
{
    if (c->want == CONN_DISK) /* the disk is slow, not the client: the send's bound */
        return c->write_deadline;
    if (c->want != CONN_WRITE)
        return c->read_deadline;
    return c->rate_end != 0 && c->rate_end < c->write_deadline ? c->rate_end : c->write_deadline;
}

enum conn_wait conn_expired(struct conn *c, int64_t now)
{
    if (c->want == CONN_DISK)
        return conn_trouble(c, "timed out reading the file", ETIMEDOUT, true);
    if (c->draining)
        return conn_drain(c, now);
    if (c->want == CONN_WRITE && now < c->write_deadline) /* a --min-rate window ended */
        return conn_rate_check(c, now) < 0 ? CONN_DONE : CONN_WRITE;
    if (c->want == CONN_WRITE)
        return conn_trouble(c, "timed out", ETIMEDOUT, false);
    if (c->want == CONN_READ) {
        c->wall = time(NULL);
        if (conn_out_alloc(c) < 0) /* a handler answers in it (408) */
            return conn_trouble(c, "out of memory", ENOMEM, true);
        c->want = c->h->expired(c, now);
        return conn_ready(c, now);
    }
    return c->want;
}

enum conn_wait conn_stop(struct conn *c, int64_t now)
{
    if (c->draining && c->drain_until > now + 1000000000LL) { /* a second to finish */
        c->drain_until = now + 1000000000LL;
        if (c->read_deadline > c->drain_until)
            c->read_deadline = c->drain_until;
    }
    if (c->want != CONN_READ || !c->cut_on_stop)
        return c->want;
    /* An idle persistent connection just closes; a service's idle session
     * closes too, but its client loses a conversation: said. A request
     * begun is cut. */
    if (!conn_idle(c))
        return conn_trouble(c, "cut by stop before the request was complete", 0, false);
    if (c->req.answered)
        return conn_trouble(c, "closed by stop while idle", 0, false);
    return c->want = CONN_DONE;
}

bool conn_idle(const struct conn *c)
{
    return c->want == CONN_READ && c->cut_on_stop && c->in_len == 0 &&
           (c->req.answered || (c->requests > 0 && !c->req.active));
}

enum conn_wait conn_cut(struct conn *c, const char *problem, int err)
{
    return conn_trouble(c, problem, err, false);
}

/*
 * After an error answer the client may still have request bytes in flight
 * (a longer request of a future version, a body we did not read). Closing
 * with unread data makes the kernel send RST, which can destroy the answer
 * before the client reads it; so send the answer and FIN first, then
 * discard what has already arrived. Bounded: never waits for more.
 */
static void conn_linger(struct conn *c)
{
    char sink[4096];

    shutdown(c->fd, SHUT_WR);
    for (int i = 0; i < 16 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
}

void conn_close(struct conn *c, int64_t now)
{
    if (c->h->finish != NULL)
        c->h->finish(c);
    if (c->body_fd >= 0)
        close(c->body_fd);
    c->body_fd = -1;
    conn_report(c, now);
    if (c->linger && !c->draining) /* closed without its lingering turn (a cut) */
        conn_linger(c);
    if (c->reset) /* close() now sends a reset and keeps no TIME_WAIT */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &(struct linger){.l_onoff = 1, .l_linger = 0},
                   sizeof(struct linger));
    sb_conn_end(c->env->slot, c->rec, now);
    close(c->fd);
    c->fd = -1;
}

int conn_put(struct conn *c, const void *p, size_t n)
{
    if (n > CONN_OUT_CAP - c->out_len)
        return -ENOBUFS;
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

int conn_put_body(struct conn *c, const void *p, size_t n)
{
    size_t at = c->out_len;
    int rc = conn_put(c, p, n);

    if (rc == 0 && c->out_body == SIZE_MAX)
        c->out_body = at;
    return rc;
}

uint8_t *conn_room(struct conn *c, size_t *room)
{
    *room = CONN_OUT_CAP - c->out_len;
    return c->out + c->out_len;
}

void conn_commit(struct conn *c, size_t n)
{
    c->out_len += n;
}

void conn_commit_body(struct conn *c, size_t n)
{
    if (c->out_body == SIZE_MAX)
        c->out_body = c->out_len;
    c->out_len += n;
}

void conn_body(struct conn *c, int file, uint64_t off, uint64_t end)
{
    c->body_fd = file;
    c->body_off = off;
    c->body_end = end;
}

void conn_consume(struct conn *c, size_t n)
{
    if (n >= c->in_len) {
        c->in_len = 0;
        return;
    }
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

void conn_answer(struct conn *c, enum sb_outcome outcome, int code, const char *status,
                 uint64_t size, enum sb_state next)
{
    struct conn_req *r = &c->req;

    r->active = r->answered = true;
    r->outcome = outcome;
    r->code = code;
    if (status != r->status) /* a handler may have formatted it in place */
        strncpy(r->status, status, sizeof(r->status) - 1);
    r->size = size;
    c->requests++;
    sb_req_answer(c->env->slot, c->rec, outcome, r->target[0] ? r->target : NULL, size, next);
}

void conn_request_end(struct conn *c, int64_t now)
{
    if (c->env->report != NULL)
        c->env->report(c, now);
    memset(&c->req, 0, sizeof(c->req));
}
