/*
 * hubcli_wire: the plain and the secure wire of `ferry hub`. See
 * hubcli_wire.h.
 *
 * The secure wire holds one handshake and one session's keys at a time:
 * a client has one login in flight and one session at most. What it
 * takes in clear is what the hub sends in clear (docs/HUB.md, "Sealed
 * datagrams"): 0xF0 (must login first: the hub has no keys for a dead
 * token) at any time, and 0x82 and 0x81 only for the handshake in
 * flight, by its nonce. Everything else must open under the session's
 * keys, each sequence number once.
 */
#include "contrib/client/hubcli_wire.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ plain */

static int plain_encode(void *ctx, const struct hubwire_msg *m, uint8_t *out)
{
    (void)ctx;
    if (m->secure)
        return -EINVAL; /* an envelope is the secure wire's */
    return (int)hubwire_encode(out, m);
}

static int plain_decode(void *ctx, uint8_t *p, size_t n, struct hubwire_msg *m)
{
    (void)ctx;
    if (hubwire_parse(p, n, m) < 0 || m->secure)
        return -EBADMSG; /* a secure envelope means another hub's wire: not ours */
    return 0;
}

int hubcli_wire_plain(struct hubcli_wire *w)
{
    memset(w, 0, sizeof(*w));
    w->name = "plain";
    w->encode = plain_encode;
    w->decode = plain_decode;
    return 0;
}

/* ------------------------------------------------------------ secure */

enum sec_phase {
    SEC_IDLE,  /* no login in flight */
    SEC_HELLO, /* HELLO sent: a CHALLENGE is awaited */
    SEC_PROOF, /* the PROOF's keys made: the login's answer is awaited */
};

struct sec {
    enum sec_phase phase;
    uint32_t nonce; /* the handshake's */
    struct hubsec_hello hello;
    uint8_t eph_sk[HUBSEC_KX_SK]; /* wiped once the keys are made */
    bool challenged;              /* ch and th hold a checked challenge */
    struct hubsec_challenge ch;
    uint8_t th[HUBSEC_HASH];
    bool keyed; /* k holds the session's keys */
    struct hubsec_keys k;
    uint8_t plain[HUBWIRE_PAYLOAD_MAX]; /* an opened payload, before it is copied back */
};

/* Forgets the handshake (its keys stay, if it made any). */
static void sec_handshake_wipe(struct sec *s)
{
    s->phase = SEC_IDLE;
    s->nonce = 0;
    s->challenged = false;
    sodium_memzero(&s->hello, sizeof(s->hello));
    sodium_memzero(s->eph_sk, sizeof(s->eph_sk));
    sodium_memzero(&s->ch, sizeof(s->ch));
    sodium_memzero(s->th, sizeof(s->th));
}

static void sec_keys_wipe(struct sec *s)
{
    hubsec_keys_wipe(&s->k);
    s->keyed = false;
}

/* The HELLO goes in clear; everything else sealed once keys exist (an
 * offline request before any login has none, and goes in clear with
 * token 0, for the hub's must-login-first). */
static int sec_encode(void *ctx, const struct hubwire_msg *m, uint8_t *out)
{
    struct sec *s = ctx;

    if (m->secure)
        return -EINVAL;
    if (m->op == HUB_LOGIN || (!s->keyed && m->op != HUB_LOGIN_PROOF))
        return (int)hubwire_encode(out, m);
    if (!s->keyed)
        return -ENOKEY;
    return (int)hubsec_seal(&s->k, HUBSEC_TO_HUB, m, out);
}

/* Whether a datagram in clear may be taken. */
static bool sec_clear_ok(const struct sec *s, const struct hubwire_msg *m)
{
    switch (m->op) {
    case HUB_MUST_LOGIN:
        return true;
    case HUB_LOGIN_CHALLENGE:
        return s->phase == SEC_HELLO && m->token == 0 && m->msg_id == s->nonce;
    case HUB_LOGIN_FAILED: /* after the PROOF the hub seals it: one in clear is forged */
        return s->phase == SEC_HELLO && m->msg_id == s->nonce;
    }
    return false;
}

