/*
 * hubcli: the state machine of `ferry hub`. See hubcli.h.
 *
 * Over UDP every answer may come late, twice, or never, so each datagram
 * from the hub is sorted before it is believed:
 * - It answers the request in flight when its token is the one that
 *   request went with and it echoes the request's msg_id (a login's
 *   nonce, or the sequence number); a retrieve's lines (0xC0) carry the
 *   posts' own msg_ids and are taken while the retrieve is in flight.
 * - An answer for the live session that echoes a number this session
 *   used already is a late copy: ignored. One that echoes a number it
 *   never used (the test hook's 0xB0 echoes 0) is outside the state
 *   machine: the client says so, resets the session and goes OFFLINE.
 * - A reset for the live session ends it; so does must-login-first for
 *   it (the hub forgot the session: its reset was lost, or it restarted),
 *   which is why both print the same line.
 * - Anything for another token (a session that ended) is ignored.
 * Forwards are acked every time they come and printed once.
 */
#include "contrib/client/hubcli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUBCLI_SEEN 256 /* forwards remembered, to print each once */
#define HUBCLI_RETRIEVE_MAX                                                                        \
    256 /* distinct lines one retrieve collects (the hub sends 100 at most) */
#define HUBCLI_OUT_MAX (4 * HUBWIRE_PAYLOAD_MAX + 64) /* every byte may become \xNN */

/* What is in flight: a request, or a test hook sent until the session
 * ends. */
enum hubcli_kind {
    REQ_NONE,
    REQ_LOGIN,
    REQ_SUBSCRIBE,
    REQ_UNSUBSCRIBE,
    REQ_POST,
    REQ_RETRIEVE,
    REQ_LOGOUT,
    REQ_JUNK,
    REQ_SPURIOUS,
};

/* Each kind: its opcode, the state while it is in flight, its acks
 * (-1: none) and the lines they print. */
static const struct hubcli_kind_info {
    uint8_t op;
    enum hubcli_state state;
    int ok, failed;
    const char *ok_line, *failed_line;
} hubcli_kinds[] = {
    [REQ_NONE] = {0, HUBCLI_ONLINE, -1, -1, NULL, NULL},
    [REQ_LOGIN] = {HUB_LOGIN, HUBCLI_LOGIN_SENT, HUB_LOGIN_OK, HUB_LOGIN_FAILED,
                   "login_ack#successful", "login_ack#failed"},
    [REQ_SUBSCRIBE] = {HUB_SUBSCRIBE, HUBCLI_SUBSCRIBE_SENT, HUB_SUBSCRIBE_OK, HUB_SUBSCRIBE_FAILED,
                       "subscribe_ack#successful", "subscribe_ack#failed"},
    [REQ_UNSUBSCRIBE] = {HUB_UNSUBSCRIBE, HUBCLI_UNSUBSCRIBE_SENT, HUB_UNSUBSCRIBE_OK,
                         HUB_UNSUBSCRIBE_FAILED, "unsubscribe_ack#successful",
                         "unsubscribe_ack#failed"},
    [REQ_POST] = {HUB_POST, HUBCLI_POST_SENT, HUB_POST_ACK, -1, "post_ack#successful", NULL},
    [REQ_RETRIEVE] = {HUB_RETRIEVE, HUBCLI_RETRIEVE_SENT, HUB_RETRIEVE_END, -1, NULL, NULL},
    [REQ_LOGOUT] = {HUB_LOGOUT, HUBCLI_LOGOUT_SENT, HUB_LOGOUT_ACK, -1, "logout_ack#successful",
                    NULL},
    [REQ_JUNK] = {HUB_FORWARD_ACK, HUBCLI_ONLINE, -1, -1, NULL, NULL},
    [REQ_SPURIOUS] = {HUB_TEST_HOOK, HUBCLI_ONLINE, -1, -1, NULL, NULL},
};

