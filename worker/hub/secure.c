/*
 * secure: the hub's side of the secure wire. See secure.h.
 */
#include "worker/hub/secure.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* A handshake between its CHALLENGE and its PROOF (and after, for a PROOF
 * sent again because the login ack was lost). */
struct secure_pending {
    uint64_t id; /* 0: the slot is free */
    int64_t expires;
    struct session_addr from;
    uint32_t nonce;
    uint32_t token; /* the session it made; 0: none yet */
    bool opened;    /* a PROOF opened under its keys: its refusal goes sealed */
    bool refused;   /* that PROOF's signature was wrong: the handshake is over */
    bool known;     /* the id is an account: pk is its key */
    struct hubsec_hello hello;
    uint8_t pk[HUBSEC_PK];
    uint8_t th[HUBSEC_HASH];
    uint8_t challenge[HUBSEC_CHALLENGE_LEN];
    struct hubsec_keys keys; /* to open its PROOFs */
};

/* A session's keys, found by token. */
struct secure_keys {
    uint32_t token;     /* 0: free */
    uint64_t handshake; /* the one that made them */
    bool dying;         /* released: freed at the next reap */
    int32_t next;       /* hash chain, or the free list */
    int32_t next_dying;
    struct hubsec_keys k;
    uint64_t *macs; /* the first 8 bytes of each upload MAC taken: no replay */
    uint32_t nmacs, capmacs;
};

struct secure {
    struct secure_params p;
    uint8_t hub_pk[HUBSEC_PK], hub_sk[HUBSEC_SK];
    struct secure_pending *pend; /* SECURE_PENDING_MAX */
    uint64_t handshakes;         /* ids given */
    struct secure_keys *keys;    /* nkeys */
    uint32_t nkeys;
    int32_t *bucket; /* 1 << bits chains by token */
    unsigned bits;
    int32_t free_head, dying_head;
    struct secure_counters c;
};

/* ------------------------------------------------------------ keys by token */

static uint32_t secure_bucket(const struct secure *s, uint32_t token)
{
    return (token * 2654435761u) >> (32 - s->bits);
}

static struct secure_keys *secure_find(const struct secure *s, uint32_t token)
{
    if (token == 0)
        return NULL;
    for (int32_t i = s->bucket[secure_bucket(s, token)]; i >= 0; i = s->keys[i].next)
        if (s->keys[i].token == token)
            return &s->keys[i];
    return NULL;
}

static void secure_unlink(struct secure *s, struct secure_keys *e)
{
    int32_t *at = &s->bucket[secure_bucket(s, e->token)];

    while (*at >= 0 && &s->keys[*at] != e)
        at = &s->keys[*at].next;
    if (*at >= 0)
        *at = e->next;
}

static void secure_drop(struct secure *s, struct secure_keys *e)
{
    secure_unlink(s, e);
    hubsec_keys_wipe(&e->k);
    free(e->macs);
    e->macs = NULL;
    e->nmacs = e->capmacs = 0;
    e->token = 0;
    e->dying = false;
    e->next = s->free_head;
    s->free_head = (int32_t)(e - s->keys);
}

/* Installs k for token. A record of token still dying (its session's
 * last reset not sent yet) gives way: that reset then goes sealed under
 * the new keys, which its old client cannot open, and it learns of its
 * end from its next datagram's must-login-first. Returns 0, or -ENOSPC. */
static int secure_install(struct secure *s, uint32_t token, uint64_t handshake,
                          const struct hubsec_keys *k)
{
    struct secure_keys *e = secure_find(s, token);
    uint32_t b;

    if (e != NULL)
        e->dying = false; /* stays on the dying list; the reap skips it */
    else {
        if (s->free_head < 0)
            return -ENOSPC;
        e = &s->keys[s->free_head];
        s->free_head = e->next;
        e->token = token;
        e->next_dying = -1;
        b = secure_bucket(s, token);
        e->next = s->bucket[b];
        s->bucket[b] = (int32_t)(e - s->keys);
    }
    e->handshake = handshake;
    e->k = *k;
    e->nmacs = 0; /* MACs under other keys can never match again */
    return 0;
}

