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
 *
 * On the secure wire the wire (hubcli_wire.c) has authenticated every
 * datagram before it comes here, and let through in clear only what the
 * hub sends in clear; the machine adds the handshake's steps: the HELLO
 * is sent until a CHALLENGE comes, the loop checks it and the hub's key
 * (io.challenge), and the PROOF is sent until the login's answer. The
 * hub answers a wrong PROOF once, with 0x81, and forgets the handshake:
 * when that refusal is lost, the PROOF sent again is answered by nobody.
 * So a PROOF unanswered after HUBCLI_PROOF_TRIES sends starts the
 * handshake over (a new nonce, a new HELLO), at most HUBCLI_HANDSHAKES
 * times, and the password waits in the request until the login's end.
 */
#include "contrib/client/hubcli.h"

#include "common/name.h"
#include "common/wire.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUBCLI_SEEN 256 /* forwards remembered, to print each once */
#define HUBCLI_RETRIEVE_MAX                                                                        \
    256 /* distinct lines one retrieve collects (the hub sends 100 at most) */
#define HUBCLI_OUT_MAX     (4 * HUBWIRE_PAYLOAD_MAX + 64) /* every byte may become \xNN */
#define HUBCLI_PROOF_TRIES 3 /* PROOFs unanswered (3.5 s) before the handshake starts over */
#define HUBCLI_HANDSHAKES  3 /* handshakes a login makes at most */

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
    uint8_t payload[HUBWIRE_PAYLOAD_MAX]; /* a login: "id&password", or the HELLO, or the PROOF */
    /* A login on the secure wire: */
    bool proof;                          /* the CHALLENGE came: the PROOF is what is sent */
    unsigned handshakes;                 /* begun so far */
    uint8_t secret_len;                  /* the password, for each CHALLENGE */
    uint8_t secret[HUBWIRE_PAYLOAD_MAX]; /* wiped at the login's end */
    unsigned tries;                      /* sends so far */
    int64_t due;                         /* the next send, or the verdict after the last */
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

/* Whether logins are the secure wire's handshake. */
static bool hubcli_secure(const struct hubcli *c)
{
    return c->io.hello != NULL;
}

/*
 * Sends the login in flight, the first time and every time again: the
 * one place a login leaves. Plain: "id&password". Secure: the HELLO until
 * the CHALLENGE comes, then the PROOF (which the wire seals anew each
 * time, under a new sequence number).
 */
