/*
 * hubsec: the hub's secure wire (`--hub-wire secure`, docs/HUB.md), the
 * cryptography both ends share: the account key derived from a password,
 * the login handshake's messages and transcript, the session keys, and
 * the envelope that seals every later datagram. Pure functions over the
 * caller's buffers (libsodium underneath); no I/O, no clock, no logging.
 *
 * In short (docs/HUB.md has the byte layouts and the argument):
 * - An account's key pair is Ed25519 from the seed Argon2id(password,
 *   salt). The hub stores the public key only: it can check a signature,
 *   never make one, so what it stores is no password-equivalent.
 * - Login: the client's HELLO names the user and brings an ephemeral
 *   X25519 key; the hub's CHALLENGE answers with the salt, its own
 *   ephemeral key, its long-term Ed25519 key and its signature over the
 *   transcript; the client's PROOF is its signature over the same
 *   transcript, sealed under the session keys that the two ephemeral keys
 *   give (crypto_kx). The password never leaves the client.
 * - Every later datagram is sealed: ChaCha20-Poly1305 (IETF) under the
 *   sending direction's key, with the 12-byte header as associated data
 *   and the envelope's u64 sequence number in the nonce; a receiver keeps
 *   a window of HUBSEC_WINDOW sequence numbers against replays.
 */
#ifndef FERRY_HUBSEC_H
#define FERRY_HUBSEC_H

#include "common/hubwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBSEC_SALT   16
#define HUBSEC_PK     32 /* Ed25519 and X25519 public keys alike */
#define HUBSEC_SK     64 /* an Ed25519 secret key (seed and public key) */
#define HUBSEC_KX_SK  32 /* an X25519 secret key */
#define HUBSEC_SIG    64
#define HUBSEC_KEY    32
#define HUBSEC_HASH   32
#define HUBSEC_WINDOW 64 /* sequence numbers a receiver remembers */

/* The one key derivation so far: Argon2id v1.3 at libsodium's
 * "interactive" limits (2 passes, 64 MiB). Carried in the challenge so
 * that a later one can be told apart. */
#define HUBSEC_KDF_ARGON2ID_INTERACTIVE 1

/* A HELLO's payload is padded to the CHALLENGE's length, so that the hub
 * never answers a datagram with a longer one (no amplification). */
#define HUBSEC_CHALLENGE_LEN (HUBSEC_SALT + 1 + HUBSEC_PK + HUBSEC_PK + HUBSEC_SIG)
#define HUBSEC_HELLO_LEN     HUBSEC_CHALLENGE_LEN

enum hubsec_dir { HUBSEC_TO_HUB = 0, HUBSEC_TO_CLIENT = 1 };

/* The client's HELLO (opcode 0x10, msg_id the login nonce, not sealed). */
struct hubsec_hello {
    uint8_t eph[HUBSEC_PK]; /* the client's ephemeral X25519 key */
    char id[HUBWIRE_ID_MAX + 1];
};

/* The hub's CHALLENGE (opcode 0x82, msg_id the nonce echoed, not sealed). */
struct hubsec_challenge {
    uint8_t salt[HUBSEC_SALT]; /* the account's */
    uint8_t kdf;               /* HUBSEC_KDF_* */
    uint8_t eph[HUBSEC_PK];    /* the hub's ephemeral X25519 key */
    uint8_t hub[HUBSEC_PK];    /* the hub's long-term Ed25519 key */
    uint8_t sig[HUBSEC_SIG];   /* by hub, over the transcript */
};

/* One direction's key and sequence numbers, both ends of a session. */
struct hubsec_keys {
    uint8_t rx[HUBSEC_KEY], tx[HUBSEC_KEY];
    uint64_t tx_seq;  /* the last sequence number sealed; the first is 1 */
    uint64_t rx_top;  /* the highest opened */
    uint64_t rx_mask; /* bit i: rx_top - i was opened */
};

/* Calls sodium_init(). 0, or -ENOSYS when libsodium cannot start. */
int hubsec_init(void);

/* The account key pair of password under salt (Argon2id, about 60 ms and
 * 64 MiB). 0, or -ENOMEM. */
