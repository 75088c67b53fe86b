/*
 * secure: the hub's side of the secure wire (`--hub-wire secure`, the
 * default; docs/HUB.md): the login handshake and the keys of every
 * session, between the socket and the sessions (session.h), which see
 * plain datagrams only and never learn the wire was sealed.
 *
 * In: every datagram goes through secure_input() first. It answers a
 * HELLO with a CHALLENGE and a PROOF with a session (session_login_proven),
 * opens a sealed datagram of a session under its keys and hands the
 * plaintext on, and drops (counting) what is forged, replayed or
 * unauthenticated for a live session; so a session's address moves only
 * on an authenticated datagram. A datagram for no session is handed on
 * as it is, for the sessions' must-login-first.
 *
 * Out: secure_seal() encodes every datagram in the outbox, sealed under
 * its session's keys when it has them (a challenge, a failed login or a
 * must-login-first has none: they carry no secret, and the client
 * expects them unsealed).
 *
 * Keys live as long as the session's record (session_params.released
 * calls secure_released()), and a little longer: until secure_reap(),
 * after the outbox that may still hold the record's last reset is sent.
 * One handshake makes at most one session, so no key is used twice from
 * a fresh sequence number. Pure: no I/O, no clock, no logging.
 */
#ifndef FERRY_HUB_SECURE_H
#define FERRY_HUB_SECURE_H

#include "common/hubsec.h"
#include "worker/hub/session.h"

#include <stdint.h>

#define SECURE_PENDING_MAX 1024          /* handshakes waiting for their proof */
#define SECURE_PENDING_NS  30000000000LL /* how long one waits: a client's 8 tries fit */

struct secure_params {
    uint8_t hub_seed[32]; /* the hub's long-term Ed25519 key, as a seed */
    uint8_t salt_key[32]; /* keys the made-up salts of ids that are no account */
    /* The account id: its salt and public key; 0, -ENOENT none, or -errno. */
    int (*account)(void *ctx, const char *id, uint8_t salt[HUBSEC_SALT], uint8_t pk[HUBSEC_PK]);
    void *ctx;
    uint32_t max_sessions; /* the session table's */
};

/* What the secure wire saw; all only ever grow. */
struct secure_counters {
    uint64_t handshakes; /* challenges made */
    uint64_t logins;     /* proofs that made or found a session */
    uint64_t refused;    /* proofs with a wrong signature: a wrong password */
    uint64_t forged;     /* sealed datagrams that did not open */
    uint64_t replayed;   /* sealed datagrams seen before, or older than the window */
    uint64_t unsealed;   /* unsealed datagrams for a live session, dropped */
};

struct secure;

/* Makes the layer; p is copied. NULL with errno set (ENOMEM). */
struct secure *secure_new(const struct secure_params *p);

/* Wipes and frees it; NULL is allowed. */
void secure_free(struct secure *s);

/* The hub's long-term public key, for its log line and the client's pin. */
void secure_hub_key(const struct secure *s, uint8_t pk[HUBSEC_PK]);

enum secure_verdict {
    SECURE_DONE, /* answered here, or dropped and counted */
    SECURE_PASS, /* *plain is for session_input() */
};

/*
 * Takes datagram m from `from` at now. Appends what it answers to out
 * (which has SESSION_OUTBOX_MIN free, as session_input() needs), and
 * counts what it drops through session_count_rejected(t) as well as in
 * its own counters. On SECURE_PASS, *plain is the datagram to hand to
 * session_input(), its payload in buf (HUBWIRE_PAYLOAD_MAX bytes).
 */
enum secure_verdict secure_input(struct secure *s, struct session_table *t,
                                 const struct hubwire_msg *m, const struct session_addr *from,
                                 int64_t now, struct session_outbox *out, struct hubwire_msg *plain,
                                 uint8_t *buf);

/* Encodes o into buf (HUBWIRE_MAX bytes), sealed when its token has
 * keys. Returns the datagram's length. */
size_t secure_seal(struct secure *s, const struct session_out *o, uint8_t *buf);

/* The session of token is gone (session_params.released): its keys go at
 * the next secure_reap(). */
void secure_released(struct secure *s, uint32_t token);

/* Frees the keys of the sessions released since the last call: call it
 * once the outbox is sent. */
void secure_reap(struct secure *s);

#define SECURE_UPLOADS_MAX 4096 /* uploads one session may make */

/*
 * Checks the MAC of an upload by the session of token (hubsec_upload_mac()
 * under its client-to-hub key). 0; -EACCES: wrong, or no such session;
 * -EALREADY: a MAC this session's uploads have used (secure_upload_taken()).
 * The MAC covers name, size and content but nothing fresh, so a PUT
 * captured on the way (it travels in clear) would otherwise be replayed
 * while the session lives: announced again, or an older content put back.
 */
int secure_upload_check(const struct secure *s, uint32_t token, const char *name, uint64_t size,
                        const uint8_t sha256[32], const uint8_t mac[32]);

/* Records mac as used by an upload of the session of token, once it is
 * stored. 0, -EACCES (no such session) or -ENOMEM. */
int secure_upload_taken(struct secure *s, uint32_t token, const uint8_t mac[32]);

const struct secure_counters *secure_counters(const struct secure *s);

#endif
