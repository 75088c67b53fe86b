/*
 * session: the hub's sessions as one state machine. See session.h.
 *
 * The records are one array allocated up front (max_sessions), reached
 * by token and by user id through two chained hash indexes whose links
 * live in the records; free records are chained through the token link.
 * Every record in use has one deadline in a min-heap (worker/deadline.h):
 * the earliest of its inactivity timeout and its next retransmission, or
 * the end of a logged-out record's linger. A client's opcode selects its
 * handler from one table: requests (sequenced, answered once and the
 * answer kept) and the rest (keepalive, acks, the test hook).
 */
#include "worker/hub/session.h"

#include "worker/deadline.h"
#include "worker/hub/retx.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_LIMIT (1u << 24) /* max_sessions at most: indexes are int32_t */

enum session_slot { SLOT_FREE, SLOT_LIVE, SLOT_LINGER /* logged out, token reserved */ };

enum session_chain { BY_TOKEN, BY_ID };

enum session_end { END_SILENT, END_RESET, END_LINGER };

/* The answer to a client's last request, kept to be sent again. */
struct session_answer {
    uint32_t seq;       /* the request's msg_id, echoed */
    uint8_t op;         /* the ack, HUB_ERROR, or HUB_RETRIEVE_END */
    const char *reason; /* HUB_ERROR: the payload */
    uint32_t value;     /* HUB_POST_ACK: the post's msg_id; HUB_RETRIEVE_END: the newest answered */
    unsigned count;     /* HUB_RETRIEVE_END: posts asked */
    unsigned sent;      /* HUB_RETRIEVE_END: retrieve acks sent, the last time */
};

struct session {
    struct dl_node dl;
    enum session_slot slot;
    bool lost;       /* a forward found the window full: reset at the next tick */
    uint32_t token;  /* non-zero while in use */
    uint32_t nonce;  /* the login's; 0: a course session */
    int32_t next[2]; /* hash chains by token and by id, -1 ends; free list by token */
    int64_t expires; /* live: inactivity deadline; lingering: end of the linger */
    char id[STORE_ID_MAX + 1];
    struct session_addr addr;
    struct session_answer last;
    struct retx retx;
};

struct session_table {
    struct session_params p;
    struct session_store st;
    session_rand_fn rnd;
    struct session *s; /* p.max_sessions records */
    int32_t free_head;
    int32_t *head[2]; /* hash buckets by token and by id */
    unsigned bits;    /* log2 of the buckets */
    struct dl_heap heap;
    struct session_counters c;
    struct store_post *posts; /* a retrieve's answer, SESSION_RETRIEVE_MAX */
};

/* One datagram being handled. */
struct session_req {
    struct session_table *t;
    struct session *s; /* the live session it belongs to, once known */
    const struct hubwire_msg *m;
    const uint8_t *p; /* payload, one trailing newline stripped */
    size_t len;
    const struct session_addr *from;
    int64_t now;
    struct session_outbox *out;
};

/* ------------------------------------------------------------ records */

static uint32_t session_hash_token(const struct session_table *t, uint32_t token)
{
    return (token * 2654435761u) >> (32 - t->bits); /* Knuth's multiplicative hash */
}

static uint32_t session_hash_id(const struct session_table *t, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    while (*id != '\0')
        h = (h ^ (uint8_t)*id++) * 16777619u;
    return h & ((1u << t->bits) - 1);
}

static uint32_t session_bucket(const struct session_table *t, enum session_chain c,
                               const struct session *s)
{
    return c == BY_TOKEN ? session_hash_token(t, s->token) : session_hash_id(t, s->id);
}

static void session_link(struct session_table *t, enum session_chain c, struct session *s)
{
    int32_t *head = &t->head[c][session_bucket(t, c, s)];

    s->next[c] = *head;
    *head = (int32_t)(s - t->s);
}

static void session_unlink(struct session_table *t, enum session_chain c, struct session *s)
{
    int32_t *p = &t->head[c][session_bucket(t, c, s)];
    int32_t i = (int32_t)(s - t->s);

    while (*p != i)
        p = &t->s[*p].next[c];
    *p = s->next[c];
}

