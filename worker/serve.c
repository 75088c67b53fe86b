/*
 * serve: protocol v1 over one blocking socket. See serve.h.
 */
#include "worker/serve.h"

#include "common/log.h"
#include "common/name.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* fstatat()/openat() errors -> what the client is told; anything else is ours. */
static const struct {
    int err;
    enum wire_status status;
} serve_open_errors[] = {
    {ENOENT, WIRE_NOT_FOUND},     {ENAMETOOLONG, WIRE_INVALID_NAME},
    {ELOOP, WIRE_NOT_REGULAR}, /* a symlink, refused by O_NOFOLLOW */
    {ENXIO, WIRE_NOT_REGULAR}, /* a socket, or a device without driver */
    {ENODEV, WIRE_NOT_REGULAR},   {EISDIR, WIRE_NOT_REGULAR},
    {EACCES, WIRE_ACCESS_DENIED}, {EPERM, WIRE_ACCESS_DENIED},
};

static enum wire_status serve_status_of(int err)
{
    for (size_t i = 0; i < sizeof(serve_open_errors) / sizeof(serve_open_errors[0]); i++) {
        if (serve_open_errors[i].err == err)
            return serve_open_errors[i].status;
    }
    return WIRE_SERVER_ERROR;
}

/* Records why the connection ends early; returns -1. */
static int serve_trouble(struct serve_result *res, const char *problem, int err)
{
    res->problem = problem;
    res->err = err;
    return -1;
}

/*
 * Classifies a failed socket call (errno set). Returns 0 when the call
 * should be resumed (a signal arrived and we are not aborting), or -1 with
 * res saying why the connection ends.
 */
static int serve_io_failed(const struct serve_ctx *ctx, struct serve_result *res)
{
    switch (errno) {
    case EINTR:
        if (ctx->abort == NULL || !*ctx->abort)
            return 0;
        return serve_trouble(res, "cut by shutdown", EINTR);
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        /* SO_RCVTIMEO/SO_SNDTIMEO expired: the client stalled. */
        return serve_trouble(res, "timed out", ETIMEDOUT);
    case EPIPE:
    case ECONNRESET:
        return serve_trouble(res, "client vanished", errno);
    default: /* unexpected (EIO reading the file, ENOMEM...): worth a warning */
        res->server_fault = true;
        return serve_trouble(res, "I/O error", errno);
    }
}

/* Empties the wake-up eventfd: the flags it woke us for are the truth,
 * and the accept loop re-checks them between connections. */
static void serve_drain_wake(int wake_fd)
{
    uint64_t v;

    if (read(wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: another wait drained it first */
    }
}

/*
 * Waits until fd is readable, until deadline_ns. With cut_on_stop, a stop
 * request ends the wait at once (the wake fd interrupts it). Returns 0
 * when readable, or -1 with res saying why not.
 */
static int serve_wait_readable(const struct serve_ctx *ctx, int fd, int64_t deadline_ns,
                               bool cut_on_stop, struct serve_result *res)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = ctx->wake_fd, .events = POLLIN}};
    nfds_t np = cut_on_stop && ctx->wake_fd >= 0 ? 2 : 1;

    for (;;) {
        int64_t left = deadline_ns - clock_now_ns();
        int n;

        if (ctx->abort != NULL && *ctx->abort)
            return serve_trouble(res, "cut by shutdown", EINTR);
        if (cut_on_stop && ctx->stop != NULL && *ctx->stop)
            return serve_trouble(res, "cut by stop before the request was complete", 0);
        if (left <= 0)
            return serve_trouble(res, "timed out", ETIMEDOUT);
        n = poll(p, np, (int)((left + 999999) / 1000000));
        if (n < 0 && errno != EINTR) {
            res->server_fault = true;
            return serve_trouble(res, "poll failed", errno);
        }
        if (n > 0 && p[0].revents != 0)
            return 0; /* readable, or an error the next recv() reports */
        if (n > 0 && np == 2 && p[1].revents != 0)
            serve_drain_wake(ctx->wake_fd);
    }
}

/*
 * Reads the request into buf within --request-timeout of accepted_ns:
 * one deadline for the whole request, however the bytes trickle in.
 * Returns 0 (req parsed), 1 (the header alone decided req->status) or -1
 * (no answer possible: closed, reset, timed out, cut by a stop).
 */