void secure_released(struct secure *s, uint32_t token)
{
    struct secure_keys *e = secure_find(s, token);

    if (e == NULL || e->dying)
        return;
    e->dying = true;
    e->next_dying = s->dying_head;
    s->dying_head = (int32_t)(e - s->keys);
}

void secure_reap(struct secure *s)
{
    while (s->dying_head >= 0) {
        struct secure_keys *e = &s->keys[s->dying_head];

        s->dying_head = e->next_dying;
        e->next_dying = -1;
        if (e->dying)
            secure_drop(s, e);
    }
}

/* ------------------------------------------------------------ handshakes */

static struct secure_pending *secure_pending_find(struct secure *s, const struct session_addr *from,
                                                  uint32_t nonce, int64_t now)
{
    for (uint32_t i = 0; i < SECURE_PENDING_MAX; i++) {
        struct secure_pending *p = &s->pend[i];

        if (p->id != 0 && p->expires <= now) {
            sodium_memzero(p, sizeof(*p));
            continue;
        }
        if (p->id != 0 && p->nonce == nonce && session_addr_equal(&p->from, from))
            return p;
    }
    return NULL;
}

/* A free slot, or the one that expires first: a flood of HELLOs can push
 * out a handshake, never grow the hub. */
static struct secure_pending *secure_pending_slot(struct secure *s)
{
    struct secure_pending *oldest = &s->pend[0];

    for (uint32_t i = 0; i < SECURE_PENDING_MAX; i++) {
        if (s->pend[i].id == 0)
            return &s->pend[i];
        if (s->pend[i].expires < oldest->expires)
            oldest = &s->pend[i];
    }
    sodium_memzero(oldest, sizeof(*oldest));
    return oldest;
}

static void secure_emit(struct session_outbox *out, const struct session_addr *to, uint8_t op,
                        uint32_t msg_id, const void *payload, size_t len)
{
    struct session_out *o = &out->v[out->n++];

    memset(o, 0, sizeof(*o));
    o->to = *to;
    o->op = op;
    o->msg_id = msg_id;
    o->len = (uint8_t)len;
    if (len > 0)
        memcpy(o->payload, payload, len);
}

/* The salt of id and whether it is an account. An id that is none gets a
 * salt made from it under salt_key: the same every time, so the challenge
 * does not tell who has an account. */
static int secure_account(struct secure *s, struct secure_pending *p, uint8_t salt[HUBSEC_SALT])
{
    int rc = s->p.account(s->p.ctx, p->hello.id, salt, p->pk);

    p->known = rc == 0;
    if (rc == -ENOENT)
        crypto_generichash(salt, HUBSEC_SALT, (const uint8_t *)p->hello.id, strlen(p->hello.id),
                           s->p.salt_key, sizeof(s->p.salt_key));
    return rc == -ENOENT ? 0 : rc;
}

/* Fills p's challenge, transcript and keys for its HELLO. 0 or -errno. */
static int secure_challenge(struct secure *s, struct secure_pending *p)
{
    struct hubsec_challenge c = {.kdf = HUBSEC_KDF_ARGON2ID_INTERACTIVE};
    uint8_t eph_sk[HUBSEC_KX_SK];
    int rc;

    if ((rc = secure_account(s, p, c.salt)) < 0)
        return rc;
    hubsec_ephemeral(c.eph, eph_sk);
    rc = hubsec_keys_hub(&p->keys, c.eph, eph_sk, p->hello.eph);
    sodium_memzero(eph_sk, sizeof(eph_sk));
    if (rc < 0)
        return rc;
    memcpy(c.hub, s->hub_pk, HUBSEC_PK);
    hubsec_transcript(p->th, &p->hello, p->nonce, &c);
    hubsec_sign_hub(c.sig, p->th, s->hub_sk);
    hubsec_challenge_encode(p->challenge, &c);
    return 0;
}