static const char *const hubcli_state_names[] = {
    [HUBCLI_OFFLINE] = "OFFLINE",
    [HUBCLI_LOGIN_SENT] = "LOGIN_SENT",
    [HUBCLI_ONLINE] = "ONLINE",
    [HUBCLI_POST_SENT] = "POST_SENT",
    [HUBCLI_SUBSCRIBE_SENT] = "SUBSCRIBE_SENT",
    [HUBCLI_UNSUBSCRIBE_SENT] = "UNSUBSCRIBE_SENT",
    [HUBCLI_RETRIEVE_SENT] = "RETRIEVE_SENT",
    [HUBCLI_LOGOUT_SENT] = "LOGOUT_SENT",
};

/* The datagram in flight, kept whole to be sent again. */
struct hubcli_req {
    enum hubcli_kind kind; /* REQ_NONE: nothing in flight */
    uint32_t token;        /* the session it went with (0: none) */
    uint32_t msg_id;
    uint8_t len;
    uint8_t payload[HUBWIRE_PAYLOAD_MAX];
    unsigned tries; /* sends so far */
    int64_t due;    /* the next send, or the verdict after the last */
    /* A retrieve: */
    unsigned asked; /* n */
    bool ended;     /* its 0xC1 came */
    long expect;    /* the lines that 0xC1 announced, or -1 when it names none */
};

/* One line of a retrieve's answer. */
struct hubcli_post {
    uint32_t msg_id;
    uint8_t len;
    uint8_t text[HUBWIRE_PAYLOAD_MAX];
};

struct hubcli_qline {
    size_t len; /* HUBCLI_LINE_MAX + 1: it was longer */
    char text[HUBCLI_LINE_MAX + 1];
};

struct hubcli {
    struct hubcli_params p;
    struct hubcli_io io;
    uint32_t token; /* the live session's; 0: none (OFFLINE) */
    uint32_t nonce; /* its login's */
    uint32_t seq;   /* its last request's sequence number */
    char user[HUBWIRE_ID_MAX + 1];
    struct hubcli_req req;
    int64_t last_sent;       /* the hub counts any datagram as activity */
    bool eof;                /* no lines will come after those queued */
    unsigned given_up;       /* lines dropped unsent after the hub stopped answering */
    struct hubcli_post *got; /* the retrieve's lines so far */
    unsigned ngot;
    uint32_t seen[HUBCLI_SEEN]; /* ring of forwards printed */
    unsigned nseen;
    struct hubcli_qline *q; /* ring of waiting lines */
    unsigned qhead, qlen;
};

/* ------------------------------------------------------------ output */

static void hubcli_print(struct hubcli *c, const char *line)
{
    c->io.print(c->io.ctx, line);
}

static void hubcli_warnf(struct hubcli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hubcli_warnf(struct hubcli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->io.warn(c->io.ctx, msg);
}

/* Appends the len bytes at p to the line in out (HUBCLI_OUT_MAX bytes),
 * which holds at bytes: control bytes as \xNN, so that a payload cannot
 * break the output's lines; UTF-8 passes. Returns the new length. */
static size_t hubcli_escape(char *out, size_t at, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len && at + 5 < HUBCLI_OUT_MAX; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            at += (size_t)snprintf(out + at, HUBCLI_OUT_MAX - at, "\\x%02x", p[i]);
        else
            out[at++] = (char)p[i];
    }
    out[at] = '\0';
    return at;
}

/* prefix, then the len bytes at p escaped, into out. Returns out. */
static const char *hubcli_text(const char *prefix, const uint8_t *p, size_t len, char *out)
{
    hubcli_escape(out, (size_t)snprintf(out, HUBCLI_OUT_MAX, "%s", prefix), p, len);
    return out;
}

/* ------------------------------------------------------------ sending */

static void hubcli_send(struct hubcli *c, uint8_t op, uint32_t token, uint32_t msg_id,
                        const uint8_t *payload, uint8_t len, int64_t now)
{
    struct hubwire_msg m = {
        .op = op, .len = len, .token = token, .msg_id = msg_id, .payload = payload};

    c->io.send(c->io.ctx, &m);
    c->last_sent = now;
}