static void hubcli_login_send(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;

    hubcli_send(c, r->proof ? HUB_LOGIN_PROOF : HUB_LOGIN, 0, r->msg_id, r->payload, r->len, now);
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

/* Nothing in flight any more; a login's password is wiped. */
static void hubcli_finish(struct hubcli *c)
{
    sodium_memzero(&c->req, sizeof(c->req));
    c->ngot = 0;
}

/* Makes kind the request in flight, with msg_id, nothing sent yet. */
static void hubcli_req_init(struct hubcli *c, enum hubcli_kind kind, uint32_t msg_id)
{
    struct hubcli_req *r = &c->req;

    hubcli_finish(c);
    r->kind = kind;
    r->token = c->token;
    r->msg_id = msg_id;
    r->expect = -1;
}

/* Puts kind, a request or a test hook, in flight with the payload given
 * and sends it. A request takes the session's next sequence number, a
 * test hook 0 (a number no request uses, so that the hook's 0xB0 is seen
 * as outside the state machine). */
static void hubcli_start(struct hubcli *c, enum hubcli_kind kind, const void *payload, size_t len,
                         int64_t now)
{
    struct hubcli_req *r = &c->req;

    hubcli_req_init(c, kind, kind < REQ_JUNK ? ++c->seq : 0);
    r->len = (uint8_t)len;
    if (len > 0)
        memcpy(r->payload, payload, len);
    hubcli_req_send(c, now);
}

/* A fresh login nonce: random, never 0 (a course client's). 0 or -errno. */
static int hubcli_nonce(struct hubcli *c, uint32_t *nonce)
{
    int rc;

    do {
        if ((rc = c->p.rnd(nonce)) < 0)
            return rc;
    } while (*nonce == 0);
    return 0;
}

/* The secure login's next handshake, under the nonce in c->req: its
 * HELLO becomes what is sent. Returns 0 or -errno. */
static int hubcli_hello(struct hubcli *c)
{
    struct hubcli_req *r = &c->req;
    int rc = c->io.hello(c->io.ctx, c->user, r->msg_id, r->payload);

    if (rc < 0 || rc > HUBWIRE_PAYLOAD_MAX)
        return rc < 0 ? rc : -EMSGSIZE;
    r->len = (uint8_t)rc;
    r->handshakes++;
    return 0;
}

/* Puts a login in flight and sends it; arg is "id&password", the id
 * idlen bytes, in c->user already. Plain: the line as it is. Secure: a
 * HELLO; the password waits in the request until the login's end (a
 * handshake may have to start over). Returns 0, or -errno (nothing
 * sent). */
static int hubcli_login_start(struct hubcli *c, const char *arg, size_t len, size_t idlen,
                              int64_t now)
{
    struct hubcli_req *r = &c->req;
    uint32_t nonce;
    int rc;

    if ((rc = hubcli_nonce(c, &nonce)) < 0)
        return rc;
    hubcli_req_init(c, REQ_LOGIN, nonce);
    if (!hubcli_secure(c)) {
        r->len = (uint8_t)len;
        memcpy(r->payload, arg, len);
    } else if ((rc = hubcli_hello(c)) < 0) {
        hubcli_finish(c);
        return rc;
    } else {
        r->secret_len = (uint8_t)(len - idlen - 1);
        memcpy(r->secret, arg + idlen + 1, r->secret_len);
    }
    hubcli_req_send(c, now);
    return 0;
}

/* A secure login's PROOF went unanswered: a new handshake, as the first
 * (the password is still there). Returns false when there is none to
 * make: the login has made its handshakes, or none can be begun. */
static bool hubcli_login_again(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;
    uint32_t nonce, old = r->msg_id;

    if (!r->proof || r->tries < HUBCLI_PROOF_TRIES || r->handshakes >= HUBCLI_HANDSHAKES ||
        hubcli_nonce(c, &nonce) < 0)
        return false;
    r->msg_id = nonce;
    if (hubcli_hello(c) < 0) {
        r->msg_id = old;
        return false;
    }
    r->proof = false;
    r->tries = 0;
    hubcli_req_send(c, now);
    return true;
}

/* The login in flight is over: the wire is told, the password wiped. */
static void hubcli_login_over(struct hubcli *c, bool ok)
{
    if (c->io.login_end != NULL)
        c->io.login_end(c->io.ctx, ok);
    hubcli_finish(c);
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
    if (c->req.kind == REQ_LOGIN)
        hubcli_login_over(c, false);
    hubcli_finish(c);
    if (c->eof && c->qlen > 0) {
        c->given_up += c->qlen;
        c->qlen = 0;
        sodium_memzero(c->q, HUBCLI_QUEUE_MAX * sizeof(*c->q)); /* passwords too */
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

/* The value of hex digit h, or -1. */
static int hubcli_hexval(uint8_t h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    return h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
}

/* What a file notification announces: "<alice>NAME SIZE SHA256HEX". */
struct hubcli_note {
    const uint8_t *name; /* into the payload */
    size_t name_len;
    uint64_t size;
    uint8_t sha256[32];
};

/* Reads a notification's payload from its end (a name may hold spaces).
 * Returns true when it has that form. */
static bool hubcli_note_parse(const uint8_t *p, size_t len, struct hubcli_note *n)
{
    const uint8_t *gt = memchr(p, '>', len), *end = p + len, *hex, *digits;

    /* Long enough before any pointer is taken back from the end. */
    if (len < 1 || p[0] != '<' || gt == NULL || end - gt < 1 + 1 + 1 + 1 + 1 + 64)
        return false;
    hex = end - 64;
    if (hex[-1] != ' ')
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = hubcli_hexval(hex[2 * i]), lo = hubcli_hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        n->sha256[i] = (uint8_t)(hi << 4 | lo);
    }
    for (digits = hex - 1; digits > gt + 1 && digits[-1] >= '0' && digits[-1] <= '9'; digits--)
        ;
    if (digits == hex - 1 || hex - 1 - digits > 19 || digits[-1] != ' ' || digits - 1 == gt + 1)
        return false;
    n->size = 0;
    for (const uint8_t *d = digits; d < hex - 1; d++)
        n->size = n->size * 10 + (uint64_t)(*d - '0');
    n->name = gt + 1;
    n->name_len = (size_t)(digits - 1 - n->name);
    return true;
}

/* Whether len bytes at name are a name the hub takes for a file: a plain
 * file name (name.h), at most WIRE_PUT_NAME_MAX bytes, not hidden. */
static bool hubcli_file_name_ok(const void *name, size_t len)
{
    return len <= WIRE_PUT_NAME_MAX && name_valid(name, len) && ((const char *)name)[0] != '.';
}

/* --auto-fetch: downloads what notification m announces, once (the
 * caller sees each msg_id once), and says how it went: "file#fetched
 * NAME" or "error#fetch_failed NAME", the reason on stderr. */
static void hubcli_autofetch(struct hubcli *c, const struct hubwire_msg *m)
{
    char line[HUBCLI_OUT_MAX], name[WIRE_PUT_NAME_MAX + 1], why[HUBCLI_WHY_MAX] = "";
    struct hubcli_note n;
    bool ok = false;

    if (!hubcli_note_parse(m->payload, m->len, &n)) {
        hubcli_print(c, hubcli_text("error#fetch_failed ", m->payload, m->len, line));
        hubcli_warnf(c, "hub: a file notification that is not <ID>NAME SIZE SHA256: not fetched");
        return;
    }
    hubcli_text("", n.name, n.name_len, line);
    if (!hubcli_file_name_ok(n.name, n.name_len)) {
        snprintf(why, sizeof(why), "hub: '%.100s': not a plain file name; not fetched", line);
    } else {
        memcpy(name, n.name, n.name_len);
        name[n.name_len] = '\0';
        ok = c->io.fetch(c->io.ctx, name, n.size, n.sha256, why) == 0;
    }
    hubcli_print(
        c, hubcli_text(ok ? "file#fetched " : "error#fetch_failed ", n.name, n.name_len, line));
    if (why[0] != '\0')
        c->io.warn(c->io.ctx, why);
}

/* A forward, or a file notification: acked every time it comes (the hub
 * sends it until it hears an ack), printed the first time. A notification
 * ("<alice>NAME SIZE SHA256") prints as the forward a course session gets
 * for it: "<alice>file NAME SIZE SHA256"; with --auto-fetch the file is
 * downloaded then, after the ack, so that the hub need not send it
 * again meanwhile. */
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
    if (m->op == HUB_FILE_NOTE && c->io.fetch != NULL)
        hubcli_autofetch(c, m);
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

/* The secure login's CHALLENGE, with the password kept for it: the
 * loop checks it and the hub's key, and makes the PROOF, which is sent
 * from now on (a back-off of its own) instead of the HELLO; a key that
 * is not the pinned one ends the login, no PROOF sent. Returns false
 * for one to drop (forged or malformed: the HELLO goes on). */
static bool hubcli_challenge(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    struct hubcli_req *r = &c->req;
    char why[HUBCLI_WHY_MAX] = "";
    uint8_t proof[HUBWIRE_PAYLOAD_MAX];
    int n;

    if (r->proof)
        return true; /* a late copy: the PROOF is on its way */
    n = c->io.challenge(c->io.ctx, m, r->secret, r->secret_len, proof, why);
    if (why[0] != '\0')
        c->io.warn(c->io.ctx, why);
    if (n == -EBADMSG)
        return false;
    if (n < 0 || n > HUBWIRE_PAYLOAD_MAX) {
        hubcli_print(c, n == -EKEYREJECTED ? "error#hub_key_mismatch" : "login_ack#failed");
        hubcli_login_over(c, false);
        return true;
    }
    memcpy(r->payload, proof, (size_t)n);
    r->len = (uint8_t)n;
    r->proof = true;
    r->tries = 0;
    hubcli_req_send(c, now);
    return true;
}

/* The login's answer. Returns false for one that is none: an ok without
 * a token (no session to keep), or, secure, before the PROOF. */
static bool hubcli_login_answer(struct hubcli *c, const struct hubwire_msg *m, int64_t now)
{
    bool ok = m->op == HUB_LOGIN_OK;

    if (ok && (m->token == 0 || (hubcli_secure(c) && !c->req.proof)))
        return false;
    if (ok) {
        c->token = m->token;
        c->nonce = c->req.msg_id;
        c->seq = 0;
        c->last_sent = now; /* the keepalives count from here */
    }
    /* A secure hub answers any HELLO with a CHALLENGE (an unknown id
     * too): a refusal before one is a HELLO it could not read. */
    if (!ok && hubcli_secure(c) && !c->req.proof)
        hubcli_warnf(c, "hub: the hub refused the HELLO: is it on the plain wire (ferry hub "
                        "--hub-wire plain)?");
    hubcli_print(c, ok ? hubcli_kinds[REQ_LOGIN].ok_line : hubcli_kinds[REQ_LOGIN].failed_line);
    hubcli_login_over(c, ok);
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
    if (r->kind == REQ_LOGIN && m->msg_id == r->msg_id && m->op == HUB_LOGIN_CHALLENGE)
        return hubcli_secure(c) && hubcli_challenge(c, m, now);
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
    hubcli_start(c, kind, arg, len, now);
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
    int rc;

    /* Secure, the loop joins "login#ID" and the password it reads
     * (prompt, or the next line): alone, there was none to read. */
    if (amp == NULL && hubcli_secure(c)) {
        hubcli_warnf(c,
                     "hub: login#%.*s: no password (none at the prompt, or stdin ended); not sent",
                     (int)(len > 40 ? 40 : len), arg);
        return;
    }
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
    if ((rc = hubcli_login_start(c, arg, len, idlen, now)) < 0)
        hubcli_warnf(c, "hub: login#: cannot start a login (a random nonce, a key): %s; not sent",
                     strerror(-rc));
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

/* The basename of postfile#'s path: the name the file takes at the hub,
 * if the hub takes it. Returns it (into path), or NULL, said on stderr. */
static const char *hubcli_upload_name(struct hubcli *c, const char *path)
{
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    size_t len = strlen(name);

    if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        hubcli_warnf(c, "hub: postfile#%.200s: not a file's path; not sent", path);
    else if (len > WIRE_PUT_NAME_MAX)
        hubcli_warnf(c,
                     "hub: postfile#: the name '%.40s...' is %zu bytes, over the hub's %d; "
                     "not sent",
                     name, len, WIRE_PUT_NAME_MAX);
    else if (name[0] == '.')
        hubcli_warnf(c,
                     "hub: postfile#: the name '%s' starts with '.' (the hub takes no hidden "
                     "names); not sent",
                     name);
    else if (!name_valid(name, len))
        hubcli_warnf(c, "hub: postfile#: the name of '%.200s' is not printable ASCII; not sent",
                     path);
    else
        return name;
    return NULL;
}

/* Uploads a file (a native PUT) with the session's token; the hub then
 * announces it to the followers. The loop does the transfer, while the
 * machine waits: nothing is in flight, so nothing of the machine's is
 * late meanwhile (datagrams that come wait in the socket). */
static void cmd_postfile(struct hubcli *c, const char *arg, size_t len, int64_t now)
{
    char path[HUBCLI_LINE_MAX + 1], why[HUBCLI_WHY_MAX] = "";
    const char *name;
    int rc;

    (void)now;
    if (len == 0 || memchr(arg, '\0', len) != NULL) {
        hubcli_warnf(c, "hub: postfile# wants the path of a file (postfile#notes.txt); not sent");
        return;
    }
    if (!hubcli_need_session(c, "postfile"))
        return;
    memcpy(path, arg, len);
    path[len] = '\0';
    if ((name = hubcli_upload_name(c, path)) == NULL)
        return;
    rc = c->io.upload(c->io.ctx, path, name, c->token, why);
    if (rc != HUBCLI_UP_REFUSED)
        hubcli_print(c, rc == HUBCLI_UP_OK ? "postfile_ack#successful" : "postfile_ack#failed");
    if (why[0] != '\0')
        c->io.warn(c->io.ctx, why);
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
                 "post#TEXT, postfile#PATH, retrieve#N, logout#, state#, reset#, junk#, "
                 "spurious#); not sent",
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
        sodium_memzero(l->text, sizeof(l->text)); /* a login's password, say */
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
        sodium_memzero(c->q, HUBCLI_QUEUE_MAX * sizeof(*c->q));
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

/* What is in flight is due: sent again, begun again (a secure login's
 * handshake), or given up. */
static void hubcli_due(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;

    if (r->kind == REQ_LOGIN && hubcli_login_again(c, now))
        return; /* a new handshake: its HELLO is sent */
    if (r->tries >= HUBCLI_TRIES)
        hubcli_give_up(c, now);
    else
        hubcli_req_send(c, now);
}

void hubcli_tick(struct hubcli *c, int64_t now)
{
    struct hubcli_req *r = &c->req;

    if (r->kind != REQ_NONE && r->due <= now)
        hubcli_due(c, now);
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