/* The record holding token, live or lingering, or NULL. */
static struct session *session_by_token(const struct session_table *t, uint32_t token)
{
    for (int32_t i = t->head[BY_TOKEN][session_hash_token(t, token)]; i >= 0;
         i = t->s[i].next[BY_TOKEN])
        if (t->s[i].token == token)
            return &t->s[i];
    return NULL;
}

/* The live session of user id, or NULL. */
static struct session *session_by_id(const struct session_table *t, const char *id)
{
    for (int32_t i = t->head[BY_ID][session_hash_id(t, id)]; i >= 0; i = t->s[i].next[BY_ID])
        if (strcmp(t->s[i].id, id) == 0)
            return &t->s[i];
    return NULL;
}

bool session_addr_equal(const struct session_addr *a, const struct session_addr *b)
{
    return a->len == b->len && a->via == b->via && a->len <= sizeof(a->ss) &&
           memcmp(&a->ss, &b->ss, a->len) == 0;
}

static bool session_course(const struct session *s)
{
    return s->nonce == 0;
}

/* Queues s at its next deadline: the earliest of its timeout and its next
 * retransmission, or now when it is lost. */
static void session_schedule(struct session_table *t, struct session *s, int64_t now)
{
    int64_t at = s->expires, next = retx_next(&s->retx);

    if (s->lost)
        at = now;
    else if (next < at)
        at = next;
    dl_set(&t->heap, &s->dl, at); /* cannot fail: the heap has room for every record */
}

/* Draws a token held by no record into *token. Returns 0, -EAGAIN after
 * SESSION_TOKEN_TRIES taken ones, or the source's -errno. */
static int session_draw_token(struct session_table *t, uint32_t *token)
{
    for (int k = 0; k < SESSION_TOKEN_TRIES; k++) {
        int rc = t->rnd(token);

        if (rc < 0)
            return rc;
        if (*token != 0 && session_by_token(t, *token) == NULL)
            return 0;
    }
    return -EAGAIN;
}

static void session_release(struct session_table *t, struct session *s);

/* Frees the logged-out record whose linger ends first, when there is one:
 * a login matters more than answering a repeated logout. A scan, but only
 * when every record is taken. */
static void session_reclaim(struct session_table *t)
{
    struct session *oldest = NULL;

    for (uint32_t i = 0; i < t->p.max_sessions; i++)
        if (t->s[i].slot == SLOT_LINGER && (oldest == NULL || t->s[i].expires < oldest->expires))
            oldest = &t->s[i];
    if (oldest != NULL)
        session_release(t, oldest);
}

/* Opens a live session for id from r's address. Returns it, or NULL when
 * every record is live or no token could be drawn. */
static struct session *session_open(struct session_req *r, const char *id)
{
    struct session_table *t = r->t;
    struct session *s;
    uint32_t token;
    int32_t i;

    if (t->free_head < 0)
        session_reclaim(t);
    i = t->free_head;
    if (i < 0 || session_draw_token(t, &token) < 0)
        return NULL;
    s = &t->s[i];
    t->free_head = s->next[BY_TOKEN];
    s->slot = SLOT_LIVE;
    s->lost = false;
    s->token = token;
    s->nonce = r->m->msg_id;
    memcpy(s->id, id, strlen(id) + 1);
    s->addr = *r->from;
    s->expires = r->now + t->p.timeout_ns;
    memset(&s->last, 0, sizeof(s->last));
    retx_init(&s->retx);
    session_link(t, BY_TOKEN, s);
    session_link(t, BY_ID, s);
    t->c.online++;
    session_schedule(t, s, r->now);
    return s;
}

/* Returns a record that is not live to the free list. */
static void session_release(struct session_table *t, struct session *s)
{
    if (t->p.released != NULL)
        t->p.released(t->p.ctx, s->token);
    session_unlink(t, BY_TOKEN, s);
    dl_remove(&t->heap, &s->dl);
    s->slot = SLOT_FREE;
    s->token = 0;
    s->next[BY_TOKEN] = t->free_head;
    t->free_head = (int32_t)(s - t->s);
}

/* ------------------------------------------------------------ output */

