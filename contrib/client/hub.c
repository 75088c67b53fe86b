/*
 * hub: the loop of `ferry hub`. See hub.h.
 *
 * stdin is read through a buffer of our own, not stdio's, so that poll()
 * sees what is really left, and it is read only while the state machine
 * can queue another line: a script that pipes a thousand lines waits on
 * its pipe, not on our memory. Every datagram goes through the wire
 * (hubcli_wire.h) in both directions; the state machine (hubcli.h) never
 * sees bytes.
 *
 * What the loop does besides, when the machine asks (hubcli_io): the
 * secure login's checks (the hub's key against the pin, hubpin.c) and
 * its key derivation, an upload, a download (hubfile.c). Each of these
 * holds the loop while it runs: Argon2id about 60 ms; a transfer as long
 * as it takes (loopback moves the 64 MiB an upload may have in well
 * under the 4 s of a retransmission's back-off; datagrams that come
 * meanwhile wait in the socket's buffer, and a transfer longer than the
 * hub's patience, 23.5 s for an unacked forward, costs the session).
 */
#include "contrib/client/hub.h"

#include "common/clock.h"
#include "common/rand.h"
#include "common/wire.h"
#include "contrib/client/hubcli.h"
#include "contrib/client/hubcli_wire.h"
#include "contrib/client/hubfile.h"
#include "contrib/client/hubpass.h"
#include "contrib/client/hubpin.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(HUBPIN_MSG_MAX <= HUBCLI_WHY_MAX, "a pin's message fits the machine's");

struct hub_run {
    const struct client_opts *o;
    struct client_opts files; /* o, its port the files port: uploads and fetches */
    struct hubcli_wire wire;
    struct hubcli *cli;
    struct hubpin pin; /* the hub keys trusted */
    char hostport[ADDR_HOST_MAX + CLIENT_PORT_LEN + 4];
    int sock;
    bool tty; /* stdin is a terminal: a password is asked for on it */
    bool in_eof;
    bool overlong;    /* the line being read is too long: the rest of it is skipped */
    unsigned dropped; /* lines of the buffer given up with the machine's (hubcli_eof()) */
    int out_err;      /* errno of a failed write to stdout, or 0 */
    enum hubcli_state traced;
    size_t len;
    char in[HUBCLI_LINE_MAX + 1]; /* stdin's bytes not yet taken as lines */
    uint8_t tx[HUBWIRE_MAX];
    uint8_t rx[HUBWIRE_MAX + 1]; /* one byte more: a longer datagram is seen as such */
    char **fetched;              /* --auto-fetch: names this run put in the directory */
    size_t nfetched;
};

#define HUB_FETCHED_MAX 4096 /* names remembered; an older one is then not replaced */

/* -v: a datagram's payload. Text as it is, a plain login's password
 * masked; the secure handshake's binary payloads by what they are. */
static void hub_trace_payload(const struct hub_run *r, const struct hubwire_msg *m)
{
    bool secure = r->wire.hello != NULL;
    int shown = m->len;

    if (m->op == HUB_LOGIN && secure && m->len == HUBSEC_HELLO_LEN) {
        fprintf(stderr, " HELLO of \"%.*s\" (%u bytes)", m->payload[HUBSEC_PK],
                (const char *)m->payload + HUBSEC_PK + 1, m->len);
        return;
    }
    if (m->op == HUB_LOGIN_CHALLENGE || m->op == HUB_LOGIN_PROOF ||
        (m->op == HUB_LOGIN && secure)) {
        fprintf(stderr, " (%u bytes)", m->len);
        return;
    }
    if (m->op == HUB_LOGIN) {
        const void *amp = memchr(m->payload, '&', m->len);
        shown = amp ? (int)((const uint8_t *)amp - m->payload) + 1 : 0;
    }
    if (m->len > 0)
        fprintf(stderr, " \"%.*s%s\"", shown, (const char *)m->payload,
                shown < m->len ? "***" : "");
}

/* -v: one datagram; seq is its envelope's when it was sealed (0: in
 * clear). */
static void hub_trace(const struct hub_run *r, const char *dir, const struct hubwire_msg *m,
                      uint64_t seq)
{
    const char *name = hubwire_op_name(m->op);

    fprintf(stderr, "%s %s token %08x msg_id %u", dir, name ? name : "?", (unsigned)m->token,
            (unsigned)m->msg_id);
    hub_trace_payload(r, m);
    if (seq != 0)
        fprintf(stderr, " [sealed, seq %llu]", (unsigned long long)seq);
    fputc('\n', stderr);
}

