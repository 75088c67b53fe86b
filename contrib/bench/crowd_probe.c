/*
 * crowd_probe: ferry-crowd's probe, the normal client measured while the
 * crowd exists, and the HTTP/1.1 response-head parsing the crowd shares
 * with it. The probe runs on a thread of its own with blocking-style I/O
 * under deadlines (poll()), so that its latency is the server's and not
 * the crowd loop's queueing.
 */
#include "crowd_probe.h"

#include "common/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MS  INT64_C(1000000)
#define SEC INT64_C(1000000000)

const char *const probe_err_name[PE_N] = {"connect", "timeout", "status", "short", "long", "io"};

/* ---- response heads ------------------------------------------------------ */

int probe_status(const char *p, size_t n)
{
    if (n < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
        return -1;
    return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

int probe_head_parse(const char *head, size_t n, struct probe_head *h)
{
    const char *line = memchr(head, '\n', n);

    h->status = probe_status(head, n);
    h->clen = -1;
    h->close = false;
    if (h->status < 0 || line == NULL)
        return -1;
    for (line++; line < head + n;) {
        const char *eol = strchr(line, '\n');

        if (eol == NULL)
            break;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            char *end;
            h->clen = strtoll(line + 15, &end, 10);
            if (end == line + 15 || h->clen < 0)
                return -1;
        } else if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *c = strcasestr(line, "close");
            h->close = c != NULL && c < eol;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            return -1; /* chunked: a static file server should not */
        }
        line = eol + 1;
    }
    return 0;
}

size_t probe_head_end(const char *p, size_t n)
{
    const char *e = memmem(p, n, "\r\n\r\n", 4);

    return e == NULL ? 0 : (size_t)(e - p) + 4;
}

/* ---- the probe ------------------------------------------------------------ */

/* Waits for events on fd until deadline. Returns 0, or -PE_TIMEOUT. */
static int probe_wait(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        int64_t left = deadline - clock_now_ns();
        int rc;

        if (left <= 0)
            return -PE_TIMEOUT;
        rc = poll(&pfd, 1, (int)((left + MS - 1) / MS));
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -PE_IO;
    }
}

/* recv() by the deadline. Returns the bytes (0 at EOF) or -PE_*. */
static ssize_t probe_recv(int fd, char *buf, size_t len, int64_t deadline)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
        int rc;

        if (n >= 0)
            return n;
        if (errno != EAGAIN && errno != EINTR)
            return -PE_IO;
        if ((rc = probe_wait(fd, POLLIN, deadline)) < 0)
            return rc;
    }
}

/* A new connection by the deadline. Returns the fd or -PE_*. */
static int probe_connect(const struct probe *p, int64_t deadline)
{
    int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0, rc = -PE_CONNECT;
    socklen_t len = sizeof(err);

    if (fd < 0)
        return -PE_CONNECT;
    if (connect(fd, (const struct sockaddr *)&p->addr, p->addrlen) == 0)
        return fd;
    if (errno == EINPROGRESS && (rc = probe_wait(fd, POLLOUT, deadline)) == 0) {
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            return fd;
        rc = -PE_CONNECT;
    }
    close(fd);
    return rc;
}

/* Reads a response head into head (PROBE_HEAD_MAX + 1). Returns the bytes read
 * (*hend: the head's length; the rest is body) or -PE_*; 0 when the
 * connection ended before the first byte. */
static ssize_t probe_read_head(int fd, char *head, size_t *hend, int64_t deadline)
{
    size_t have = 0;

    *hend = 0;
    while (*hend == 0) {
        ssize_t n = have < PROBE_HEAD_MAX
                        ? probe_recv(fd, head + have, PROBE_HEAD_MAX - have, deadline)
                        : -PE_STATUS;
        if (n < 0)
            return have == 0 && n == -PE_IO ? 0 : n;
        if (n == 0)
            return have == 0 ? 0 : -PE_SHORT;
        have += (size_t)n;
        head[have] = '\0';
        *hend = probe_head_end(head, have);
    }
    return (ssize_t)have;
}