/* The wait after the tries-th send: 0.5 s doubling, capped at 4 s, as
 * the hub's own retransmissions (docs/HUB.md). */
static int64_t hubcli_backoff(unsigned tries)
{
    int64_t wait = HUBCLI_FIRST_NS;

    for (unsigned i = 1; i < tries && wait < HUBCLI_CAP_NS; i++)
        wait *= 2;
    return wait < HUBCLI_CAP_NS ? wait : HUBCLI_CAP_NS;
}

/*
 * Sends the login in flight, the first time and every time again. The
 * one place a login leaves: the secure wire's login is a handshake of
 * several datagrams (a challenge, then a proof of the password), and it
 * will take its steps from here and from hubcli_login_answer().
 */
static void hubcli_login_send(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;

    hubcli_send(c, HUB_LOGIN, 0, r->msg_id, r->payload, r->len, now);
}

/* Sends what is in flight (again) and sets when it is due next. */
static void hubcli_req_send(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;

    if (r->kind == REQ_LOGIN)
        hubcli_login_send(c, now);
    else
        hubcli_send(c, hubcli_kinds[r->kind].op, r->token, r->msg_id, r->payload, r->len, now);
    r->tries++;
    r->due = now + hubcli_backoff(r->tries);
}

/* Puts kind in flight with the payload given and sends it. A request
 * takes the session's next sequence number, a login a fresh nonce, a
 * test hook 0 (a number no request uses, so that the hook's 0xB0 is
 * seen as outside the state machine). Returns 0, or -errno when no nonce
 * could be drawn (nothing sent). */
static int hubcli_start(struct hubcli *c, enum hubcli_kind kind, const void *payload, size_t len,
                        int64_t now)
{
    struct hubcli_req *r = &c->req;
    uint32_t id = 0;
    int rc;

    if (kind == REQ_LOGIN) {
        do {
            if ((rc = c->p.rnd(&id)) < 0)
                return rc;
        } while (id == 0); /* 0 is a course client's nonce */
    } else if (kind < REQ_JUNK) {
        id = ++c->seq;
    }
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->token = c->token;
    r->msg_id = id;
    r->len = (uint8_t)len;
    if (len > 0)
        memcpy(r->payload, payload, len);
    r->expect = -1;
    c->ngot = 0;
    hubcli_req_send(c, now);
    return 0;
}

/* Nothing in flight any more; a login's password is wiped. */
static void hubcli_finish(struct hubcli *c)
{
    memset(&c->req, 0, sizeof(c->req));
    c->ngot = 0;
}

/* ------------------------------------------------------------ sessions */

/* The live session is over: line says how. A test hook in flight has its
 * answer; a request that went with the session is sent again at once,
 * for the hub to answer must-login-first, so that it is answered as it
 * would have been had the end come a moment earlier. */
static void hubcli_end_session(struct hubcli *c, const char *line, int64_t now)
{
    struct hubcli_req *r = &c->req;

    hubcli_print(c, line);
    c->token = 0;
    if (r->kind >= REQ_JUNK) {
        hubcli_finish(c);
    } else if (r->kind != REQ_NONE) {
        if (r->tries >= HUBCLI_TRIES) /* one more send, for that answer */
            r->tries = HUBCLI_TRIES - 1;
        r->due = now;
        r->ended = false;
        r->expect = -1;
        c->ngot = 0;
    }
}

/* A message of the live session that no state expects: said on stderr
 * and stdout, then the session is reset, as the course's client does. */
static void hubcli_outside(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    const char *name = hubwire_op_name(m->op);

    hubcli_warnf(c,
                 "hub: %s (0x%02x, msg_id %u) is outside the state machine in state %s: "
                 "session reset",
                 name ? name : "an unknown opcode", m->op, (unsigned)m->msg_id,
                 hubcli_state_name(hubcli_state(c)));
    hubcli_print(c, "error#unexpected_message");
    hubcli_send(c, HUB_RESET, c->token, 0, NULL, 0, now);
    hubcli_end_session(c, "session#reset_by_client", now);
}

