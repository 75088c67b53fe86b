/*
 * serve: protocol v1 over one blocking socket. See serve.h.
 */
#include "worker/serve.h"

#include "common/log.h"
#include "common/name.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* openat() errors -> what the client is told; anything else is ours. */
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

/* Reads the request into buf. Returns 0 (req parsed), 1 (the header alone
 * decided req->status) or -1 (no answer possible: closed, reset, timeout). */
static int serve_read_request(const struct serve_ctx *ctx, int fd, uint8_t *buf,
                              struct wire_request *req, struct serve_result *res)
{
    size_t len = 0, need = WIRE_REQUEST_MAX;

    res->phase = "request";
    for (;;) {
        ssize_t n = recv(fd, buf + len, need - len, 0);
        int rc;

        if (n == 0)
            return serve_trouble(res, "client closed early", 0);
        if (n < 0) {
            if (serve_io_failed(ctx, res) < 0)
                return -1;
            continue;
        }
        len += (size_t)n;
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

/* Opens name in the served directory. Returns the fd with *size set, or
 * -1 with *status saying what to answer. */
static int serve_open(const struct serve_ctx *ctx, const char *name, uint64_t *size,
                      enum wire_status *status)
{
    struct stat st;
    int fd = openat(ctx->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        *status = serve_status_of(errno);
        return -1;
    }
    /* Decide from the opened file itself: no stat-then-open race. */
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

/* Waits for READY/REFUSE. Returns 0 on READY, -1 otherwise (res says why). */
static int serve_await_ready(const struct serve_ctx *ctx, int fd, struct serve_result *res)
{
    uint8_t b;
    ssize_t n;

    res->phase = "ready";
    while ((n = recv(fd, &b, 1, 0)) != 1) {
        if (n == 0)
            return serve_trouble(res, "client closed early", 0);
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
    if (nonblocking && fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK) < 0)
        return serve_io_failed(ctx, res);
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
                struct serve_result *res)
{
    uint8_t buf[WIRE_REQUEST_MAX];
    struct wire_request req;
    int rc;

    memset(res, 0, sizeof(*res));
    sb_conn_begin(ctx->slot, peer);
    rc = serve_read_request(ctx, fd, buf, &req, res);
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
    sb_set_state(ctx->slot, SB_CLOSING);
    close(fd);
}