int hubsec_account_key(const void *password, size_t len, const uint8_t salt[HUBSEC_SALT],
                       uint8_t pk[HUBSEC_PK], uint8_t sk[HUBSEC_SK]);

/* HELLO: writes the padded payload (HUBSEC_HELLO_LEN bytes) into out.
 * Parsing refuses a wrong length, a bad id or non-zero padding: -EBADMSG. */
size_t hubsec_hello_encode(uint8_t *out, const struct hubsec_hello *h);
int hubsec_hello_parse(const uint8_t *p, size_t len, struct hubsec_hello *h);

/* CHALLENGE: HUBSEC_CHALLENGE_LEN bytes. Parsing refuses a wrong length
 * or an unknown kdf: -EBADMSG. The signature is not checked here. */
size_t hubsec_challenge_encode(uint8_t *out, const struct hubsec_challenge *c);
int hubsec_challenge_parse(const uint8_t *p, size_t len, struct hubsec_challenge *c);

/* The transcript hash both signatures cover: the user, the nonce, the
 * HELLO and every field of the CHALLENGE but its signature. */
void hubsec_transcript(uint8_t out[HUBSEC_HASH], const struct hubsec_hello *h, uint32_t nonce,
                       const struct hubsec_challenge *c);

/* The hub's and the client's signatures over a transcript. They are
 * domain-separated, so one can never stand for the other. verify: 0 or
 * -EACCES. */
void hubsec_sign_hub(uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                     const uint8_t sk[HUBSEC_SK]);
int hubsec_verify_hub(const uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                      const uint8_t pk[HUBSEC_PK]);
void hubsec_sign_client(uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                        const uint8_t sk[HUBSEC_SK]);
int hubsec_verify_client(const uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                         const uint8_t pk[HUBSEC_PK]);

/* A fresh ephemeral X25519 key pair. */
void hubsec_ephemeral(uint8_t pk[HUBSEC_PK], uint8_t sk[HUBSEC_KX_SK]);

/* The session keys from the two ephemeral keys, on either side, with the
 * sequence numbers at their start. 0, or -EACCES for a peer key that is
 * no valid point. */
int hubsec_keys_client(struct hubsec_keys *k, const uint8_t pk[HUBSEC_PK],
                       const uint8_t sk[HUBSEC_KX_SK], const uint8_t hub_pk[HUBSEC_PK]);
int hubsec_keys_hub(struct hubsec_keys *k, const uint8_t pk[HUBSEC_PK],
                    const uint8_t sk[HUBSEC_KX_SK], const uint8_t client_pk[HUBSEC_PK]);

/*
 * Seals m (plain: its payload is the plaintext) into the datagram at out
 * (room for HUBWIRE_MAX bytes), as sent towards dir, under the next
 * sequence number. Returns the datagram's length.
 */
size_t hubsec_seal(struct hubsec_keys *k, enum hubsec_dir dir, const struct hubwire_msg *m,
                   uint8_t *out);

/*
 * Opens the sealed datagram m (hubwire_parse()d, m->secure) that travelled
 * towards dir. Writes the plaintext to plain (room for m->len bytes) and
 * marks its sequence number seen. Returns 0; -EBADMSG
 * when it is not authentic (forged, altered, or under other keys);
 * -EALREADY for a sequence number seen or older than the window.
 * Nothing changes unless it returns 0.
 */
int hubsec_open(struct hubsec_keys *k, enum hubsec_dir dir, const struct hubwire_msg *m,
                uint8_t *plain);

/* The MAC a client on the secure wire sends after a PUT's content
 * (docs/HUB.md "Files"): keyed BLAKE2b-256 over the name, the size and
 * the content's SHA-256, under a key derived from the session's
 * client-to-hub key (the client's tx, the hub's rx). */
void hubsec_upload_mac(uint8_t mac[32], const uint8_t to_hub_key[HUBSEC_KEY], const char *name,
                       uint64_t size, const uint8_t sha256[32]);

/* Zeroes what the keys hold. */
void hubsec_keys_wipe(struct hubsec_keys *k);

#endif