/* Appends one datagram to o, which has room (the callers make sure). */
static void session_emit(struct session_outbox *o, const struct session_addr *to, uint8_t op,
                         uint32_t token, uint32_t msg_id, const void *payload, size_t len)
{
    struct session_out *d;

    assert(o->n < o->cap && len <= HUBWIRE_PAYLOAD_MAX);
    if (o->n >= o->cap)
        return; /* never, by the room rules; dropped rather than overrun in a release build */
    d = &o->v[o->n++];
    d->to = *to;
    d->op = op;
    d->len = (uint8_t)len;
    d->token = token;
    d->msg_id = msg_id;
    if (len > 0)
        memcpy(d->payload, payload, len);
}

/* Appends a datagram for r's session. */
static void session_reply(struct session_req *r, uint8_t op, uint32_t msg_id, const void *payload,
                          size_t len)
{
    session_emit(r->out, &r->s->addr, op, r->s->token, msg_id, payload, len);
}

/* Ends live session s: with a reset sent (echoing msg_id), silently, or
 * lingering to answer a repeated logout. */
static void session_end(struct session_table *t, struct session *s, enum session_end how,
                        uint32_t msg_id, int64_t now, struct session_outbox *out, const char *why)
{
    if (why != NULL && t->p.ended != NULL)
        t->p.ended(t->p.ctx, s->id, s->token, why);
    if (how == END_RESET) {
        session_emit(out, &s->addr, HUB_RESET, s->token, msg_id, NULL, 0);
        t->c.resets_sent++;
    }
    retx_free(&s->retx);
    s->lost = false;
    session_unlink(t, BY_ID, s);
    t->c.online--;
    if (how != END_LINGER) {
        session_release(t, s);
        return;
    }
    s->slot = SLOT_LINGER;
    s->expires = now + RETX_SPAN_NS;
    session_schedule(t, s, now);
}

/* Ends a record whose deadline has come for good: a live one timed out
 * (reset), a lingering one is forgotten. */
static void session_expire(struct session_table *t, struct session *s, int64_t now,
                           struct session_outbox *out)
{
    if (s->slot == SLOT_LINGER)
        session_release(t, s);
    else
        session_end(t, s, END_RESET, 0, now, out, "silent for the session timeout");
}

/* Writes "<publisher>text" into buf (HUBWIRE_PAYLOAD_MAX bytes). Returns
 * its length. */
static size_t session_line(uint8_t *buf, const char *publisher, const void *text, size_t len)
{
    size_t n = strlen(publisher);

    buf[0] = '<';
    memcpy(buf + 1, publisher, n);
    buf[n + 1] = '>';
    memcpy(buf + n + 2, text, len);
    return n + 2 + len;
}

/* ------------------------------------------------------------ payloads */

/* The length of p without one trailing "\n" or "\r\n" (a course client
 * sends the line fgets() read). */
static size_t session_strip(const uint8_t *p, size_t len)
{
    if (len > 0 && p[len - 1] == '\n') {
        len--;
        if (len > 0 && p[len - 1] == '\r')
            len--;
    }
    return len;
}

/* Copies r's payload into id when it is a user id. */
static bool session_payload_id(const struct session_req *r, char id[STORE_ID_MAX + 1])
{
    if (!hubwire_id_valid(r->p, r->len))
        return false;
    memcpy(id, r->p, r->len);
    id[r->len] = '\0';
    return true;
}

/* Splits a login's "id&password": id copied, *pw into the payload. */
static bool session_parse_login(const struct session_req *r, char id[STORE_ID_MAX + 1],
                                const uint8_t **pw, size_t *pwlen)
{
    const uint8_t *amp = memchr(r->p, '&', r->len);
    size_t n = amp == NULL ? 0 : (size_t)(amp - r->p);

    if (amp == NULL || !hubwire_id_valid(r->p, n))
        return false;
    memcpy(id, r->p, n);
    id[n] = '\0';
    *pw = amp + 1;
    *pwlen = r->len - n - 1;
    return true;
}