/* -v: why the wire dropped a datagram (hubcli_wire.h). */
static void hub_trace_drop(const struct hub_run *r, ssize_t n, int rc)
{
    const char *why = rc == -EALREADY ? "replayed (its seq was opened already, or is older than "
                                        "the window)"
                      : rc == -EACCES ? "forged (its tag does not verify under the session's keys)"
                      : rc == -ENOKEY ? "sealed, with no session keys to open it"
                      : rc == -EPERM  ? "in clear, where only a sealed one is taken"
                                      : NULL;

    if (why != NULL)
        fprintf(stderr, "< %zd bytes dropped: %s\n", n, why);
    else
        fprintf(stderr, "< %zd bytes dropped: not a %s hub datagram\n", n, r->wire.name);
}

/* ------------------------------------------------------------ the machine's I/O */

static void hub_send(void *ctx, const struct hubwire_msg *m)
{
    struct hub_run *r = ctx;
    int n = r->wire.encode(r->wire.ctx, m, r->tx);

    if (r->o->verbose)
        hub_trace(r, ">", m,
                  n > HUBWIRE_HEADER + m->len ? wire_get_u64(r->tx + HUBWIRE_HEADER + m->len) : 0);
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

/* The secure login's steps, through the wire; between the CHALLENGE and
 * the PROOF, the hub's key is checked against the pin. */
static int hub_hello(void *ctx, const char *id, uint32_t nonce, uint8_t *payload)
{
    struct hub_run *r = ctx;

    return r->wire.hello(r->wire.ctx, id, nonce, payload);
}

static int hub_challenge(void *ctx, const struct hubwire_msg *m, const void *password, size_t len,
                         uint8_t *proof, char *why)
{
    struct hub_run *r = ctx;
    uint8_t key[HUBSEC_PK];
    int rc = r->wire.challenge(r->wire.ctx, m, key);

    if (rc < 0) {
        if (r->o->verbose)
            fprintf(stderr, "* challenge dropped: malformed, or the hub's signature does not "
                            "verify\n");
        return rc;
    }
    if ((rc = hubpin_check(&r->pin, key, why)) < 0)
        return rc;
    return r->wire.proof(r->wire.ctx, password, len, proof); /* Argon2id: ~60 ms */
}

static void hub_login_end(void *ctx, bool ok)
{
    struct hub_run *r = ctx;

    r->wire.login_end(r->wire.ctx, ok);
}

/* postfile#: the file checked, then sent (hubfile.c). */
static int hub_upload(void *ctx, const char *path, const char *name, uint32_t token, char *why)
{
    struct hub_run *r = ctx;
    struct hubfile_put q = {.o = &r->files,
                            .name = name,
                            .token = token,
                            .mac = r->wire.upload_mac,
                            .ctx = r->wire.ctx};
    struct hubfile_src src;
    struct client_err e;
    unsigned status;
    uint64_t size;

    if (hubfile_open(path, &src, &e) != EX_OK) {
        snprintf(why, HUBCLI_WHY_MAX, "hub: postfile#: %s; not sent", e.msg);
        return HUBCLI_UP_REFUSED;
    }
    if (hubfile_put(&q, &src, &status, &size, &e) != EX_OK) {
        snprintf(why, HUBCLI_WHY_MAX, "hub: postfile#%s: %s", path, e.msg);
        return HUBCLI_UP_FAILED;
    }
    if (status == WIRE_OK)
        return HUBCLI_UP_OK;
    snprintf(why, HUBCLI_WHY_MAX, "hub: postfile#%s: refused: %s (%s", path,
             wire_status_name(status), hubfile_put_status(status));
    if (status == WIRE_TOO_LARGE)
        snprintf(why + strlen(why), HUBCLI_WHY_MAX - strlen(why), ", %llu bytes",
                 (unsigned long long)size);
    snprintf(why + strlen(why), HUBCLI_WHY_MAX - strlen(why), ")");
    return HUBCLI_UP_FAILED;
}

/* --auto-fetch: the file announced, into the directory (hubfile.c). */
static bool hub_fetched_before(const struct hub_run *r, const char *name)
{
    for (size_t i = 0; i < r->nfetched; i++)
        if (strcmp(r->fetched[i], name) == 0)
            return true;
    return false;
}

/* Remembers name as fetched by this run (best effort: forgetting one only
 * means its next version is not fetched over it). */
static void hub_fetched_add(struct hub_run *r, const char *name)
{
    char **v;

    if (r->nfetched >= HUB_FETCHED_MAX || hub_fetched_before(r, name))
        return;
    if ((v = realloc(r->fetched, (r->nfetched + 1) * sizeof(*v))) == NULL)
        return;
    r->fetched = v;
    if ((v[r->nfetched] = strdup(name)) != NULL)
        r->nfetched++;
}

static int hub_fetch(void *ctx, const char *name, uint64_t size, const uint8_t sha256[32],
                     char *why)
{
    struct hub_run *r = ctx;
    struct client_err e;

    if (hubfile_fetch(&r->files, r->o->auto_fetch, name, size, sha256, hub_fetched_before(r, name),
                      &e) == EX_OK) {
        hub_fetched_add(r, name);
        return 0;
    }
    snprintf(why, HUBCLI_WHY_MAX, "hub: fetching %s: %s", name, e.msg);
    return -1;
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
        int rc;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) { /* ECONNREFUSED: no hub there now; retransmission decides */
            if (r->o->verbose)
                fprintf(stderr, "* recv: %s\n", strerror(errno));
            continue;
        }
        if ((rc = r->wire.decode(r->wire.ctx, r->rx, (size_t)n, &m)) < 0) {
            if (r->o->verbose)
                hub_trace_drop(r, n, rc);
            continue;
        }
        if (r->o->verbose)
            hub_trace(r, "<", &m, m.secure ? m.seq : 0);
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
    sodium_memzero(r->in, r->len);
    r->len = 0;
    r->overlong = false;
}