static int sec_decode(void *ctx, uint8_t *p, size_t n, struct hubwire_msg *m)
{
    struct sec *s = ctx;
    int rc;

    if (hubwire_parse(p, n, m) < 0)
        return -EBADMSG;
    if (!m->secure)
        return sec_clear_ok(s, m) ? 0 : -EPERM;
    if (!s->keyed)
        return -ENOKEY;
    rc = hubsec_open(&s->k, HUBSEC_TO_CLIENT, m, s->plain);
    if (rc < 0)
        return rc == -EALREADY ? -EALREADY : -EACCES;
    memcpy(p + HUBWIRE_HEADER, s->plain, m->len); /* m->payload points there */
    sodium_memzero(s->plain, m->len);
    return 0;
}

static int sec_hello(void *ctx, const char *id, uint32_t nonce, uint8_t *payload)
{
    struct sec *s = ctx;
    size_t len = strlen(id);

    if (len == 0 || len > HUBWIRE_ID_MAX)
        return -EINVAL;
    sec_handshake_wipe(s);
    sec_keys_wipe(s);
    memcpy(s->hello.id, id, len + 1);
    hubsec_ephemeral(s->hello.eph, s->eph_sk);
    s->nonce = nonce;
    s->phase = SEC_HELLO;
    return (int)hubsec_hello_encode(payload, &s->hello);
}

static int sec_challenge(void *ctx, const struct hubwire_msg *m, uint8_t hub_key[HUBSEC_PK])
{
    struct sec *s = ctx;
    struct hubsec_challenge ch;
    uint8_t th[HUBSEC_HASH];

    if (s->phase != SEC_HELLO || m->msg_id != s->nonce ||
        hubsec_challenge_parse(m->payload, m->len, &ch) < 0)
        return -EBADMSG;
    hubsec_transcript(th, &s->hello, s->nonce, &ch);
    if (hubsec_verify_hub(ch.sig, th, ch.hub) < 0)
        return -EBADMSG;
    s->ch = ch;
    memcpy(s->th, th, sizeof(th));
    s->challenged = true;
    memcpy(hub_key, ch.hub, HUBSEC_PK);
    return 0;
}

static int sec_proof(void *ctx, const void *password, size_t len, uint8_t *payload)
{
    struct sec *s = ctx;
    uint8_t pk[HUBSEC_PK], sk[HUBSEC_SK];
    int rc;

    if (s->phase != SEC_HELLO || !s->challenged)
        return -EINVAL;
    rc = hubsec_account_key(password, len, s->ch.salt, pk, sk);
    if (rc == 0)
        rc = hubsec_keys_client(&s->k, s->hello.eph, s->eph_sk, s->ch.eph);
    sodium_memzero(s->eph_sk, sizeof(s->eph_sk)); /* forward secrecy: at once */
    if (rc == 0)
        hubsec_sign_client(payload, s->th, sk);
    sodium_memzero(sk, sizeof(sk));
    if (rc < 0) {
        sec_keys_wipe(s);
        return rc;
    }
    s->keyed = true;
    s->phase = SEC_PROOF;
    return HUBSEC_SIG;
}

static void sec_login_end(void *ctx, bool ok)
{
    struct sec *s = ctx;

    sec_handshake_wipe(s);
    if (!ok)
        sec_keys_wipe(s);
}

static int sec_upload_mac(void *ctx, const char *name, uint64_t size, const uint8_t sha256[32],
                          uint8_t mac[32])
{
    struct sec *s = ctx;

    if (!s->keyed)
        return -ENOKEY;
    hubsec_upload_mac(mac, s->k.tx, name, size, sha256);
    return 0;
}

static void sec_free(void *ctx)
{
    if (ctx == NULL)
        return;
    sodium_memzero(ctx, sizeof(struct sec));
    free(ctx);
}

int hubcli_wire_secure(struct hubcli_wire *w)
{
    struct sec *s = calloc(1, sizeof(*s));

    memset(w, 0, sizeof(*w));
    if (s == NULL)
        return -ENOMEM;
    w->name = "secure";
    w->ctx = s;
    w->encode = sec_encode;
    w->decode = sec_decode;
    w->hello = sec_hello;
    w->challenge = sec_challenge;
    w->proof = sec_proof;
    w->login_end = sec_login_end;
    w->upload_mac = sec_upload_mac;
    w->free = sec_free;
    return 0;
}

/* ------------------------------------------------------------ both */

void hubcli_wire_free(struct hubcli_wire *w)
{
    if (w->free != NULL)
        w->free(w->ctx);
    memset(w, 0, sizeof(*w));
}