static int serve_read_request(const struct serve_ctx *ctx, int fd, int64_t accepted_ns,
                              uint8_t *buf, struct wire_request *req, struct serve_result *res)
{
    int64_t deadline = accepted_ns + (int64_t)ctx->request_timeout_ms * 1000000;
    size_t len = 0, need = WIRE_REQUEST_MAX;

    res->phase = "request";
    for (;;) {
        /* Deferred accept means the bytes are usually here: one recv(). */
        ssize_t n = recv(fd, buf + len, need - len, MSG_DONTWAIT);
        int rc;

        if (n == 0)
            return serve_trouble(res, "client closed early", 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (serve_wait_readable(ctx, fd, deadline, true, res) < 0)
                return -1;
            continue;
        }
        if (n < 0) {
            if (serve_io_failed(ctx, res) < 0)
                return -1;
            continue;
        }
        len += (size_t)n;
        sb_conn_received(ctx->slot, (uint32_t)n);
        rc = wire_request_parse(buf, len, req, &need);
        if (rc == 0)
            return 0;
        if (rc == -EPROTO)
            return 1;
    }
}

/* Writes all len bytes, resuming after signals and short writes. */
static int serve_write_all(const struct serve_ctx *ctx, int fd, const void *buf, size_t len,
                           struct serve_result *res)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (serve_io_failed(ctx, res) < 0)
                return -1;
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int serve_answer(const struct serve_ctx *ctx, int fd, enum wire_status status,
                        const char *file, uint64_t size, struct serve_result *res)
{
    uint8_t out[WIRE_RESPONSE_LEN];

    wire_response_encode(out, status, size);
    log_debug("-> FILE_RESPONSE version=%u type=0x%02x status=%s(%u) size=%llu", WIRE_VERSION,
              WIRE_FILE_RESPONSE, wire_status_name(status), status, (unsigned long long)size);
    res->phase = "response";
    if (serve_write_all(ctx, fd, out, sizeof(out), res) < 0)
        return -1;
    res->answered = true;
    res->status = status;
    res->size = size;
    sb_conn_answer(ctx->slot, status, file, size);
    return 0;
}

/* Opens name in the served directory, if it is a regular file. Returns
 * the fd with *size set, or -1 with *status saying what to answer. */
static int serve_open(const struct serve_ctx *ctx, const char *name, uint64_t *size,
                      enum wire_status *status)
{
    struct stat st;
    int fd;

    /* Judge the entry before opening it: opening a FIFO would wake a
     * writer blocked on it, and a device's open may have side effects. */
    if (fstatat(ctx->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        *status = serve_status_of(errno);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *status = WIRE_NOT_REGULAR;
        return -1;
    }
    /* O_NONBLOCK and O_NOFOLLOW in case the entry was swapped meanwhile. */
    fd = openat(ctx->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *status = serve_status_of(errno);
        return -1;
    }
    /* The size, and the final word, come from the opened file itself. */
    *status = WIRE_OK;
    if (fstat(fd, &st) < 0)
        *status = WIRE_SERVER_ERROR;
    else if (!S_ISREG(st.st_mode))
        *status = WIRE_NOT_REGULAR;
    if (*status != WIRE_OK) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/*
 * Waits for READY/REFUSE, within --request-timeout of the response: the
 * listener's SO_RCVTIMEO bounds the blocking recv() of one byte; after a
 * signal the rest of the wait is made against the same deadline. A stop
 * request does not cut it: the client has its answer and is in flight.
 * Returns 0 on READY, -1 otherwise (res says why).
 */
static int serve_await_ready(const struct serve_ctx *ctx, int fd, struct serve_result *res)
{
    int64_t deadline = clock_now_ns() + (int64_t)ctx->request_timeout_ms * 1000000;
    uint8_t b;
    ssize_t n;

    res->phase = "ready";
    while ((n = recv(fd, &b, 1, 0)) != 1) {
        if (n == 0)
            return serve_trouble(res, "client closed early", 0);
        if (errno == EINTR && !(ctx->abort != NULL && *ctx->abort)) {
            if (serve_wait_readable(ctx, fd, deadline, false, res) < 0)
                return -1;
            continue;
        }
        if (serve_io_failed(ctx, res) < 0)
            return -1;
    }
    log_debug("<- %s (0x%02x)", b == WIRE_READY ? "READY" : b == WIRE_REFUSE ? "REFUSE" : "?", b);
    if (b == WIRE_REFUSE) {
        res->refused = true;
        return -1;
    }
    if (b != WIRE_READY)
        return serve_trouble(res, "unexpected byte instead of READY", EPROTO);
    return 0;
}

/* Waits until fd can take more bytes, within the I/O timeout. */
static int serve_wait_writable(const struct serve_ctx *ctx, int fd, struct serve_result *res)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    for (;;) {
        int n = poll(&p, 1, ctx->io_timeout_ms);

        if (n > 0)
            return 0; /* writable, or an error the next sendfile() reports */
        if (n == 0)
            return serve_trouble(res, "timed out", ETIMEDOUT);
        if (serve_io_failed(ctx, res) < 0)
            return -1;
    }
}

/* Prepares the socket for the body: corked, so that the last segment
 * and the FIN leave together (one segment fewer per file) and a large
 * body leaves in full-sized segments (half the segments of a 256 MiB
 * stream, and faster: docs/BENCHMARKS.md), and non-blocking when
 * nonblocking. Returns 0 or -1 (res says why). */
static int serve_content_setup(int fd, bool nonblocking, struct serve_result *res)
{
    int one = 1, flags;

    if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) < 0) {
        res->server_fault = true;
        return serve_trouble(res, "cannot cork the socket", errno);
    }
    if (!nonblocking)
        return 0;
    if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        res->server_fault = true;
        return serve_trouble(res, "cannot make the socket non-blocking", errno);
    }
    return 0;
}