/* Reads the body's rest (clen - have bytes); *t_last: when the last came.
 * Without keep-alive, then waits for EOF: a byte more is -PE_LONG. */
static int probe_body(struct probe *p, int fd, uint64_t have, uint64_t clen, int64_t deadline,
                      int64_t *t_last)
{
    ssize_t n;

    if (have > clen)
        return -PE_LONG;
    while (have < clen) {
        uint64_t left = clen - have;
        n = probe_recv(fd, p->buf, left < PROBE_BUF ? (size_t)left : PROBE_BUF, deadline);
        if (n <= 0)
            return n == 0 ? -PE_SHORT : (int)n;
        have += (uint64_t)n;
    }
    *t_last = clock_now_ns();
    if (p->keepalive)
        return 0;
    n = probe_recv(fd, p->buf, PROBE_BUF, deadline);
    return n == 0 ? 0 : n > 0 ? -PE_LONG : (int)n;
}

/* One request on *fd (a new connection when -1). Returns its latency in
 * ns or -PE_*; *fd is -1 afterwards unless kept alive. */
static int64_t probe_once(struct probe *p, int *fd)
{
    char head[PROBE_HEAD_MAX + 1];
    struct probe_head h = {0};
    int64_t t0 = clock_now_ns(), t_last = 0;
    int64_t deadline = t0 + p->timeout < p->hard_deadline ? t0 + p->timeout : p->hard_deadline;
    bool reused = *fd >= 0;
    size_t hend;
    ssize_t n;
    int rc;

again:
    if (*fd < 0 && (*fd = probe_connect(p, deadline)) < 0)
        return *fd;
    if (send(*fd, p->req, p->reqlen, MSG_NOSIGNAL) != (ssize_t)p->reqlen) {
        rc = -PE_IO;
        goto fail;
    }
    n = probe_read_head(*fd, head, &hend, deadline);
    if (n == 0 && reused) { /* the server had closed the kept-alive connection: once more */
        close(*fd);
        *fd = -1;
        reused = false;
        p->retries++;
        goto again;
    }
    rc = n <= 0 ? (n == 0 ? -PE_SHORT : (int)n) : 0;
    if (rc == 0 && (probe_head_parse(head, hend, &h) < 0 || h.status != 200 || h.clen < 0))
        rc = -PE_STATUS;
    if (rc == 0)
        rc = probe_body(p, *fd, (uint64_t)n - hend, (uint64_t)h.clen, deadline, &t_last);
    if (rc < 0)
        goto fail;
    if (!p->keepalive || h.close) {
        close(*fd);
        *fd = -1;
    }
    return t_last - t0;
fail:
    close(*fd);
    *fd = -1;
    return rc;
}

static void lat_record(struct probe *p, int64_t ns)
{
    if (p->nlat == p->caplat) {
        size_t cap = p->caplat ? p->caplat * 2 : 4096;
        int64_t *v = realloc(p->lat, cap * sizeof(*v));
        if (v == NULL)
            return;
        p->lat = v;
        p->caplat = cap;
    }
    p->lat[p->nlat++] = ns;
}

void *probe_run(void *arg)
{
    struct probe *p = arg;
    int64_t start = clock_now_ns(), end = start + p->duration, next = start, now;
    int fd = -1;

    if (end > p->hard_deadline)
        end = p->hard_deadline;
    while ((now = clock_now_ns()) < end) {
        int64_t r;

        if (now < next) {
            int64_t ns = (next < end ? next : end) - now;
            struct timespec ts = {.tv_sec = ns / SEC, .tv_nsec = ns % SEC};
            nanosleep(&ts, NULL);
            continue;
        }
        next = next + p->interval > now ? next + p->interval : now;
        r = probe_once(p, &fd);
        if (r >= 0)
            lat_record(p, r);
        else
            p->err[-r]++;
    }
    if (fd >= 0)
        close(fd);
    p->secs = (double)(clock_now_ns() - start) / 1e9;
    atomic_store(&p->done, true);
    return NULL;
}
