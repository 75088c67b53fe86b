/*
 * hub: the loop of `ferry hub`. See hub.h.
 *
 * stdin is read through a buffer of our own, not stdio's, so that poll()
 * sees what is really left, and it is read only while the state machine
 * can queue another line: a script that pipes a thousand lines waits on
 * its pipe, not on our memory. Every datagram goes through the wire
 * (hubcli_wire.h) in both directions; the state machine (hubcli.h) never
 * sees bytes.
 */
#include "contrib/client/hub.h"

#include "common/clock.h"
#include "contrib/client/hubcli.h"
#include "contrib/client/hubcli_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

struct hub_run {
    const struct client_opts *o;
    struct hubcli_wire wire;
    struct hubcli *cli;
    int sock;
    bool in_eof;
    bool overlong;    /* the line being read is too long: the rest of it is skipped */
    unsigned dropped; /* lines of the buffer given up with the machine's (hubcli_eof()) */
    int out_err;      /* errno of a failed write to stdout, or 0 */
    enum hubcli_state traced;
    size_t len;
    char in[HUBCLI_LINE_MAX + 1]; /* stdin's bytes not yet taken as lines */
    uint8_t tx[HUBWIRE_MAX];
    uint8_t rx[HUBWIRE_MAX + 1]; /* one byte more: a longer datagram is seen as such */
};

static int hub_rnd(uint32_t *out)
{
    return getrandom(out, sizeof(*out), 0) == sizeof(*out) ? 0 : -EIO;
}

/* -v: one datagram, its payload as text; a login's password masked. */
static void hub_trace(const char *dir, const struct hubwire_msg *m)
{
    const char *name = hubwire_op_name(m->op);
    int shown = m->len;

    if (m->op == HUB_LOGIN) {
        const void *amp = memchr(m->payload, '&', m->len);
        shown = amp ? (int)((const uint8_t *)amp - m->payload) + 1 : 0;
    }
    fprintf(stderr, "%s %s token %08x msg_id %u", dir, name ? name : "?", (unsigned)m->token,
            (unsigned)m->msg_id);
    if (m->len > 0)
        fprintf(stderr, " \"%.*s%s\"", shown, (const char *)m->payload,
                shown < m->len ? "***" : "");
    fputc('\n', stderr);
}

/* ------------------------------------------------------------ the machine's I/O */

static void hub_send(void *ctx, const struct hubwire_msg *m)
{
    struct hub_run *r = ctx;
    int n = r->wire.encode(r->wire.ctx, m, r->tx);

    if (r->o->verbose)
        hub_trace(">", m);
    /* A datagram that cannot leave is one the network lost: the
     * retransmission, or the next keepalive, stands in for it. */
    if (n < 0 || send(r->sock, r->tx, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        if (r->o->verbose)
            fprintf(stderr, "* send: %s\n", strerror(n < 0 ? -n : errno));
    }
}

static void hub_print(void *ctx, const char *line)
{
    struct hub_run *r = ctx;

    if (r->out_err == 0 && (fputs(line, stdout) < 0 || fputc('\n', stdout) < 0))
        r->out_err = errno ? errno : EIO;
}

static void hub_warn(void *ctx, const char *msg)
{
    (void)ctx;
    fflush(stdout); /* what was printed before comes before, in a shared terminal */
    fprintf(stderr, "ferry: %s\n", msg);
}

/* -v: the state, each time it changes. */
static void hub_trace_state(struct hub_run *r)
{
    enum hubcli_state s = hubcli_state(r->cli);

    if (r->o->verbose && s != r->traced)
        fprintf(stderr, "* state %s\n", hubcli_state_name(s));
    r->traced = s;
}

/* ------------------------------------------------------------ the socket */

/* A connected UDP socket to the first address of o that takes one.
 * Returns it, or -1 with e set (EX_CONNECT). */
static int hub_connect(const struct client_opts *o, struct client_err *e)
{
    struct addrinfo *res, *ai;
    char where[ADDR_STR_MAX];
    int fd = -1, err = 0;
    int rc = addr_resolve_type(o->host, o->port, false, SOCK_DGRAM, &res);

    if (rc != 0) {
        client_fail(e, EX_CONNECT, "cannot resolve %s: %s", o->host,
                    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        } else if (fd < 0) {
            err = errno;
        }
        if (o->verbose)
            fprintf(stderr, "* udp %s: %s\n", addr_format(ai->ai_addr, where),
                    fd < 0 ? strerror(err) : "ok");
    }
    freeaddrinfo(res);
    if (fd < 0)
        client_fail(e, EX_CONNECT, "cannot reach %s port %s over UDP: %s", o->host, o->port,
                    strerror(err));
    return fd;
}

/* Takes every datagram waiting on the socket. */
static void hub_recv(struct hub_run *r)
{
    for (;;) {
        ssize_t n = recv(r->sock, r->rx, sizeof(r->rx), MSG_DONTWAIT);
        struct hubwire_msg m;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) { /* ECONNREFUSED: no hub there now; retransmission decides */
            if (r->o->verbose)
                fprintf(stderr, "* recv: %s\n", strerror(errno));
            continue;
        }
        if (r->wire.decode(r->wire.ctx, r->rx, (size_t)n, &m) < 0) {
            if (r->o->verbose)
                fprintf(stderr, "< %zd bytes dropped: not a %s hub datagram\n", n, r->wire.name);
            continue;
        }
        if (r->o->verbose)
            hub_trace("<", &m);
        hubcli_input(r->cli, &m, clock_now_ns());
        hub_trace_state(r);
    }
}