/*
 * Sends exactly res->size bytes of file in chunks. A body that fits in one
 * chunk goes out with one blocking sendfile(). A larger one is sent with
 * the socket non-blocking, waiting for room with poll(): a blocking
 * sendfile() that fills the socket sleeps inside the splice path, which
 * measured 40% slower on a single fast stream (docs/BENCHMARKS.md).
 * Returns 0 or -1.
 */
static int serve_content(const struct serve_ctx *ctx, int fd, int file, struct serve_result *res)
{
    bool nonblocking = res->size > ctx->chunk;
    off_t off = 0;

    res->phase = "content";
    sb_set_state(ctx->slot, SB_SENDING);
    if (serve_content_setup(fd, nonblocking, res) < 0)
        return -1;
    while (res->sent < res->size) {
        uint64_t left = res->size - res->sent;
        ssize_t n;

        /* A stop that arrived between two calls interrupted nothing. */
        if (ctx->abort != NULL && *ctx->abort)
            return serve_trouble(res, "cut by shutdown", EINTR);
        n = sendfile(fd, file, &off, left < ctx->chunk ? (size_t)left : ctx->chunk);

        if (n > 0) {
            res->sent += (uint64_t)n;
            sb_conn_progress(ctx->slot, (uint64_t)n);
        } else if (n == 0) { /* never pad: the client reports the truncation */
            res->server_fault = true;
            return serve_trouble(res, "file shrank", 0);
        } else if (nonblocking && errno == EAGAIN) {
            if (serve_wait_writable(ctx, fd, res) < 0)
                return -1;
        } else if (serve_io_failed(ctx, res) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The exchange after a complete, well-formed request header. */
static void serve_request(const struct serve_ctx *ctx, int fd, const struct wire_request *req,
                          struct serve_result *res)
{
    char name[WIRE_NAME_MAX + 1];
    enum wire_status status = WIRE_INVALID_NAME;
    uint64_t size = 0;
    int file = -1;

    if (name_valid(req->name, req->name_len)) {
        memcpy(name, req->name, req->name_len);
        name[req->name_len] = '\0';
        file = serve_open(ctx, name, &size, &status);
    }
    if (serve_answer(ctx, fd, status, file >= 0 ? name : NULL, size, res) == 0 && file >= 0 &&
        serve_await_ready(ctx, fd, res) == 0)
        serve_content(ctx, fd, file, res);
    if (file >= 0)
        close(file);
}

/*
 * After an error answer the client may still have request bytes in flight
 * (a longer request of a future version, a name we did not read). Closing
 * with unread data makes the kernel send RST, which can destroy the answer
 * before the client reads it; so send the answer and FIN first, then
 * discard what has already arrived. Bounded: never waits for more.
 */
static void serve_linger(int fd)
{
    char sink[4096];

    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
}

void serve_conn(const struct serve_ctx *ctx, int fd, const struct sockaddr *peer,
                int64_t accepted_ns, struct serve_result *res)
{
    uint8_t buf[WIRE_REQUEST_MAX];
    struct wire_request req;
    int rc;

    memset(res, 0, sizeof(*res));
    sb_conn_begin(ctx->slot, peer, accepted_ns);
    rc = serve_read_request(ctx, fd, accepted_ns, buf, &req, res);
    if (rc >= 0 && log_get_level() >= LOG_DEBUG)
        log_debug("<- FILE_REQUEST version=%u type=0x%02x name_len=%u", req.version, req.type,
                  req.name_len);
    if (rc == 0) {
        log_escape(res->name, sizeof(res->name), req.name, req.name_len);
        serve_request(ctx, fd, &req, res);
    } else if (rc == 1) { /* the header alone decided: answer, interpret nothing more */
        serve_answer(ctx, fd, req.status, NULL, 0, res);
    }
    if (res->answered && res->status != WIRE_OK)
        serve_linger(fd);
    sb_conn_end(ctx->slot, clock_now_ns());
    close(fd);
}