/* The hub did not answer 8 sends. The session, if any, is given up with
 * a reset (the hub may hear us even if we cannot hear it); after the end
 * of stdin, so are the lines still waiting. */
static void hubcli_give_up(struct hubcli *c, int64_t now)
{
    hubcli_print(c, "error#hub_unreachable");
    if (c->token != 0)
        hubcli_send(c, HUB_RESET, c->token, 0, NULL, 0, now);
    c->token = 0;
    hubcli_finish(c);
    if (c->eof && c->qlen > 0) {
        c->given_up += c->qlen;
        c->qlen = 0;
        memset(c->q, 0, HUBCLI_QUEUE_MAX * sizeof(*c->q)); /* passwords too */
    }
}

/* ------------------------------------------------------------ answers */

static bool hubcli_seen_before(struct hubcli *c, uint32_t msg_id)
{
    unsigned n = c->nseen < HUBCLI_SEEN ? c->nseen : HUBCLI_SEEN;

    for (unsigned i = 0; i < n; i++)
        if (c->seen[i] == msg_id)
            return true;
    c->seen[c->nseen++ % HUBCLI_SEEN] = msg_id;
    return false;
}

/* A forward, or a file notification: acked every time it comes (the hub
 * sends it until it hears an ack), printed the first time. A notification
 * ("<alice>NAME SIZE SHA256") prints as the forward a course session gets
 * for it: "<alice>file NAME SIZE SHA256". TODO(issue 10): --auto-fetch. */
static void hubcli_forward(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    char line[HUBCLI_OUT_MAX];
    const uint8_t *gt = memchr(m->payload, '>', m->len);
    size_t at = 0, skip = 0;

    if (c->token == 0 || m->token != c->token)
        return; /* an ended session's: the hub gives it up on its own */
    hubcli_send(c, m->op == HUB_FORWARD ? HUB_FORWARD_ACK : HUB_FILE_ACK, c->token, m->msg_id, NULL,
                0, now);
    if (hubcli_seen_before(c, m->msg_id))
        return;
    if (m->op == HUB_FILE_NOTE && gt != NULL) { /* "<alice>" then "file " */
        skip = (size_t)(gt - m->payload) + 1;
        at = hubcli_escape(line, 0, m->payload, skip);
        at += (size_t)snprintf(line + at, HUBCLI_OUT_MAX - at, "file ");
    }
    hubcli_escape(line, at, m->payload + skip, m->len - skip);
    hubcli_print(c, line);
}