/* A HELLO: its challenge, made once per (address, nonce) and sent again
 * as often as the HELLO comes. A malformed one, a nonce 0 (a course
 * client's plain login) or a store failure is a failed login. */
static void secure_hello(struct secure *s, const struct hubwire_msg *m,
                         const struct session_addr *from, int64_t now, struct session_outbox *out)
{
    struct secure_pending *p = secure_pending_find(s, from, m->msg_id, now);
    struct hubsec_hello h;

    if (m->msg_id == 0 || hubsec_hello_parse(m->payload, m->len, &h) < 0) {
        secure_emit(out, from, HUB_LOGIN_FAILED, m->msg_id, NULL, 0);
        return;
    }
    /* The same HELLO again (lost challenge, or a copy the network made
     * late) gets the same challenge, even once its session exists. */
    if (p == NULL || memcmp(&p->hello, &h, sizeof(h)) != 0) {
        if (p != NULL)
            sodium_memzero(p, sizeof(*p));
        else
            p = secure_pending_slot(s);
        p->hello = h;
        p->from = *from;
        p->nonce = m->msg_id;
        if (secure_challenge(s, p) < 0) {
            sodium_memzero(p, sizeof(*p));
            secure_emit(out, from, HUB_LOGIN_FAILED, m->msg_id, NULL, 0);
            return;
        }
        p->id = ++s->handshakes;
        p->expires = now + SECURE_PENDING_NS;
        s->c.handshakes++;
    }
    secure_emit(out, from, HUB_LOGIN_CHALLENGE, m->msg_id, p->challenge, sizeof(p->challenge));
}

/* Opens the PROOF m under p's keys into sig. 0, or -errno counted. */
static int secure_proof_open(struct secure *s, struct secure_pending *p,
                             const struct hubwire_msg *m, uint8_t sig[HUBWIRE_PAYLOAD_MAX])
{
    int rc = m->len == HUBSEC_SIG ? hubsec_open(&p->keys, HUBSEC_TO_HUB, m, sig) : -EBADMSG;

    if (rc == -EALREADY)
        s->c.replayed++;
    else if (rc < 0)
        s->c.forged++;
    return rc;
}

/* The PROOF again, for a handshake whose session exists: its login ack
 * was lost. It is acked again while the session lives where the login
 * came from; a late copy never makes a new session nor moves one. */
static void secure_proof_again(struct secure *s, struct session_table *t, struct secure_pending *p,
                               const struct session_addr *from, int64_t now,
                               struct session_outbox *out)
{
    const struct secure_keys *e = secure_find(s, p->token);
    const struct session_addr *at = session_peer(t, p->token, now);
    uint32_t token;

    if (e == NULL || e->dying || e->handshake != p->id || at == NULL ||
        !session_addr_equal(at, from)) {
        session_count_rejected(t);
        return;
    }
    /* The same id, nonce and address as the live session: its ack again. */
    session_login_proven(t, p->hello.id, p->nonce, from, now, out, &token);
}

/* A PROOF: the client's signature over the transcript, sealed under the
 * handshake's keys. Right, it makes the session; wrong, the login fails
 * and the handshake is over. */