/* Takes the first n bytes of stdin's buffer away; what they leave
 * behind is wiped (a password may have been there). */
static void hub_consume(struct hub_run *r, size_t n)
{
    memmove(r->in, r->in + n, r->len - n);
    r->len -= n;
    sodium_memzero(r->in + r->len, n);
}

/* Whether the len bytes at p are "login#ID" with no password, the form
 * that asks for one; *len loses a final '\r'. */
static bool hub_bare_login(const char *p, size_t *len)
{
    if (*len > 0 && p[*len - 1] == '\r')
        (*len)--;
    return *len > 6 && memcmp(p, "login#", 6) == 0 && memchr(p, '&', *len) == NULL;
}

/* The password on the terminal, for the id of len bytes at id. Returns
 * its length, or -errno (said on stderr). */
static ssize_t hub_prompt(struct hub_run *r, const char *id, size_t len, char *pw, size_t cap)
{
    char prompt[HUBWIRE_ID_MAX + sizeof(r->hostport) + 64];
    ssize_t n;

    fflush(stdout);
    snprintf(prompt, sizeof(prompt),
             "ferry: password for %.*s at %s: ", (int)(len > HUBWIRE_ID_MAX ? HUBWIRE_ID_MAX : len),
             id, r->hostport);
    if ((n = hubpass_read(prompt, pw, cap)) < 0)
        fprintf(stderr, "ferry: hub: cannot read a password on the terminal: %s\n",
                n == -ENXIO ? "there is none" : strerror((int)-n));
    return n;
}

/* The line of stdin that starts at byte at, as a password, into pw.
 * Returns its length (*end: where it ends, its newline included), -EAGAIN
 * while it has not come, or -ENODATA when none will (stdin ended, or a
 * full buffer: an overlong line comes, refused as such). A line too long
 * for pw is used up all the same (-EMSGSIZE): it is not taken for a
 * command. */
static ssize_t hub_next_line(struct hub_run *r, size_t at, char *pw, size_t cap, size_t *end)
{
    const char *start = r->in + at, *nl = memchr(start, '\n', r->len - at);
    size_t n = nl ? (size_t)(nl - start) : r->len - at;

    if (nl == NULL && !r->in_eof)
        return r->len < sizeof(r->in) ? -EAGAIN : -ENODATA;
    if (nl == NULL && n == 0)
        return -ENODATA;
    *end = at + n + (nl != NULL);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    if (n >= cap)
        return -EMSGSIZE;
    memcpy(pw, start, n);
    return (ssize_t)n;
}

/*
 * The secure wire's "login#ID" with no password takes one: typed at a
 * prompt when stdin is a terminal, else the next line of stdin. The
 * machine is handed "login#ID&PASSWORD" (or the bare line, to refuse,
 * when there is none). Returns the bytes of stdin used; 0 for a line
 * that is not such a login; -1 while its password line has not come.
 */
