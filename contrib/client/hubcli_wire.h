/*
 * hubcli_wire: how `ferry hub` turns a decoded datagram into bytes and
 * back, behind one small seam, so that the client's state machine
 * (hubcli.c) and its loop (hub.c) are the same on both of the hub's
 * wires (docs/HUB.md):
 * - plain: common/hubwire.c as it is;
 * - secure: the login handshake's crypto (HELLO, the hub's CHALLENGE
 *   checked, the PROOF signed), then every datagram sealed under the
 *   session's keys and every one received opened, replays refused
 *   (common/hubsec.c). The keys live here and nowhere else.
 *
 * The state machine only ever sees struct hubwire_msg with a plaintext
 * payload; a wire encodes what it sends and decodes (and authenticates)
 * what comes in. No I/O here either: the loop sends and receives.
 */
#ifndef FERRY_CLIENT_HUBCLI_WIRE_H
#define FERRY_CLIENT_HUBCLI_WIRE_H

#include "common/hubsec.h"
#include "common/hubwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hubcli_wire {
    const char *name; /* "plain" or "secure", for messages */
    void *ctx;        /* the wire's own state (keys, counters), or NULL */
    /* Writes m, a plaintext message, into out (HUBWIRE_MAX bytes): in
     * clear, or sealed under the session's keys. Returns the datagram's
     * length, or -errno. */
    int (*encode)(void *ctx, const struct hubwire_msg *m, uint8_t *out);
    /* Reads the n bytes of a received datagram at p into m; p may be
     * rewritten in place (decryption) and m->payload points into it, the
     * plaintext; m->secure tells whether it came sealed (and opened).
     * Returns 0, or, for a datagram to drop unanswered: -EBADMSG not a
     * hub datagram (or the other wire's form, on the plain wire);
     * secure: -EALREADY replayed, -EACCES forged (its tag does not
     * verify), -ENOKEY sealed while no keys are held, -EPERM in clear
     * where only a sealed one is taken. */
    int (*decode)(void *ctx, uint8_t *p, size_t n, struct hubwire_msg *m);

    /* The secure wire's login and uploads; NULL on the plain wire, whose
     * login is one datagram and whose uploads carry no MAC. */

    /* Starts a handshake for id with nonce: a fresh ephemeral key (the
     * keys of an earlier session are wiped). Writes the HELLO's payload
     * and returns its length (HUBSEC_HELLO_LEN), or -errno. */
    int (*hello)(void *ctx, const char *id, uint32_t nonce, uint8_t *payload);
    /* Takes the hub's CHALLENGE (m, in clear, msg_id the nonce): checks
     * its form and the hub's signature over the transcript, and gives
     * the hub's long-term key, for the caller to check against its pin.
     * Returns 0, or -EBADMSG (malformed, another nonce, a bad signature:
     * drop it). */
    int (*challenge)(void *ctx, const struct hubwire_msg *m, uint8_t hub_key[HUBSEC_PK]);
    /* After challenge(): derives the account key from the password and
     * the challenge's salt (Argon2id: ~60 ms, 64 MiB), makes the session
     * keys, and writes the PROOF's plaintext (the signature). Returns its
     * length (HUBSEC_SIG), or -ENOMEM, -EACCES (the hub's ephemeral key is
     * no valid point). Every secret but the session keys is wiped. */
    int (*proof)(void *ctx, const void *password, size_t len, uint8_t *payload);
    /* The login is over: ok, its keys are the session's; not ok, they
     * are wiped. Either way a plain 0x81 or 0x82 is no longer taken. */
    void (*login_end)(void *ctx, bool ok);
    /* The MAC after a PUT's content (hubsec_upload_mac()) under the
     * session's keys. Returns 0, or -ENOKEY when there is no session. */
    int (*upload_mac)(void *ctx, const char *name, uint64_t size, const uint8_t sha256[32],
                      uint8_t mac[32]);

    /* Frees ctx (wiping its secrets); NULL when there is nothing to free. */
    void (*free)(void *ctx);
};

/* Fills w with the plain wire (`--hub-wire plain`). Returns 0. */
int hubcli_wire_plain(struct hubcli_wire *w);

/* Fills w with the secure wire (`--hub-wire secure`). hubsec_init() must
 * have succeeded. Returns 0, or -ENOMEM. */
int hubcli_wire_secure(struct hubcli_wire *w);

/* Frees what w holds; w may be zeroed or filled. */
void hubcli_wire_free(struct hubcli_wire *w);

#endif