static void secure_proof(struct secure *s, struct session_table *t, const struct hubwire_msg *m,
                         const struct session_addr *from, int64_t now, struct session_outbox *out)
{
    struct secure_pending *p = secure_pending_find(s, from, m->msg_id, now);
    uint8_t sig[HUBWIRE_PAYLOAD_MAX];
    uint32_t token;

    if (p == NULL || secure_proof_open(s, p, m, sig) < 0) {
        session_count_rejected(t);
        return;
    }
    p->opened = true;
    /* An id that is no account is checked against the hub's own key, so
     * that it costs what a real one does, and fails. A refused handshake
     * answers every later PROOF with its refusal again, unchecked: one
     * guess per HELLO. */
    if (p->refused || hubsec_verify_client(sig, p->th, p->known ? p->pk : s->hub_pk) < 0) {
        s->c.refused += !p->refused;
        p->refused = true;
        secure_emit(out, from, HUB_LOGIN_FAILED, m->msg_id, NULL, 0);
        return;
    }
    if (p->token != 0) {
        secure_proof_again(s, t, p, from, now, out);
        return;
    }
    if (session_login_proven(t, p->hello.id, p->nonce, from, now, out, &token) < 0 || token == 0)
        return;
    if (secure_install(s, token, p->id, &p->keys) < 0) {
        s->c.forged++; /* cannot happen: nkeys covers every record twice */
        return;
    }
    p->token = token;
    s->c.logins++;
}

/* ------------------------------------------------------------ datagrams */

/* A datagram the sessions may see unauthenticated: one whose token has
 * no record at all (they answer must-login-first, 12 bytes, no longer
 * than what came). Never one for a session that has keys, live or
 * logged out and lingering: its answers would go sealed, three times the
 * size, to whatever source the datagram claims. */
static enum secure_verdict secure_unauthenticated(struct secure *s, struct session_table *t,
                                                  const struct hubwire_msg *m,
                                                  struct hubwire_msg *plain)
{
    const struct secure_keys *e = secure_find(s, m->token);

    if ((e != NULL && !e->dying) || session_state(t, m->token) != SESSION_OFFLINE) {
        s->c.unsealed++;
        session_count_rejected(t);
        return SECURE_DONE;
    }
    *plain = *m;
    plain->secure = false;
    plain->len = 0;
    plain->payload = NULL;
    return SECURE_PASS;
}

enum secure_verdict secure_input(struct secure *s, struct session_table *t,
                                 const struct hubwire_msg *m, const struct session_addr *from,
                                 int64_t now, struct session_outbox *out, struct hubwire_msg *plain,
                                 uint8_t *buf)
{
    struct secure_keys *e = secure_find(s, m->token);
    int rc;

    if (m->op == HUB_LOGIN) { /* never a plain login on this wire */
        if (m->secure)
            session_count_rejected(t);
        else
            secure_hello(s, m, from, now, out);
        return SECURE_DONE;
    }
    if (m->op == HUB_LOGIN_PROOF && m->token == 0 && m->secure) {
        secure_proof(s, t, m, from, now, out);
        return SECURE_DONE;
    }
    if (e == NULL || e->dying || !m->secure)
        return secure_unauthenticated(s, t, m, plain);
    if ((rc = hubsec_open(&e->k, HUBSEC_TO_HUB, m, buf)) < 0) {
        if (rc == -EALREADY)
            s->c.replayed++;
        else
            s->c.forged++;
        session_count_rejected(t);
        return SECURE_DONE;
    }
    *plain = *m;
    plain->secure = false;
    plain->payload = buf;
    return SECURE_PASS;
}

/* The handshake a login refusal answers, when its PROOF was opened: the
 * refusal is sealed under its keys, so that nobody on the path can fail
 * a login by forging one. */
static struct secure_pending *secure_refusal(struct secure *s, const struct session_out *o)
{
    for (uint32_t i = 0; o->op == HUB_LOGIN_FAILED && o->token == 0 && i < SECURE_PENDING_MAX;
         i++) {
        struct secure_pending *p = &s->pend[i];

        if (p->id != 0 && p->opened && p->nonce == o->msg_id &&
            session_addr_equal(&p->from, &o->to))
            return p;
    }
    return NULL;
}

size_t secure_seal(struct secure *s, const struct session_out *o, uint8_t *buf)
{
    struct secure_keys *e = secure_find(s, o->token);
    struct secure_pending *p;
    struct hubwire_msg m;

    session_out_msg(o, &m);
    if (e == NULL && (p = secure_refusal(s, o)) != NULL)
        return hubsec_seal(&p->keys, HUBSEC_TO_CLIENT, &m, buf);
    if (e == NULL)
        return hubwire_encode(buf, &m);
    return hubsec_seal(&e->k, HUBSEC_TO_CLIENT, &m, buf);
}