/* ------------------------------------------------------------ stdin */

/* Gives up the lines left in the buffer at the end of stdin, as the
 * machine gave up its own: the hub does not answer. */
static void hub_drop_lines(struct hub_run *r)
{
    for (size_t i = 0; i < r->len; i++)
        r->dropped += r->in[i] == '\n';
    r->dropped += (r->len > 0 && r->in[r->len - 1] != '\n') || (r->len == 0 && r->overlong);
    r->len = 0;
    r->overlong = false;
}

/* Hands the complete lines read so far to the machine, as far as it
 * takes them; at the end of stdin, the last line without its newline. */
static void hub_take_lines(struct hub_run *r)
{
    if (hubcli_given_up(r->cli) > 0) {
        hub_drop_lines(r);
        return;
    }
    for (;;) {
        char *nl = memchr(r->in, '\n', r->len);
        size_t take = nl ? (size_t)(nl - r->in) : r->len;

        if (!hubcli_can_take(r->cli))
            return;
        if (nl == NULL && !(r->in_eof && (r->len > 0 || r->overlong)))
            break;
        /* An overlong line is handed over as such, to be refused in turn. */
        hubcli_line(r->cli, r->in, r->overlong ? HUBCLI_LINE_MAX + 1 : take, clock_now_ns());
        hub_trace_state(r);
        r->overlong = false;
        take += nl != NULL;
        memmove(r->in, r->in + take, r->len - take);
        r->len -= take;
    }
    if (r->len == sizeof(r->in)) { /* no newline in a full buffer: skip to it */
        r->overlong = true;
        r->len = 0;
    }
}

/* Reads what stdin has. Returns EX_OK or EX_LOCAL with e set. */
static int hub_read(struct hub_run *r, struct client_err *e)
{
    ssize_t n = read(STDIN_FILENO, r->in + r->len, sizeof(r->in) - r->len);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return EX_OK;
    if (n < 0)
        return client_fail(e, EX_LOCAL, "reading stdin: %s", strerror(errno));
    if (n == 0) {
        r->in_eof = true;
        hubcli_eof(r->cli);
    }
    r->len += (size_t)n;
    return EX_OK;
}

/* ------------------------------------------------------------ the loop */

