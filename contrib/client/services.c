/*
 * services: the echo, upcase and daytime clients. See services.h.
 *
 * An echo server stops reading while its answer is not read, so a client
 * that wrote all of a large input before reading would wait on it for
 * ever. The echo here is one poll() loop over stdin and the socket: what
 * stdin gives is kept until its echo has come back and been checked, at
 * most ECHO_BUF of it, and the loop reads the socket whenever it can; a
 * full buffer only pauses stdin.
 */
#include "contrib/client/services.h"

#include "common/clock.h"
#include "common/size.h"
#include "contrib/client/net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BUF    (1 << 20)  /* stdin taken ahead of its echo, at most */
#define ECHO_CHUNK  (64 << 10) /* one recv() */
#define DAYTIME_MAX 1024       /* a longer answer is not a time */

/* One echo session. buf[back, len) is what the source gave that has not
 * come back yet: buf[back, sent) is on its way, buf[sent, len) not sent. */
struct echo_run {
    const struct client_opts *o;
    const char *cmd; /* "echo" or "upcase", for the summary */
    bool upcase;
    int sock;
    int in; /* stdin, or -1: all of TEXT is in buf already */
    uint8_t *buf, *rbuf;
    size_t cap, len, back, sent;
    bool in_eof;      /* the source is all in buf */
    bool wr_shut;     /* the write side is shut: the server saw the end */
    bool wr_dead;     /* sending failed: only the echo so far may come */
    int wr_err;       /* why: a reset is said as one, even when recv() then sees 0 */
    bool waiting;     /* the server owes bytes, since progress_ns */
    uint64_t tx, rx;  /* bytes sent, bytes back and checked */
    int64_t start_ns; /* the first byte's send, or 0 */
    int64_t progress_ns;
};

char *services_span(uint64_t timeout_ms, char *buf, size_t len)
{
    if (timeout_ms % 1000 == 0)
        snprintf(buf, len, "%llu s", (unsigned long long)(timeout_ms / 1000));
    else
        snprintf(buf, len, "%llu ms", (unsigned long long)timeout_ms);
    return buf;
}

const char *services_strerror(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK ? "timed out" : strerror(err);
}

/* The byte the server must send back for b. */
static uint8_t echo_expect(const struct echo_run *r, uint8_t b)
{
    return r->upcase && b >= 'a' && b <= 'z' ? (uint8_t)(b - 'a' + 'A') : b;
}

/* TEXT: the words joined by spaces, and a newline. Returns EX_OK or
 * EX_LOCAL. */
static int echo_text(struct echo_run *r, const char *const *words, int nwords, struct client_err *e)
{
    size_t len = 1;

    for (int i = 0; i < nwords; i++)
        len += strlen(words[i]) + (i > 0);
    if ((r->buf = malloc(len)) == NULL)
        return client_fail(e, EX_LOCAL, "out of memory");
    for (int i = 0; i < nwords; i++) {
        size_t n = strlen(words[i]);

        if (i > 0)
            r->buf[r->len++] = ' ';
        memcpy(r->buf + r->len, words[i], n);
        r->len += n;
    }
    r->buf[r->len++] = '\n';
    r->cap = r->len;
    r->in = -1;
    r->in_eof = true;
    return EX_OK;
}

/* The error for an echo that ended before it was whole. */
static int echo_short(const struct echo_run *r, int err, struct client_err *e)
{
    if (err == 0)
        return client_fail(e, EX_TRANSFER,
                           "the server closed the connection after echoing %llu of the %llu "
                           "bytes sent",
                           (unsigned long long)r->rx, (unsigned long long)r->tx);
    return client_fail(e, EX_TRANSFER,
                       "receiving the echo: %s (%llu of the %llu bytes sent came back)",
                       strerror(err), (unsigned long long)r->rx, (unsigned long long)r->tx);
}

/* Reads what stdin has into buf, making room first. Returns EX_OK or
 * EX_LOCAL. */