/* Parses a retrieve's count: decimal digits, large values clamped. */
static bool session_parse_count(const struct session_req *r, unsigned *count)
{
    uint64_t n = 0;

    if (r->len == 0)
        return false;
    for (size_t i = 0; i < r->len; i++) {
        if (r->p[i] < '0' || r->p[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(r->p[i] - '0');
        if (n > SESSION_RETRIEVE_MAX)
            n = SESSION_RETRIEVE_MAX;
    }
    *count = (unsigned)n;
    return true;
}

/* ------------------------------------------------------------ requests */

static void session_refuse(struct session_answer *a, const char *reason)
{
    a->op = HUB_ERROR;
    a->reason = reason;
}

static void session_do_subscribe(struct session_req *r, struct session_answer *a)
{
    char id[STORE_ID_MAX + 1];
    const struct session_store *st = &r->t->st;

    a->op = HUB_SUBSCRIBE_FAILED;
    if (session_payload_id(r, id) && strcmp(id, r->s->id) != 0 &&
        st->subscribe(st->ctx, r->s->id, id) == 0)
        a->op = HUB_SUBSCRIBE_OK;
}

static void session_do_unsubscribe(struct session_req *r, struct session_answer *a)
{
    char id[STORE_ID_MAX + 1];
    const struct session_store *st = &r->t->st;

    a->op = HUB_UNSUBSCRIBE_FAILED;
    if (session_payload_id(r, id) && st->unsubscribe(st->ctx, r->s->id, id) == 0)
        a->op = HUB_UNSUBSCRIBE_OK;
}

/* A post on its way to the followers: store.followers' argument. A file
 * announcement goes as a file notification (note), except to a course
 * session, which knows only forwards (line). */
struct session_fanout {
    struct session_table *t;
    const char *publisher;
    uint32_t msg_id;
    uint8_t line[HUBWIRE_PAYLOAD_MAX];
    size_t len;
    uint8_t note[HUBWIRE_PAYLOAD_MAX];
    size_t note_len; /* 0: a post, no notification */
    int64_t now;
};

/* Queues the forward (or notification) for follower when it is online. */
static int session_forward(const char *follower, void *arg)
{
    struct session_fanout *f = arg;
    struct session *s = session_by_id(f->t, follower);
    bool note = f->note_len > 0 && s != NULL && !session_course(s);
    int rc;

    if (s == NULL || strcmp(s->id, f->publisher) == 0)
        return 0;
    rc = note ? retx_add(&s->retx, HUB_FILE_NOTE, f->msg_id, f->note, (uint8_t)f->note_len, f->now)
              : retx_add(&s->retx, HUB_FORWARD, f->msg_id, f->line, (uint8_t)f->len, f->now);
    if (rc < 0)
        s->lost = true; /* window full, or no memory: lost, as if unacked */
    session_schedule(f->t, s, f->now);
    return 0;
}

static void session_do_post(struct session_req *r, struct session_answer *a)
{
    const struct session_store *st = &r->t->st;
    struct session_fanout f = {.t = r->t, .publisher = r->s->id, .now = r->now};
    const char *why = NULL;

    if (r->len > HUBWIRE_POST_MAX)
        why = "post longer than 200 bytes";
    else if (memchr(r->p, '\0', r->len) != NULL)
        why = "post holds a NUL byte";
    else if (st->post(st->ctx, r->s->id, (const char *)r->p, r->len, &f.msg_id) < 0)
        why = "storage error";
    if (why != NULL) {
        session_refuse(a, why);
        return;
    }
    r->t->c.posts++;
    a->op = HUB_POST_ACK;
    a->value = f.msg_id;
    f.len = session_line(f.line, r->s->id, r->p, r->len);
    st->followers(st->ctx, r->s->id, session_forward, &f); /* a failure: no live forwards */
}

static void session_do_retrieve(struct session_req *r, struct session_answer *a)
{
    if (!session_parse_count(r, &a->count)) {
        session_refuse(a, "retrieve wants a count");
        return;
    }
    a->op = HUB_RETRIEVE_END;
    a->value = UINT32_MAX;
}

static void session_do_logout(struct session_req *r, struct session_answer *a)
{
    (void)r;
    a->op = HUB_LOGOUT_ACK;
}

/* Sends a retrieve's posts, newest first, up to msg_id a->value, and
 * narrows a->value to the newest sent, so that the same answer can be
 * sent again; a store failure makes the answer a refusal. */
static void session_send_posts(struct session_req *r, struct session_answer *a)
{
    const struct session_store *st = &r->t->st;
    struct store_post *p = r->t->posts;
    uint8_t line[HUBWIRE_PAYLOAD_MAX];
    int got = a->count == 0 ? 0 : st->recent(st->ctx, r->s->id, a->value, a->count, p);

    if (got < 0) {
        session_refuse(a, "storage error");
        return;
    }
    if ((unsigned)got > a->count)
        got = (int)a->count;
    for (int i = 0; i < got; i++) {
        size_t n =
            session_line(line, p[i].publisher, p[i].text, strnlen(p[i].text, STORE_TEXT_MAX));

        session_reply(r, HUB_RETRIEVE_ACK, p[i].msg_id, line, n);
    }
    a->value = got > 0 ? p[0].msg_id : 0;
    a->sent = (unsigned)got;
}

/* Sends answer a to r's request (again, for a duplicate), and does what
 * it implies: a refusal resets a course session, a logout ack ends the
 * session. */
static void session_answer(struct session_req *r, struct session_answer *a)
{
    char num[12];
    const void *payload = NULL;
    size_t len = 0;

    if (a->op == HUB_RETRIEVE_END)
        session_send_posts(r, a);
    if (a->op == HUB_ERROR && session_course(r->s)) {
        session_end(r->t, r->s, END_RESET, a->seq, r->now, r->out,
                    "a refusal a course client cannot read (0xF1): reset instead");
        return;
    }
    if (a->op == HUB_ERROR) {
        payload = a->reason;
        len = strlen(a->reason);
    } else if (a->op == HUB_POST_ACK && !session_course(r->s)) {
        len = (size_t)snprintf(num, sizeof(num), "%" PRIu32, a->value);
        payload = num;
    } else if (a->op == HUB_RETRIEVE_END && !session_course(r->s)) {
        /* How many acks came before it: a client over a lossy network
         * knows whether it has them all, or must ask again. */
        len = (size_t)snprintf(num, sizeof(num), "%u", a->sent);
        payload = num;
    }
    session_reply(r, a->op, a->seq, payload, len);
    if (a->op == HUB_LOGOUT_ACK)
        session_end(r->t, r->s, END_LINGER, 0, r->now, r->out, NULL);
}

/* A request: applied once, its answer kept; the same sequence number
 * again gets the kept answer, a lower one nothing (a late copy). */
static void session_request(struct session_req *r,
                            void (*apply)(struct session_req *, struct session_answer *))
{
    struct session *s = r->s;
    uint32_t seq = r->m->msg_id;

    if (seq != 0 && s->last.seq != 0 && seq <= s->last.seq) {
        r->t->c.duplicates++;
        if (seq == s->last.seq)
            session_answer(r, &s->last);
        return;
    }
    memset(&s->last, 0, sizeof(s->last));
    s->last.seq = seq;
    apply(r, &s->last);
    session_answer(r, &s->last);
}

/* ------------------------------------------------------------ the rest */

static bool session_keepalive(struct session_req *r)
{
    if (!session_course(r->s)) /* the course knows no 0x8E */
        session_reply(r, HUB_KEEPALIVE_ACK, r->m->msg_id, NULL, 0);
    return true;
}

/* A forward ack (or, later, a file notification's): false when nothing
 * it could ack was sent. */
static bool session_ack(struct session_req *r)
{
    uint8_t sent = r->m->op == HUB_FORWARD_ACK ? HUB_FORWARD : HUB_FILE_NOTE;

    switch (retx_ack(&r->s->retx, sent, r->m->msg_id)) {
    case RETX_ACKED:
        return true;
    case RETX_DUPLICATE:
        r->t->c.duplicates++;
        return true;
    case RETX_UNKNOWN:
        break;
    }
    return false;
}

/* The course's grading hook: a post ack nobody asked for. */
static bool session_hook(struct session_req *r)
{
    if (!r->t->p.test_hooks)
        return false;
    session_reply(r, HUB_POST_ACK, r->m->msg_id, NULL, 0);
    return true;
}

/* A client opcode's handler: a request, or another datagram (false: out
 * of order). Opcodes without either are out of order. */
struct session_op {
    void (*request)(struct session_req *, struct session_answer *);
    bool (*other)(struct session_req *);
};

static const struct session_op session_ops[0x80] = {
    [HUB_KEEPALIVE] = {NULL, session_keepalive},
    [HUB_LOGOUT] = {session_do_logout, NULL},
    [HUB_SUBSCRIBE] = {session_do_subscribe, NULL},
    [HUB_UNSUBSCRIBE] = {session_do_unsubscribe, NULL},
    [HUB_POST] = {session_do_post, NULL},
    [HUB_FORWARD_ACK] = {NULL, session_ack},
    [HUB_FILE_ACK] = {NULL, session_ack},
    [HUB_RETRIEVE] = {session_do_retrieve, NULL},
    [HUB_TEST_HOOK] = {NULL, session_hook},
};

/* A datagram for live session r->s: activity, maybe a new address, then
 * its opcode's handler. */
static void session_live(struct session_req *r)
{
    struct session *s = r->s;
    const struct session_op *op = r->m->op < 0x80 ? &session_ops[r->m->op] : NULL;

    s->expires = r->now + r->t->p.timeout_ns;
    if (!session_addr_equal(&s->addr, r->from))
        s->addr = *r->from; /* NAT rebinding, or a roaming client */
    if (r->m->op == HUB_RESET) {
        r->t->c.resets_received++;
        session_end(r->t, s, END_SILENT, 0, r->now, r->out, "reset by the client");
        return;
    }
    if (op != NULL && op->request != NULL)
        session_request(r, op->request);
    else if (op == NULL || op->other == NULL || !op->other(r)) {
        session_end(r->t, s, END_RESET, r->m->msg_id, r->now, r->out,
                    "out of order: an opcode this session cannot take now");
        return;
    }
    if (s->slot == SLOT_LIVE)
        session_schedule(r->t, s, r->now);
}

/* A datagram whose token is no live session's; ls is its lingering
 * record, if any. A repeated logout is acked again, a reset dropped, the
 * rest told to log in. */
static void session_dead(struct session_req *r, const struct session *ls)
{
    const struct hubwire_msg *m = r->m;

    if (m->op == HUB_RESET) {
        r->t->c.rejected++;
        return;
    }
    if (ls != NULL && m->op == HUB_LOGOUT && m->msg_id != 0 && m->msg_id == ls->last.seq) {
        r->t->c.duplicates++;
        session_emit(r->out, r->from, HUB_LOGOUT_ACK, ls->token, m->msg_id, NULL, 0);
        return;
    }
    session_emit(r->out, r->from, HUB_MUST_LOGIN, m->token, m->msg_id, NULL, 0);
}

/* The live session of r's token, or NULL once session_dead() answered.
 * A record whose deadline passed unnoticed is expired first. */
static struct session *session_lookup(struct session_req *r)
{
    struct session *s = session_by_token(r->t, r->m->token);

    if (s != NULL && s->expires <= r->now) {
        session_expire(r->t, s, r->now, r->out);
        s = NULL;
    }
    if (s != NULL && s->slot == SLOT_LIVE)
        return s;
    session_dead(r, s);
    return NULL;
}

/* A login whose user is proven: the same login again (same id, nonce and
 * address) gets the same token, else a new session ends the user's old
 * one. Returns the session's token, or 0 when the table could not take
 * it (answered 0x81). */
static uint32_t session_admit(struct session_req *r, const char *id)
{
    struct session_table *t = r->t;
    uint32_t nonce = r->m->msg_id;
    struct session *s = session_by_id(t, id);

    if (s != NULL && s->expires <= r->now) {
        session_expire(t, s, r->now, r->out);
        s = NULL;
    }
    if (s != NULL && s->nonce == nonce && session_addr_equal(&s->addr, r->from)) {
        t->c.duplicates++;
        s->expires = r->now + t->p.timeout_ns;
        session_schedule(t, s, r->now);
        session_emit(r->out, r->from, HUB_LOGIN_OK, s->token, nonce, NULL, 0);
        return s->token;
    }
    if (s != NULL)
        session_end(t, s, END_SILENT, 0, r->now, r->out, "replaced by a new login");
    s = session_open(r, id);
    if (s == NULL) {
        session_emit(r->out, r->from, HUB_LOGIN_FAILED, 0, nonce, NULL, 0);
        return 0;
    }
    session_emit(r->out, r->from, HUB_LOGIN_OK, s->token, nonce, NULL, 0);
    return s->token;
}

/* A plain login, "id&password": the password first, then session_admit(). */
static void session_login(struct session_req *r)
{
    struct session_table *t = r->t;
    char id[STORE_ID_MAX + 1];
    const uint8_t *pw;
    size_t pwlen;

    if (!session_parse_login(r, id, &pw, &pwlen) ||
        t->st.check_password(t->st.ctx, id, pw, pwlen) != 0) {
        session_emit(r->out, r->from, HUB_LOGIN_FAILED, 0, r->m->msg_id, NULL, 0);
        return;
    }
    session_admit(r, id);
}

/* ------------------------------------------------------------ the API */

void session_params_default(struct session_params *p)
{
    p->timeout_ns = SESSION_TIMEOUT_NS;
    p->max_sessions = SESSION_MAX;
    p->test_hooks = false;
    p->ended = NULL;
    p->released = NULL;
    p->ctx = NULL;
}

struct session_table *session_table_new(const struct session_params *p,
                                        const struct session_store *st, session_rand_fn rnd)
{
    struct session_table *t;
    size_t buckets;

    if (p->max_sessions == 0 || p->max_sessions > SESSION_LIMIT || p->timeout_ns < 1) {
        errno = EINVAL;
        return NULL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    t->p = *p;
    t->st = *st;
    t->rnd = rnd;
    for (t->bits = 4; (1u << t->bits) < p->max_sessions; t->bits++)
        ;
    buckets = (size_t)1 << t->bits;
    t->s = calloc(p->max_sessions, sizeof(*t->s));
    t->head[BY_TOKEN] = malloc(buckets * sizeof(int32_t));
    t->head[BY_ID] = malloc(buckets * sizeof(int32_t));
    t->posts = calloc(SESSION_RETRIEVE_MAX, sizeof(*t->posts));
    if (t->s == NULL || t->head[BY_TOKEN] == NULL || t->head[BY_ID] == NULL || t->posts == NULL ||
        dl_init(&t->heap, p->max_sessions) < 0)
        goto fail;
    memset(t->head[BY_TOKEN], 0xff, buckets * sizeof(int32_t)); /* all -1 */
    memset(t->head[BY_ID], 0xff, buckets * sizeof(int32_t));
    t->free_head = -1;
    for (uint32_t i = p->max_sessions; i-- > 0;) {
        dl_node_init(&t->s[i].dl);
        t->s[i].next[BY_TOKEN] = t->free_head;
        t->free_head = (int32_t)i;
    }
    return t;
fail:
    session_table_free(t);
    errno = ENOMEM;
    return NULL;
}

void session_table_free(struct session_table *t)
{
    if (t == NULL)
        return;
    for (uint32_t i = 0; t->s != NULL && i < t->p.max_sessions; i++)
        retx_free(&t->s[i].retx);
    dl_free(&t->heap);
    free(t->posts);
    free(t->head[BY_ID]);
    free(t->head[BY_TOKEN]);
    free(t->s);
    free(t);
}

int session_input(struct session_table *t, const struct hubwire_msg *m,
                  const struct session_addr *from, int64_t now, struct session_outbox *out)
{
    struct session_req r = {.t = t, .m = m, .from = from, .now = now, .out = out};

    if (out->n > out->cap || out->cap - out->n < SESSION_OUTBOX_MIN)
        return -ENOBUFS;
    if (m->secure) {
        t->c.rejected++; /* a secure envelope on the plain wire */
        return 0;
    }
    r.p = m->payload;
    r.len = session_strip(m->payload, m->len);
    if (m->op == HUB_LOGIN)
        session_login(&r);
    else if ((r.s = session_lookup(&r)) != NULL)
        session_live(&r);
    session_tick(t, now, out);
    return 0;
}

int session_announce(struct session_table *t, const char *publisher, const char *name,
                     uint64_t size, const char *sha256_hex, int64_t now, struct session_outbox *out,
                     uint32_t *msg_id)
{
    struct session_fanout f = {.t = t, .publisher = publisher, .now = now};
    char text[HUBWIRE_POST_MAX + 1];
    int n = snprintf(text, sizeof(text), "file %s %" PRIu64 " %s", name, size, sha256_hex);
    int rc;

    if (n < 0 || (size_t)n > HUBWIRE_POST_MAX || strlen(name) > SESSION_FILE_NAME_MAX)
        return -ENAMETOOLONG;
    if ((rc = t->st.post(t->st.ctx, publisher, text, (size_t)n, &f.msg_id)) < 0)
        return rc;
    t->c.posts++;
    f.len = session_line(f.line, publisher, text, (size_t)n);
    f.note_len = session_line(f.note, publisher, text + 5, (size_t)n - 5); /* without "file " */
    t->st.followers(t->st.ctx, publisher, session_forward, &f);
    *msg_id = f.msg_id;
    session_tick(t, now, out);
    return 0;
}

bool session_kick(struct session_table *t, const char *id, int64_t now, struct session_outbox *out,
                  const char *why)
{
    struct session *s = session_by_id(t, id);

    if (s == NULL || s->slot != SLOT_LIVE || out->n >= out->cap)
        return false;
    session_end(t, s, END_RESET, 0, now, out, why);
    return true;
}

int session_login_proven(struct session_table *t, const char *id, uint32_t nonce,
                         const struct session_addr *from, int64_t now, struct session_outbox *out,
                         uint32_t *token)
{
    struct hubwire_msg m = {.op = HUB_LOGIN, .msg_id = nonce};
    struct session_req r = {.t = t, .m = &m, .from = from, .now = now, .out = out};

    if (out->n > out->cap || out->cap - out->n < SESSION_OUTBOX_MIN)
        return -ENOBUFS;
    *token = session_admit(&r, id);
    session_tick(t, now, out);
    return 0;
}

/* Sends what is due of s's forwards as far as out has room; an entry
 * sent RETX_TRIES times and due again loses the session. */
static void session_flush(struct session_table *t, struct session *s, int64_t now,
                          struct session_outbox *out)
{
    struct retx_entry *e;

    while (out->n < out->cap && (e = retx_due(&s->retx, now)) != NULL) {
        if (e->tries >= RETX_TRIES) {
            session_end(t, s, END_RESET, 0, now, out,
                        "lost: a forward unacknowledged after 8 sends");
            return;
        }
        session_emit(out, &s->addr, e->op, s->token, e->msg_id, e->payload, e->len);
        if (e->tries == 0)
            t->c.forwards++;
        else
            t->c.retransmissions++;
        retx_sent(e, now);
    }
    session_schedule(t, s, now);
}

void session_tick(struct session_table *t, int64_t now, struct session_outbox *out)
{
    struct dl_node *n;

    while (out->n < out->cap && (n = dl_min(&t->heap)) != NULL && n->at <= now) {
        struct session *s = DL_ENTRY(n, struct session, dl);

        if (s->slot == SLOT_LINGER || s->expires <= now)
            session_expire(t, s, now, out);
        else if (s->lost)
            session_end(t, s, END_RESET, 0, now, out, "lost: its window of forwards is full");
        else
            session_flush(t, s, now, out);
    }
}

int64_t session_deadline(const struct session_table *t)
{
    const struct dl_node *n = dl_min(&t->heap);

    return n == NULL ? INT64_MAX : n->at;
}

void session_count_rejected(struct session_table *t)
{
    t->c.rejected++;
}

const struct session_counters *session_counters(const struct session_table *t)
{
    return &t->c;
}

enum session_state session_state(const struct session_table *t, uint32_t token)
{
    const struct session *s = token == 0 ? NULL : session_by_token(t, token);

    if (s == NULL || s->slot != SLOT_LIVE)
        return SESSION_OFFLINE;
    return retx_count(&s->retx) > 0 ? SESSION_FORWARD : SESSION_ONLINE;
}

const struct session_addr *session_peer(const struct session_table *t, uint32_t token, int64_t now)
{
    const struct session *s = token == 0 ? NULL : session_by_token(t, token);

    if (s == NULL || s->slot != SLOT_LIVE || s->expires <= now)
        return NULL;
    return &s->addr;
}

const char *session_user(const struct session_table *t, uint32_t token, int64_t now)
{
    const struct session *s = token == 0 ? NULL : session_by_token(t, token);

    if (s == NULL || s->slot != SLOT_LIVE || s->expires <= now)
        return NULL;
    return s->id;
}

void session_out_msg(const struct session_out *o, struct hubwire_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->op = o->op;
    m->len = o->len;
    m->token = o->token;
    m->msg_id = o->msg_id;
    m->payload = o->payload;
}