/* poll()'s timeout until the machine's next deadline, rounded up. */
static int hub_wait_ms(const struct hub_run *r)
{
    int64_t at = hubcli_deadline(r->cli), left;

    if (at == INT64_MAX)
        return -1;
    left = at - clock_now_ns();
    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Whether the run is over, stdin ended and every line handled: EX_OK, or
 * EX_TRANSFER when lines were given up because the hub stopped
 * answering; -1 while it goes on. */
static int hub_done(struct hub_run *r, struct client_err *e)
{
    unsigned lost = hubcli_given_up(r->cli) + r->dropped;

    if (!r->in_eof || r->len > 0 || r->overlong || !hubcli_idle(r->cli))
        return -1;
    if (lost > 0)
        return client_fail(e, EX_TRANSFER,
                           "hub: the hub does not answer; %u line%s of stdin not sent", lost,
                           lost == 1 ? "" : "s");
    return EX_OK;
}

static int hub_loop(struct hub_run *r, struct client_err *e)
{
    int rc;

    for (;;) {
        struct pollfd pf[2] = {{.fd = r->sock, .events = POLLIN},
                               {.fd = STDIN_FILENO, .events = POLLIN}};
        nfds_t nfds = 1;

        hub_take_lines(r);
        if (r->out_err != 0)
            return client_fail(e, EX_LOCAL, "writing stdout: %s", strerror(r->out_err));
        if ((rc = hub_done(r, e)) >= 0)
            return rc;
        if (!r->in_eof && hubcli_can_take(r->cli) && r->len < sizeof(r->in))
            nfds = 2;
        if (poll(pf, nfds, hub_wait_ms(r)) < 0 && errno != EINTR)
            return client_fail(e, EX_LOCAL, "poll: %s", strerror(errno));
        if (pf[0].revents != 0)
            hub_recv(r);
        if (nfds == 2 && pf[1].revents != 0 && (rc = hub_read(r, e)) != EX_OK)
            return rc;
        hubcli_tick(r->cli, clock_now_ns());
        hub_trace_state(r);
    }
}

/* The wire o asks for. Returns EX_OK or EX_USAGE with e set (ferry.c
 * refuses the secure wire before this). */
static int hub_wire_init(struct hub_run *r, struct client_err *e)
{
    /* TODO(issue 10): the secure wire, then the default. */
    if (r->o->hub_wire != NULL && strcmp(r->o->hub_wire, "plain") != 0)
        return client_fail(e, EX_USAGE, "hub: the %s wire is not built yet", r->o->hub_wire);
    return hubcli_wire_plain(&r->wire) == 0 ? EX_OK : client_fail(e, EX_LOCAL, "hub: no wire");
}

int hub_session(const struct client_opts *o, struct client_err *e)
{
    struct hub_run *r = calloc(1, sizeof(*r));
    struct hubcli_params p = {.rnd = hub_rnd};
    struct hubcli_io io;
    int rc;

    if (r == NULL)
        return client_fail(e, EX_LOCAL, "out of memory");
    r->o = o;
    r->sock = -1;
    io = (struct hubcli_io){.ctx = r, .send = hub_send, .print = hub_print, .warn = hub_warn};
    p.keepalive_ns = (int64_t)o->hub_keepalive_ms * 1000000;
    if (!isatty(STDOUT_FILENO)) /* a script reads each line as it is printed */
        setvbuf(stdout, NULL, _IOLBF, 0);
    rc = hub_wire_init(r, e);
    if (rc == EX_OK && (r->cli = hubcli_new(&p, &io)) == NULL)
        rc = client_fail(e, EX_LOCAL, "out of memory");
    if (rc == EX_OK && (r->sock = hub_connect(o, e)) < 0)
        rc = EX_CONNECT;
    if (rc == EX_OK)
        rc = hub_loop(r, e);
    if (fflush(stdout) != 0 && rc == EX_OK)
        rc = client_fail(e, EX_LOCAL, "writing stdout: %s", strerror(errno));
    if (r->sock >= 0)
        close(r->sock);
    hubcli_free(r->cli);
    hubcli_wire_free(&r->wire);
    free(r);
    return rc;
}