/* ------------------------------------------------------------ lifetime */

struct secure *secure_new(const struct secure_params *p)
{
    struct secure *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->p = *p;
    /* Every record live or lingering, plus as many dying within a batch. */
    s->nkeys = 2 * p->max_sessions + 2 * SESSION_OUTBOX_MIN;
    for (s->bits = 4; (1u << s->bits) < s->nkeys; s->bits++)
        ;
    s->pend = calloc(SECURE_PENDING_MAX, sizeof(*s->pend));
    s->keys = calloc(s->nkeys, sizeof(*s->keys));
    s->bucket = malloc(((size_t)1 << s->bits) * sizeof(int32_t));
    if (s->pend == NULL || s->keys == NULL || s->bucket == NULL) {
        secure_free(s);
        errno = ENOMEM;
        return NULL;
    }
    memset(s->bucket, 0xff, ((size_t)1 << s->bits) * sizeof(int32_t)); /* all -1 */
    s->free_head = -1;
    s->dying_head = -1;
    for (uint32_t i = s->nkeys; i-- > 0;) {
        s->keys[i].next = s->free_head;
        s->free_head = (int32_t)i;
    }
    crypto_sign_seed_keypair(s->hub_pk, s->hub_sk, s->p.hub_seed);
    return s;
}

void secure_free(struct secure *s)
{
    if (s == NULL)
        return;
    if (s->pend != NULL)
        sodium_memzero(s->pend, SECURE_PENDING_MAX * sizeof(*s->pend));
    for (uint32_t i = 0; s->keys != NULL && i < s->nkeys; i++)
        free(s->keys[i].macs);
    if (s->keys != NULL)
        sodium_memzero(s->keys, s->nkeys * sizeof(*s->keys));
    sodium_memzero(s->hub_sk, sizeof(s->hub_sk));
    sodium_memzero(&s->p, sizeof(s->p));
    free(s->pend);
    free(s->keys);
    free(s->bucket);
    free(s);
}

static bool secure_mac_taken(const struct secure_keys *e, uint64_t tag)
{
    for (uint32_t i = 0; i < e->nmacs; i++)
        if (e->macs[i] == tag)
            return true;
    return false;
}

int secure_upload_check(const struct secure *s, uint32_t token, const char *name, uint64_t size,
                        const uint8_t sha256[32], const uint8_t mac[32])
{
    const struct secure_keys *e = secure_find(s, token);
    uint8_t want[32];
    uint64_t tag;

    if (e == NULL || e->dying)
        return -EACCES;
    hubsec_upload_mac(want, e->k.rx, name, size, sha256);
    if (sodium_memcmp(want, mac, sizeof(want)) != 0)
        return -EACCES;
    memcpy(&tag, mac, sizeof(tag));
    return secure_mac_taken(e, tag) || e->nmacs >= SECURE_UPLOADS_MAX ? -EALREADY : 0;
}

int secure_upload_taken(struct secure *s, uint32_t token, const uint8_t mac[32])
{
    struct secure_keys *e = secure_find(s, token);
    uint64_t tag;

    if (e == NULL || e->dying)
        return -EACCES;
    if (e->nmacs == e->capmacs) {
        uint32_t cap = e->capmacs == 0 ? 8 : 2 * e->capmacs;
        uint64_t *v = realloc(e->macs, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        e->macs = v;
        e->capmacs = cap;
    }
    memcpy(&tag, mac, sizeof(tag));
    e->macs[e->nmacs++] = tag;
    return 0;
}

void secure_hub_key(const struct secure *s, uint8_t pk[HUBSEC_PK])
{
    memcpy(pk, s->hub_pk, HUBSEC_PK);
}

const struct secure_counters *secure_counters(const struct secure *s)
{
    return &s->c;
}