static int echo_fill(struct echo_run *r, struct client_err *e)
{
    ssize_t n;

    if (r->back == r->len) {
        r->back = r->sent = r->len = 0;
    } else if (r->len == r->cap) {
        memmove(r->buf, r->buf + r->back, r->len - r->back);
        r->len -= r->back;
        r->sent -= r->back;
        r->back = 0;
    }
    n = read(r->in, r->buf + r->len, r->cap - r->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return EX_OK;
    if (n < 0)
        return client_fail(e, EX_LOCAL, "reading stdin: %s", strerror(errno));
    if (n == 0)
        r->in_eof = true;
    r->len += (size_t)n;
    return EX_OK;
}

/* Sends what is there to send. A peer gone is not an error yet: the
 * echo it sent before going must still be read and checked. Returns EX_OK
 * or EX_TRANSFER. */
static int echo_send(struct echo_run *r, struct client_err *e)
{
    ssize_t n = send(r->sock, r->buf + r->sent, r->len - r->sent, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return EX_OK;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
        if (r->o->verbose)
            fprintf(stderr, "* send: %s after %llu bytes\n", strerror(errno),
                    (unsigned long long)r->tx);
        r->wr_dead = true;
        r->wr_err = errno; /* the socket's error is consumed: keep it */
        return EX_OK;
    }
    if (n < 0)
        return client_fail(e, EX_TRANSFER, "sending: %s", strerror(errno));
    if (r->o->verbose)
        fprintf(stderr, "> %zd bytes\n", n);
    r->sent += (size_t)n;
    r->tx += (uint64_t)n;
    r->progress_ns = clock_now_ns();
    if (r->start_ns == 0)
        r->start_ns = r->progress_ns;
    return EX_OK;
}

/* Checks n bytes that came back against what was sent, and writes the
 * good ones to stdout. Returns EX_OK, EX_TRANSFER or EX_LOCAL. */
static int echo_check(struct echo_run *r, size_t n, struct client_err *e)
{
    size_t owed = r->sent - r->back, ok = n < owed ? n : owed, i;

    for (i = 0; i < ok && r->rbuf[i] == echo_expect(r, r->buf[r->back + i]); i++)
        ;
    if (i > 0 && net_write_all(STDOUT_FILENO, r->rbuf, i) < 0)
        return client_fail(e, EX_LOCAL, "writing stdout: %s", strerror(errno));
    r->back += i;
    r->rx += i;
    if (i < ok)
        return client_fail(e, EX_TRANSFER,
                           "the echo differs from what was sent at offset %llu: 0x%02x, not "
                           "0x%02x%s",
                           (unsigned long long)r->rx, r->rbuf[i], echo_expect(r, r->buf[r->back]),
                           r->upcase ? " (the byte sent, upper-cased)" : "");
    if (n > owed)
        return client_fail(e, EX_TRANSFER,
                           "the server sent back more than it was sent: %llu bytes after the "
                           "%llu sent",
                           (unsigned long long)(n - owed), (unsigned long long)r->tx);
    return EX_OK;
}

/* Receives what the server echoed. Returns EX_OK or an exit code. */
static int echo_recv(struct echo_run *r, struct client_err *e)
{
    ssize_t n = recv(r->sock, r->rbuf, ECHO_CHUNK, MSG_DONTWAIT);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return EX_OK;
    if (n <= 0)
        return echo_short(r, n < 0 ? errno : r->wr_err == ECONNRESET ? ECONNRESET : 0, e);
    if (r->o->verbose)
        fprintf(stderr, "< %zd bytes\n", n);
    r->progress_ns = clock_now_ns();
    return echo_check(r, (size_t)n, e);
}

/* poll()'s timeout: none while the server owes nothing (stdin may take
 * its time), else what is left of o->timeout_ms since the last progress;
 * -2 when nothing is left. */
static int echo_wait_ms(struct echo_run *r)
{
    bool owed = r->back < r->len;
    int64_t left;

    if (owed && !r->waiting)
        r->progress_ns = clock_now_ns();
    r->waiting = owed;
    if (!owed)
        return -1;
    left = (r->progress_ns - clock_now_ns()) / 1000000 + (int64_t)r->o->timeout_ms;
    if (left <= 0)
        return -2;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Half-closes once everything is sent, so that the server sees the end. */
static void echo_shut(struct echo_run *r)
{
    if (!r->in_eof || r->sent < r->len || r->wr_shut || r->wr_dead)
        return;
    if (r->o->verbose)
        fprintf(stderr, "> end of input after %llu bytes (half-close)\n",
                (unsigned long long)r->tx);
    shutdown(r->sock, SHUT_WR);
    r->wr_shut = true;
}

/* Sends, receives and reads stdin until every byte came back. Returns
 * EX_OK or an exit code with e set. */
static int echo_loop(struct echo_run *r, struct client_err *e)
{
    char span[32];
    int rc = EX_OK;

    while (rc == EX_OK) {
        struct pollfd pf[2] = {{.fd = r->sock, .events = POLLIN}, {.fd = r->in, .events = POLLIN}};
        int nfds = 1, wait, n;

        echo_shut(r);
        if (r->in_eof && r->back == r->len)
            return EX_OK;
        if (r->sent < r->len && !r->wr_dead)
            pf[0].events |= POLLOUT;
        /* stdin waits while the buffer is full, and for good once the
         * server no longer takes anything. */
        if (!r->in_eof && !r->wr_dead && (r->len < r->cap || r->back > 0))
            nfds = 2;
        wait = echo_wait_ms(r);
        n = wait == -2 ? 0 : poll(pf, (nfds_t)nfds, wait);
        if (n == 0)
            return client_fail(e, EX_TRANSFER,
                               "timed out: nothing from the server for %s (%llu of the %llu "
                               "bytes sent came back)",
                               services_span(r->o->timeout_ms, span, sizeof(span)),
                               (unsigned long long)r->rx, (unsigned long long)r->tx);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return client_fail(e, EX_LOCAL, "poll: %s", strerror(errno));
        if (pf[0].revents & (POLLIN | POLLERR | POLLHUP))
            rc = echo_recv(r, e);
        if (rc == EX_OK && (pf[0].revents & POLLOUT))
            rc = echo_send(r, e);
        if (rc == EX_OK && nfds == 2 && pf[1].revents)
            rc = echo_fill(r, e);
    }
    return rc;
}

/* The line on stderr after a whole echo: the round trip of TEXT, or the
 * time and rate of stdin. */
static void echo_summary(const struct echo_run *r, int64_t end_ns)
{
    double ms = r->start_ns ? (double)(end_ns - r->start_ns) / 1e6 : 0;
    char rate[32];

    if (r->in < 0) {
        fprintf(stderr, "ferry: %s: %llu bytes, rtt %.2f ms\n", r->cmd, (unsigned long long)r->rx,
                ms);
        return;
    }
    size_format(ms > 0 ? (uint64_t)((double)r->rx * 1000 / ms) : 0, rate, sizeof(rate));
    if (ms < 1000)
        fprintf(stderr, "ferry: %s: %llu bytes in %.2f ms (%s/s)\n", r->cmd,
                (unsigned long long)r->rx, ms, rate);
    else
        fprintf(stderr, "ferry: %s: %llu bytes in %.2f s (%s/s)\n", r->cmd,
                (unsigned long long)r->rx, ms / 1000, rate);
}

int services_echo(const struct client_opts *o, bool upcase, const char *const *words, int nwords,
                  struct client_err *e)
{
    struct echo_run r = {.o = o,
                         .cmd = upcase ? "upcase" : "echo",
                         .upcase = upcase,
                         .sock = -1,
                         .in = STDIN_FILENO,
                         .cap = ECHO_BUF};
    int rc;

    if (nwords > 0)
        rc = echo_text(&r, words, nwords, e);
    else
        rc = (r.buf = malloc(r.cap)) ? EX_OK : client_fail(e, EX_LOCAL, "out of memory");
    if (rc == EX_OK && (r.rbuf = malloc(ECHO_CHUNK)) == NULL)
        rc = client_fail(e, EX_LOCAL, "out of memory");
    if (rc == EX_OK && (r.sock = net_connect(o, e)) < 0)
        rc = EX_CONNECT;
    if (rc == EX_OK)
        rc = echo_loop(&r, e);
    if (rc == EX_OK && !o->quiet)
        echo_summary(&r, clock_now_ns());
    if (r.sock >= 0)
        close(r.sock);
    free(r.buf);
    free(r.rbuf);
    return rc;
}

/* Prints the daytime answer: the \r of each line ending dropped, other
 * control bytes escaped, ending in a newline. Returns EX_OK or EX_LOCAL. */
static int daytime_print(const char *buf, size_t len, struct client_err *e)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\r' && (i + 1 == len || buf[i + 1] == '\n'))
            continue;
        if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f))
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    if (buf[len - 1] != '\n')
        putchar('\n');
    if (fflush(stdout) != 0 || ferror(stdout))
        return client_fail(e, EX_LOCAL, "writing stdout: %s", strerror(errno));
    return EX_OK;
}

int services_daytime(const struct client_opts *o, struct client_err *e)
{
    char buf[DAYTIME_MAX + 1];
    size_t len = 0;
    int fd = net_connect(o, e), rc = EX_OK;

    if (fd < 0)
        return EX_CONNECT;
    while (len <= DAYTIME_MAX) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);

        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = client_fail(e, EX_TRANSFER, "waiting for the time: %s", services_strerror(errno));
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (rc != EX_OK)
        return rc;
    if (len > DAYTIME_MAX)
        return client_fail(e, EX_TRANSFER,
                           "the answer is longer than %d bytes: not a daytime server?",
                           DAYTIME_MAX);
    if (o->verbose)
        fprintf(stderr, "< %zu bytes, then the server closed the connection\n", len);
    if (len == 0)
        return client_fail(e, EX_TRANSFER, "the server closed the connection without the time");
    return daytime_print(buf, len, e);
}