static int hubcli_newest_first(const void *a, const void *b)
{
    uint32_t x = ((const struct hubcli_post *)a)->msg_id,
             y = ((const struct hubcli_post *)b)->msg_id;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* Prints the retrieve's lines once its end came and, when the end named
 * a count, every line did: newest first, as the hub sends them (post
 * msg_ids grow), whatever order the network gave them; at most n, so that
 * a late copy of an older retrieve's line cannot add one. */
static void hubcli_retrieve_done(struct hubcli *c)
{
    struct hubcli_req *r = &c->req;
    char line[HUBCLI_OUT_MAX];
    unsigned n = r->asked;

    if (!r->ended || (r->expect >= 0 && c->ngot < (unsigned long)r->expect))
        return;
    if (r->expect >= 0 && (unsigned long)r->expect < n)
        n = (unsigned)r->expect;
    if (c->ngot < n)
        n = c->ngot;
    qsort(c->got, c->ngot, sizeof(*c->got), hubcli_newest_first);
    for (unsigned i = 0; i < n; i++)
        hubcli_print(c, hubcli_text("", c->got[i].text, c->got[i].len, line));
    hubcli_finish(c);
}

/* A line of the retrieve in flight, kept once (a retransmitted retrieve
 * is answered with the same lines again). */
static void hubcli_collect(struct hubcli *c, const struct hubwire_msg *m)
{
    struct hubcli_post *p;

    for (unsigned i = 0; i < c->ngot; i++)
        if (c->got[i].msg_id == m->msg_id)
            return;
    if (c->ngot == HUBCLI_RETRIEVE_MAX)
        return;
    p = &c->got[c->ngot++];
    p->msg_id = m->msg_id;
    p->len = m->len;
    memcpy(p->text, m->payload, m->len);
    hubcli_retrieve_done(c);
}

/* The retrieve's end: complete unless it names more lines than came. */
static void hubcli_retrieve_end(struct hubcli *c, const struct hubwire_msg *m)
{
    struct hubcli_req *r = &c->req;
    long n = m->len > 0 && m->len < 10 ? 0 : -1;

    for (size_t i = 0; n >= 0 && i < m->len; i++)
        n = m->payload[i] >= '0' && m->payload[i] <= '9' ? n * 10 + (m->payload[i] - '0') : -1;
    r->ended = true;
    r->expect = n;
    hubcli_retrieve_done(c);
}

/* The login's answer. Returns false for an ok without a token (no
 * session to keep: not an answer). */
static bool hubcli_login_answer(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    bool ok = m->op == HUB_LOGIN_OK;

    if (ok && m->token == 0)
        return false;
    if (ok) {
        c->token = m->token;
        c->nonce = c->req.msg_id;
        c->seq = 0;
        c->last_sent = now; /* the keepalives count from here */
    }
    hubcli_print(c, ok ? hubcli_kinds[REQ_LOGIN].ok_line : hubcli_kinds[REQ_LOGIN].failed_line);
    hubcli_finish(c);
    return true;
}

/* The answer to a request that went with a session (or, OFFLINE, with
 * token 0): its ack, a refusal (0xF1) or must-login-first. */
static void hubcli_request_answer(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    const struct hubcli_kind_info *k = &hubcli_kinds[c->req.kind];
    char line[HUBCLI_OUT_MAX];

    if (m->op == HUB_MUST_LOGIN) {
        if (c->token != 0 && c->req.token == c->token) /* the hub forgot the session */
            hubcli_end_session(c, "session#reset_by_server", now);
        hubcli_print(c, "error#must_login_first");
    } else if (m->op == HUB_ERROR) {
        hubcli_print(c, hubcli_text("error#", m->payload, m->len, line));
    } else if (m->op == HUB_RETRIEVE_END) {
        hubcli_retrieve_end(c, m);
        return;
    } else {
        hubcli_print(c, m->op == k->ok ? k->ok_line : k->failed_line);
        if (m->op == HUB_LOGOUT_ACK)
            c->token = 0;
    }
    hubcli_finish(c);
}

/* Returns true when m answers what is in flight, after acting on it. */
static bool hubcli_answer(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    struct hubcli_req *r = &c->req;
    const struct hubcli_kind_info *k = &hubcli_kinds[r->kind];

    if (r->kind == REQ_NONE || r->kind >= REQ_JUNK) /* a hook's answer is the session's end */
        return false;
    if (r->kind == REQ_LOGIN)
        return (m->op == HUB_LOGIN_OK || m->op == HUB_LOGIN_FAILED) && m->msg_id == r->msg_id &&
               hubcli_login_answer(c, m, now);
    if (m->token != r->token)
        return false;
    if (r->kind == REQ_RETRIEVE && m->op == HUB_RETRIEVE_ACK && r->token != 0) {
        hubcli_collect(c, m);
        return true;
    }
    if (m->msg_id != r->msg_id ||
        !(m->op == k->ok || m->op == k->failed || m->op == HUB_ERROR || m->op == HUB_MUST_LOGIN))
        return false;
    hubcli_request_answer(c, m, now);
    return true;
}

/* A datagram that answers nothing in flight. */
static void hubcli_unasked(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    bool mine = c->token != 0 && m->token == c->token;

    switch (m->op) {
    case HUB_RESET:
    case HUB_MUST_LOGIN: /* to a keepalive or a hook: the hub forgot the session */
        if (mine)
            hubcli_end_session(c, "session#reset_by_server", now);
        return;
    case HUB_FORWARD:
    case HUB_FILE_NOTE:
        hubcli_forward(c, m, now);
        return;
    case HUB_KEEPALIVE_ACK: /* activity, nothing more */
    case HUB_RETRIEVE_ACK:  /* a late copy of a retrieve's line */
        return;
    }
    if (!mine)
        return; /* an ended session's, or none */
    if ((m->msg_id != 0 && m->msg_id <= c->seq) || m->msg_id == c->nonce)
        return; /* a late copy of an answer this session had */
    hubcli_outside(c, m, now);
}

/* ------------------------------------------------------------ commands */

static bool hubcli_need_session(struct hubcli *c, const char *cmd)
{
    if (c->token != 0)
        return true;
    hubcli_warnf(c, "hub: %s#: no session (login# first); not sent", cmd);
    return false;
}

/* A request for the live session or, OFFLINE, sent all the same with
 * token 0: the hub's must-login-first is the course's answer to it. */
static void hubcli_request(struct hubcli *c, enum hubcli_kind kind, const char *arg, size_t len,
                           int64_t now)
{
    hubcli_start(c, kind, arg, len, now); /* draws no nonce: cannot fail */
}

static bool hubcli_check_id(struct hubcli *c, const char *cmd, const char *id, size_t len)
{
    if (hubwire_id_valid(id, len))
        return true;
    hubcli_warnf(c, "hub: %s#: '%.*s' is not a user id ([A-Za-z0-9_], 1 to %d); not sent", cmd,
                 (int)(len > 40 ? 40 : len), id, HUBWIRE_ID_MAX);
    return false;
}

static void cmd_login(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    const char *amp = memchr(arg, '&', len);
    size_t idlen = amp ? (size_t)(amp - arg) : len;

    if (amp == NULL) {
        hubcli_warnf(c, "hub: login# wants ID&PASSWORD; not sent");
        return;
    }
    if (!hubcli_check_id(c, "login", arg, idlen))
        return;
    if (len > HUBWIRE_PAYLOAD_MAX) {
        hubcli_warnf(c, "hub: login#: ID&PASSWORD is at most %d bytes; not sent",
                     HUBWIRE_PAYLOAD_MAX);
        return;
    }
    if (c->token != 0) {
        hubcli_warnf(c, "hub: login#: logged in as %s already (logout# first); not sent", c->user);
        return;
    }
    memcpy(c->user, arg, idlen);
    c->user[idlen] = '\0';
    if (hubcli_start(c, REQ_LOGIN, arg, len, now) < 0)
        hubcli_warnf(c, "hub: login#: cannot draw a random nonce; not sent");
}

static void cmd_subscribe(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    if (hubcli_check_id(c, "subscribe", arg, len))
        hubcli_request(c, REQ_SUBSCRIBE, arg, len, now);
}

static void cmd_unsubscribe(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    if (hubcli_check_id(c, "unsubscribe", arg, len))
        hubcli_request(c, REQ_UNSUBSCRIBE, arg, len, now);
}

/* A post of 201 to 255 bytes is sent: the hub's refusal (0xF1) says
 * why. A longer one does not fit a datagram. */
static void cmd_post(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    if (len > HUBWIRE_PAYLOAD_MAX) {
        hubcli_warnf(c, "hub: post#: a post is at most %d bytes, this one %zu; not sent",
                     HUBWIRE_POST_MAX, len);
        return;
    }
    hubcli_request(c, REQ_POST, arg, len, now);
}

static void cmd_postfile(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    (void)arg, (void)len, (void)now;
    hubcli_warnf(c, "hub: postfile# is not supported yet (file announcements are still to "
                    "come, issue 10); not sent");
}

static void cmd_retrieve(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    unsigned n = 0;

    if (len == 0 || len > 9 || strspn(arg, "0123456789") < len) {
        hubcli_warnf(c, "hub: retrieve# wants a count (retrieve#10); not sent");
        return;
    }
    for (size_t i = 0; i < len; i++)
        n = n * 10 + (unsigned)(arg[i] - '0');
    hubcli_request(c, REQ_RETRIEVE, arg, len, now);
    c->req.asked = n;
}

static void cmd_logout(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    (void)arg;
    (void)len; /* "logout#" carries nothing: anything after the # is ignored */
    hubcli_request(c, REQ_LOGOUT, NULL, 0, now);
}

static void cmd_state(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    (void)arg, (void)len, (void)now;
    hubcli_print(c, hubcli_state_name(hubcli_state(c)));
}

/* The course's hook: the client resets its own session. Sent once, as
 * any reset: the hub answers none. */
static void cmd_reset(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    (void)arg, (void)len;
    if (!hubcli_need_session(c, "reset"))
        return;
    hubcli_send(c, HUB_RESET, c->token, 0, NULL, 0, now);
    hubcli_end_session(c, "session#reset_by_client", now);
}

/* The course's hooks that have the hub end the session: a forward ack
 * for msg_id 0, which no post has (the hub resets the session), and the
 * test opcode 0x7F (a hub with --hub-test-hooks answers a spurious
 * 0xB0). Each is sent again until the session ends, so that a lost
 * datagram does not leave it standing. */
static void cmd_junk(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    (void)arg, (void)len;
    if (hubcli_need_session(c, "junk"))
        hubcli_start(c, REQ_JUNK, NULL, 0, now);
}

static void cmd_spurious(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    (void)arg, (void)len;
    if (hubcli_need_session(c, "spurious"))
        hubcli_start(c, REQ_SPURIOUS, NULL, 0, now);
}

/* The commands: the word before '#', whether anything may follow it. */
static const struct hubcli_cmd {
    const char *name;
    bool arg;
    void (*run)(struct hubcli *c, const char *arg, size_t len, int64_t now);
} hubcli_cmds[] = {
    {"login", true, cmd_login},
    {"subscribe", true, cmd_subscribe},
    {"unsubscribe", true, cmd_unsubscribe},
    {"post", true, cmd_post},
    {"postfile", true, cmd_postfile},
    {"retrieve", true, cmd_retrieve},
    {"logout", false, cmd_logout},
    {"state", false, cmd_state},
    {"reset", false, cmd_reset},
    {"junk", false, cmd_junk},
    {"spurious", false, cmd_spurious},
};

#define HUBCLI_NCMDS (sizeof(hubcli_cmds) / sizeof(hubcli_cmds[0]))

/* Handles one line in its turn. */
static void hubcli_run(struct hubcli *c, const char *line, size_t len, int64_t now)
{
    const char *hash;
    size_t wlen;

    if (len > HUBCLI_LINE_MAX) {
        hubcli_warnf(c, "hub: a line is at most %d bytes; not sent", HUBCLI_LINE_MAX);
        return;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return;
    hash = memchr(line, '#', len);
    wlen = hash ? (size_t)(hash - line) : len;
    for (size_t i = 0; hash != NULL && i < HUBCLI_NCMDS; i++) {
        const struct hubcli_cmd *cmd = &hubcli_cmds[i];
        size_t alen = len - wlen - 1;

        if (strlen(cmd->name) != wlen || memcmp(cmd->name, line, wlen) != 0)
            continue;
        if (!cmd->arg && alen > 0) {
            hubcli_warnf(c, "hub: %s# takes nothing after the '#'; not sent", cmd->name);
            return;
        }
        cmd->run(c, hash + 1, alen, now);
        return;
    }
    hubcli_warnf(c,
                 "hub: '%.*s' is not a command (login#ID&PASSWORD, subscribe#ID, unsubscribe#ID, "
                 "post#TEXT, retrieve#N, logout#, state#, reset#, junk#, spurious#); not sent",
                 (int)(len > 40 ? 40 : len), line);
}

/* Takes the waiting lines while nothing is in flight. */
static void hubcli_pump(struct hubcli *c, int64_t now)
{
    while (c->req.kind == REQ_NONE && c->qlen > 0) {
        struct hubcli_qline *l = &c->q[c->qhead];

        /* The slot stays intact while it runs: nothing queues meanwhile. */
        c->qhead = (c->qhead + 1) % HUBCLI_QUEUE_MAX;
        c->qlen--;
        hubcli_run(c, l->text, l->len, now);
    }
}

/* ------------------------------------------------------------ the API */

struct hubcli *hubcli_new(const struct hubcli_params *p, const struct hubcli_io *io)
{
    struct hubcli *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->p = *p;
    c->io = *io;
    c->got = calloc(HUBCLI_RETRIEVE_MAX, sizeof(*c->got));
    c->q = calloc(HUBCLI_QUEUE_MAX, sizeof(*c->q));
    if (c->got == NULL || c->q == NULL) {
        hubcli_free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

void hubcli_free(struct hubcli *c)
{
    if (c == NULL)
        return;
    hubcli_finish(c);
    if (c->q != NULL) /* queued lines may hold passwords too */
        memset(c->q, 0, HUBCLI_QUEUE_MAX * sizeof(*c->q));
    free(c->q);
    free(c->got);
    free(c);
}

int hubcli_line(struct hubcli *c, const char *line, size_t len, int64_t now)
{
    struct hubcli_qline *l;

    if (c->qlen == HUBCLI_QUEUE_MAX)
        return -ENOBUFS;
    l = &c->q[(c->qhead + c->qlen) % HUBCLI_QUEUE_MAX];
    l->len = len > HUBCLI_LINE_MAX ? HUBCLI_LINE_MAX + 1 : len;
    memcpy(l->text, line, len > HUBCLI_LINE_MAX ? HUBCLI_LINE_MAX : len);
    c->qlen++;
    hubcli_pump(c, now);
    return 0;
}

bool hubcli_can_take(const struct hubcli *c)
{
    return c->qlen < HUBCLI_QUEUE_MAX;
}

void hubcli_input(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    if (m->op != HUB_RESET && hubwire_from_client(m->op))
        return; /* a client's opcode: no hub sends it */
    if (!hubcli_answer(c, m, now))
        hubcli_unasked(c, m, now);
    hubcli_pump(c, now);
}

void hubcli_tick(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;

    if (r->kind != REQ_NONE && r->due <= now) {
        if (r->tries >= HUBCLI_TRIES)
            hubcli_give_up(c, now);
        else
            hubcli_req_send(c, now);
    }
    /* Also while a request is in flight: its back-off leaves gaps up to
     * 4 s, longer than a short session timeout. */
    if (c->token != 0 && now - c->last_sent >= c->p.keepalive_ns)
        hubcli_send(c, HUB_KEEPALIVE, c->token, 0, NULL, 0, now);
    hubcli_pump(c, now);
}

int64_t hubcli_deadline(const struct hubcli *c)
{
    int64_t at = c->req.kind != REQ_NONE ? c->req.due : INT64_MAX;

    if (c->token != 0 && c->last_sent + c->p.keepalive_ns < at)
        at = c->last_sent + c->p.keepalive_ns;
    return at;
}

bool hubcli_idle(const struct hubcli *c)
{
    return c->req.kind == REQ_NONE && c->qlen == 0;
}

void hubcli_eof(struct hubcli *c)
{
    c->eof = true;
}

unsigned hubcli_given_up(const struct hubcli *c)
{
    return c->given_up;
}

enum hubcli_state hubcli_state(const struct hubcli *c)
{
    if (c->req.kind != REQ_NONE)
        return hubcli_kinds[c->req.kind].state;
    return c->token != 0 ? HUBCLI_ONLINE : HUBCLI_OFFLINE;
}

const char *hubcli_state_name(enum hubcli_state s)
{
    return hubcli_state_names[s];
}
