/*
 * hubsec: the hub's secure wire. See hubsec.h.
 */
#include "common/hubsec.h"

#include "common/wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* Domain separation: what each hash and signature is for, so that no
 * value made for one purpose can pass for another. */
static const char hubsec_th_label[] = "ferry hub v1 transcript";
static const char hubsec_hub_label[] = "ferry hub v1 hub signs";
static const char hubsec_client_label[] = "ferry hub v1 client signs";

int hubsec_init(void)
{
    return sodium_init() < 0 ? -ENOSYS : 0;
}

int hubsec_account_key(const void *password, size_t len, const uint8_t salt[HUBSEC_SALT],
                       uint8_t pk[HUBSEC_PK], uint8_t sk[HUBSEC_SK])
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    int rc = 0;

    if (crypto_pwhash(seed, sizeof(seed), password, len, salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                      crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        rc = -ENOMEM;
    else
        crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

/* HELLO: eph (32), u8 id length, id, zeros to HUBSEC_HELLO_LEN. */
size_t hubsec_hello_encode(uint8_t *out, const struct hubsec_hello *h)
{
    size_t idlen = strlen(h->id);

    memset(out, 0, HUBSEC_HELLO_LEN);
    memcpy(out, h->eph, HUBSEC_PK);
    out[HUBSEC_PK] = (uint8_t)idlen;
    memcpy(out + HUBSEC_PK + 1, h->id, idlen);
    return HUBSEC_HELLO_LEN;
}

int hubsec_hello_parse(const uint8_t *p, size_t len, struct hubsec_hello *h)
{
    size_t idlen;

    memset(h, 0, sizeof(*h)); /* compared whole by the hub */
    if (len != HUBSEC_HELLO_LEN)
        return -EBADMSG;
    idlen = p[HUBSEC_PK];
    if (!hubwire_id_valid(p + HUBSEC_PK + 1, idlen))
        return -EBADMSG;
    for (size_t i = HUBSEC_PK + 1 + idlen; i < len; i++)
        if (p[i] != 0)
            return -EBADMSG;
    memcpy(h->eph, p, HUBSEC_PK);
    memcpy(h->id, p + HUBSEC_PK + 1, idlen);
    h->id[idlen] = '\0';
    return 0;
}

/* CHALLENGE: salt (16), kdf (1), eph (32), hub (32), sig (64). */
size_t hubsec_challenge_encode(uint8_t *out, const struct hubsec_challenge *c)
{
    uint8_t *p = out;

    memcpy(p, c->salt, HUBSEC_SALT), p += HUBSEC_SALT;
    *p++ = c->kdf;
    memcpy(p, c->eph, HUBSEC_PK), p += HUBSEC_PK;
    memcpy(p, c->hub, HUBSEC_PK), p += HUBSEC_PK;
    memcpy(p, c->sig, HUBSEC_SIG), p += HUBSEC_SIG;
    return (size_t)(p - out);
}

int hubsec_challenge_parse(const uint8_t *p, size_t len, struct hubsec_challenge *c)
{
    if (len != HUBSEC_CHALLENGE_LEN || p[HUBSEC_SALT] != HUBSEC_KDF_ARGON2ID_INTERACTIVE)
        return -EBADMSG;
    memcpy(c->salt, p, HUBSEC_SALT), p += HUBSEC_SALT;
    c->kdf = *p++;
    memcpy(c->eph, p, HUBSEC_PK), p += HUBSEC_PK;
    memcpy(c->hub, p, HUBSEC_PK), p += HUBSEC_PK;
    memcpy(c->sig, p, HUBSEC_SIG);
    return 0;
}

void hubsec_transcript(uint8_t out[HUBSEC_HASH], const struct hubsec_hello *h, uint32_t nonce,
                       const struct hubsec_challenge *c)
{
    crypto_generichash_state st;
    uint8_t hello[HUBSEC_HELLO_LEN], n[4];

    hubsec_hello_encode(hello, h);
    wire_put_u32(n, nonce);
    crypto_generichash_init(&st, NULL, 0, HUBSEC_HASH);
    crypto_generichash_update(&st, (const uint8_t *)hubsec_th_label, sizeof(hubsec_th_label));
    crypto_generichash_update(&st, n, sizeof(n));
    crypto_generichash_update(&st, hello, sizeof(hello));
    crypto_generichash_update(&st, c->salt, HUBSEC_SALT);
    crypto_generichash_update(&st, &c->kdf, 1);
    crypto_generichash_update(&st, c->eph, HUBSEC_PK);
    crypto_generichash_update(&st, c->hub, HUBSEC_PK);
    crypto_generichash_final(&st, out, HUBSEC_HASH);
}

/* The message a signature covers: its label, then the transcript hash. */
static size_t hubsec_signed(uint8_t *m, const char *label, size_t llen,
                            const uint8_t th[HUBSEC_HASH])
{
    memcpy(m, label, llen);
    memcpy(m + llen, th, HUBSEC_HASH);
    return llen + HUBSEC_HASH;
}

#define HUBSEC_SIGNED_MAX (sizeof(hubsec_client_label) + HUBSEC_HASH)

/* Signs, or checks, the label followed by the transcript. */
static void hubsec_sign(uint8_t sig[HUBSEC_SIG], const char *label, size_t llen,
                        const uint8_t th[HUBSEC_HASH], const uint8_t sk[HUBSEC_SK])
{
    uint8_t m[HUBSEC_SIGNED_MAX];
    size_t n = hubsec_signed(m, label, llen, th);

    crypto_sign_detached(sig, NULL, m, n, sk);
}

static int hubsec_verify(const uint8_t sig[HUBSEC_SIG], const char *label, size_t llen,
                         const uint8_t th[HUBSEC_HASH], const uint8_t pk[HUBSEC_PK])
{
    uint8_t m[HUBSEC_SIGNED_MAX];
    size_t n = hubsec_signed(m, label, llen, th);

    return crypto_sign_verify_detached(sig, m, n, pk) == 0 ? 0 : -EACCES;
}

void hubsec_sign_hub(uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                     const uint8_t sk[HUBSEC_SK])
{
    hubsec_sign(sig, hubsec_hub_label, sizeof(hubsec_hub_label), th, sk);
}

int hubsec_verify_hub(const uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                      const uint8_t pk[HUBSEC_PK])
{
    return hubsec_verify(sig, hubsec_hub_label, sizeof(hubsec_hub_label), th, pk);
}

void hubsec_sign_client(uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                        const uint8_t sk[HUBSEC_SK])
{
    hubsec_sign(sig, hubsec_client_label, sizeof(hubsec_client_label), th, sk);
}

int hubsec_verify_client(const uint8_t sig[HUBSEC_SIG], const uint8_t th[HUBSEC_HASH],
                         const uint8_t pk[HUBSEC_PK])
{
    return hubsec_verify(sig, hubsec_client_label, sizeof(hubsec_client_label), th, pk);
}

void hubsec_ephemeral(uint8_t pk[HUBSEC_PK], uint8_t sk[HUBSEC_KX_SK])
{
    crypto_kx_keypair(pk, sk);
}

static void hubsec_keys_start(struct hubsec_keys *k)
{
    k->tx_seq = 0;
    k->rx_top = 0;
    k->rx_mask = 0;
}

int hubsec_keys_client(struct hubsec_keys *k, const uint8_t pk[HUBSEC_PK],
                       const uint8_t sk[HUBSEC_KX_SK], const uint8_t hub_pk[HUBSEC_PK])
{
    hubsec_keys_start(k);
    return crypto_kx_client_session_keys(k->rx, k->tx, pk, sk, hub_pk) == 0 ? 0 : -EACCES;
}

int hubsec_keys_hub(struct hubsec_keys *k, const uint8_t pk[HUBSEC_PK],
                    const uint8_t sk[HUBSEC_KX_SK], const uint8_t client_pk[HUBSEC_PK])
{
    hubsec_keys_start(k);
    return crypto_kx_server_session_keys(k->rx, k->tx, pk, sk, client_pk) == 0 ? 0 : -EACCES;
}

/* The AEAD nonce: the direction as a u32, then the sequence number. The
 * keys differ by direction already; the direction in the nonce costs
 * nothing and makes a reflected datagram fail even if they did not. */
static void hubsec_nonce(uint8_t n[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
                         enum hubsec_dir dir, uint64_t seq)
{
    wire_put_u32(n, (uint32_t)dir);
    wire_put_u64(n + 4, seq);
}

size_t hubsec_seal(struct hubsec_keys *k, enum hubsec_dir dir, const struct hubwire_msg *m,
                   uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], tag[HUBWIRE_TAG];
    struct hubwire_msg sealed = *m;
    size_t n;

    sealed.secure = true;
    sealed.seq = ++k->tx_seq;
    sealed.tag = tag;
    memset(tag, 0, sizeof(tag));
    n = hubwire_encode(out, &sealed); /* header and plaintext; the tag comes below */
    hubsec_nonce(nonce, dir, sealed.seq);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(out + HUBWIRE_HEADER, out + n - HUBWIRE_TAG,
                                                       NULL, out + HUBWIRE_HEADER, m->len, out,
                                                       HUBWIRE_HEADER, NULL, nonce, k->tx);
    return n;
}

/* Whether seq is new to k's window: above its top, or within the window
 * and not yet seen. Sequence numbers start at 1. */
static bool hubsec_fresh(const struct hubsec_keys *k, uint64_t seq)
{
    if (seq == 0)
        return false;
    if (seq > k->rx_top)
        return true;
    if (k->rx_top - seq >= HUBSEC_WINDOW)
        return false;
    return !(k->rx_mask & ((uint64_t)1 << (k->rx_top - seq)));
}

static void hubsec_mark(struct hubsec_keys *k, uint64_t seq)
{
    if (seq > k->rx_top) {
        uint64_t shift = seq - k->rx_top;

        k->rx_mask = shift >= HUBSEC_WINDOW ? 0 : k->rx_mask << shift;
        k->rx_top = seq;
    }
    k->rx_mask |= (uint64_t)1 << (k->rx_top - seq);
}

int hubsec_open(struct hubsec_keys *k, enum hubsec_dir dir, const struct hubwire_msg *m,
                uint8_t *plain)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], header[HUBWIRE_HEADER];
    struct hubwire_msg h = *m;

    if (!m->secure)
        return -EBADMSG;
    if (!hubsec_fresh(k, m->seq))
        return -EALREADY;
    h.secure = false;
    h.len = 0;
    hubwire_encode(header, &h);
    header[3] = m->len; /* the header as sent: its length is the ciphertext's */
    hubsec_nonce(nonce, dir, m->seq);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            plain, NULL, m->payload, m->len, m->tag, header, sizeof(header), nonce, k->rx) != 0)
        return -EBADMSG;
    hubsec_mark(k, m->seq);
    return 0;
}

void hubsec_upload_mac(uint8_t mac[32], const uint8_t to_hub_key[HUBSEC_KEY], const char *name,
                       uint64_t size, const uint8_t sha256[32])
{
    static const char label[] = "ferry hub v1 upload key";
    crypto_generichash_state st;
    uint8_t key[32], n[8], len[2];
    size_t nlen = strlen(name);

    /* A key of its own: the AEAD's key is never used as another primitive's. */
    crypto_generichash(key, sizeof(key), (const uint8_t *)label, sizeof(label), to_hub_key,
                       HUBSEC_KEY);
    len[0] = (uint8_t)(nlen >> 8);
    len[1] = (uint8_t)nlen;
    wire_put_u64(n, size);
    crypto_generichash_init(&st, key, sizeof(key), 32);
    crypto_generichash_update(&st, len, sizeof(len));
    crypto_generichash_update(&st, (const uint8_t *)name, nlen);
    crypto_generichash_update(&st, n, sizeof(n));
    crypto_generichash_update(&st, sha256, 32);
    crypto_generichash_final(&st, mac, 32);
    sodium_memzero(key, sizeof(key));
}

void hubsec_keys_wipe(struct hubsec_keys *k)
{
    sodium_memzero(k, sizeof(*k));
}