static ssize_t hub_login_line(struct hub_run *r, size_t take, bool nl)
{
    char joined[HUBCLI_LINE_MAX + 1];
    size_t llen = take, used = take + nl;
    ssize_t n;

    if (r->wire.hello == NULL || !hub_bare_login(r->in, &llen))
        return 0;
    memcpy(joined, r->in, llen);
    joined[llen] = '&';
    if (r->tty)
        n = hub_prompt(r, r->in + 6, llen - 6, joined + llen + 1, sizeof(joined) - llen - 1);
    else
        n = hub_next_line(r, used, joined + llen + 1, sizeof(joined) - llen - 1, &used);
    if (n == -EAGAIN)
        return -1;
    hubcli_line(r->cli, joined, n >= 0 ? llen + 1 + (size_t)n : llen, clock_now_ns());
    sodium_memzero(joined, sizeof(joined));
    hub_trace_state(r);
    return (ssize_t)used;
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
        ssize_t used;

        if (!hubcli_can_take(r->cli))
            return;
        if (nl == NULL && !(r->in_eof && (r->len > 0 || r->overlong)))
            break;
        if (!r->overlong && (used = hub_login_line(r, take, nl != NULL)) != 0) {
            if (used < 0)
                break; /* its password comes on the next line */
            hub_consume(r, (size_t)used);
            continue;
        }
        /* An overlong line is handed over as such, to be refused in turn. */
        hubcli_line(r->cli, r->in, r->overlong ? HUBCLI_LINE_MAX + 1 : take, clock_now_ns());
        hub_trace_state(r);
        r->overlong = false;
        hub_consume(r, take + (nl != NULL));
    }
    if (r->len == sizeof(r->in) && memchr(r->in, '\n', r->len) == NULL) {
        r->overlong = true; /* no newline in a full buffer: skip to it */
        hub_consume(r, r->len);
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

/* The wire o asks for, and what goes with it: the pin of the hub's key,
 * the files' port. Returns EX_OK or EX_LOCAL with e set. */
static int hub_wire_init(struct hub_run *r, struct client_err *e)
{
    const struct client_opts *o = r->o;

    if (hubsec_init() < 0) /* libsodium: the secure wire, and SHA-256 on both */
        return client_fail(e, EX_LOCAL, "hub: libsodium cannot start");
    r->files = *o;
    if (o->files_port[0] != '\0')
        memcpy(r->files.port, o->files_port, sizeof(r->files.port));
    hubpin_hostport(o->host, o->port, r->hostport, sizeof(r->hostport));
    r->pin.hostport = r->hostport;
    r->pin.file = o->known_hubs;
    r->pin.explicit_key = o->has_hub_key;
    memcpy(r->pin.key, o->hub_key, sizeof(r->pin.key));
    if (strcmp(o->hub_wire, "plain") == 0)
        return hubcli_wire_plain(&r->wire) == 0 ? EX_OK : client_fail(e, EX_LOCAL, "hub: no wire");
    return hubcli_wire_secure(&r->wire) == 0 ? EX_OK : client_fail(e, EX_LOCAL, "out of memory");
}

/* What the machine may ask of this loop, as the wire and options allow. */
static struct hubcli_io hub_io(struct hub_run *r)
{
    struct hubcli_io io = {
        .ctx = r, .send = hub_send, .print = hub_print, .warn = hub_warn, .upload = hub_upload};

    if (r->wire.hello != NULL) {
        io.hello = hub_hello;
        io.challenge = hub_challenge;
        io.login_end = hub_login_end;
    }
    if (r->o->auto_fetch != NULL)
        io.fetch = hub_fetch;
    return io;
}

int hub_session(const struct client_opts *o, struct client_err *e)
{
    struct hub_run *r = calloc(1, sizeof(*r));
    struct hubcli_params p = {.rnd = rand_u32};
    struct hubcli_io io;
    int rc;

    if (r == NULL)
        return client_fail(e, EX_LOCAL, "out of memory");
    r->o = o;
    r->sock = -1;
    r->tty = isatty(STDIN_FILENO);
    p.keepalive_ns = (int64_t)o->hub_keepalive_ms * 1000000;
    if (!isatty(STDOUT_FILENO)) /* a script reads each line as it is printed */
        setvbuf(stdout, NULL, _IOLBF, 0);
    rc = hub_wire_init(r, e);
    io = hub_io(r);
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
    for (size_t i = 0; i < r->nfetched; i++)
        free(r->fetched[i]);
    free(r->fetched);
    sodium_memzero(r, sizeof(*r)); /* stdin's buffer, a plain login's datagram */
    free(r);
    return rc;
}
