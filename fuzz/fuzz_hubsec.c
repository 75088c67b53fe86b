/*
 * fuzz_hubsec: the secure wire's login messages and its replay window
 * (common/hubsec.c). The first byte picks what the rest is:
 *   0: a HELLO payload, hubsec_hello_parse();
 *   1: a CHALLENGE payload, hubsec_challenge_parse();
 *   2: a program for the replay window: 3-byte steps, each sealing a
 *      datagram at a chosen sequence number (or replaying an earlier one,
 *      or altering one) and opening it on the hub's side.
 *
 * Invariants: a HELLO is accepted exactly when it is HUBSEC_HELLO_LEN
 * bytes, names a valid id and is zero-padded, and then re-encodes to the
 * same bytes with the same id; a CHALLENGE exactly when it is
 * HUBSEC_CHALLENGE_LEN bytes with the known kdf, and re-encodes the same
 * (its signature is the hub session's to check, not the parser's).
 * The window opens a datagram exactly when a model says its sequence
 * number is fresh (non-zero; above the highest opened, or within
 * HUBSEC_WINDOW of it and not opened yet), answers -EALREADY otherwise,
 * -EBADMSG to an altered fresh one, and changes nothing unless it opened.
 */
#include "fuzz/fuzz.h"

#include "common/hubsec.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static struct hubsec_keys client_keys, hub_keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t seed[crypto_kx_SEEDBYTES], cpk[HUBSEC_PK], csk[HUBSEC_KX_SK], hpk[HUBSEC_PK],
        hsk[HUBSEC_KX_SK];

    (void)argc, (void)argv;
    if (hubsec_init() < 0)
        abort();
    memset(seed, 1, sizeof(seed));
    crypto_kx_seed_keypair(cpk, csk, seed);
    memset(seed, 2, sizeof(seed));
    crypto_kx_seed_keypair(hpk, hsk, seed);
    if (hubsec_keys_client(&client_keys, cpk, csk, hpk) < 0 ||
        hubsec_keys_hub(&hub_keys, hpk, hsk, cpk) < 0)
        abort();
    return 0;
}

static bool id_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void check_hello(const uint8_t *data, size_t n)
{
    uint8_t *p = fuzz_copy(data, n), again[HUBSEC_HELLO_LEN];
    struct hubsec_hello h;
    size_t idlen = n > HUBSEC_PK ? data[HUBSEC_PK] : 0;
    bool valid = n == HUBSEC_HELLO_LEN && idlen >= 1 && idlen <= HUBWIRE_ID_MAX;
    int rc;

    for (size_t i = HUBSEC_PK + 1; valid && i < n; i++)
        valid = i < HUBSEC_PK + 1 + idlen ? id_char(data[i]) : data[i] == 0;
    rc = hubsec_hello_parse(p, n, &h);
    FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
    FUZZ_CHECK((rc == 0) == valid);
    if (rc == 0) {
        FUZZ_CHECK(strlen(h.id) == idlen && memcmp(h.id, data + HUBSEC_PK + 1, idlen) == 0);
        FUZZ_CHECK(hubsec_hello_encode(again, &h) == HUBSEC_HELLO_LEN);
        FUZZ_CHECK(memcmp(again, data, HUBSEC_HELLO_LEN) == 0);
    }
    free(p);
}

static void check_challenge(const uint8_t *data, size_t n)
{
    uint8_t *p = fuzz_copy(data, n), again[HUBSEC_CHALLENGE_LEN], th[HUBSEC_HASH];
    struct hubsec_challenge c;
    struct hubsec_hello h = {.id = "alice"};
    bool valid = n == HUBSEC_CHALLENGE_LEN && data[HUBSEC_SALT] == HUBSEC_KDF_ARGON2ID_INTERACTIVE;
    int rc = hubsec_challenge_parse(p, n, &c);

    FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
    FUZZ_CHECK((rc == 0) == valid);
    if (rc == 0) {
        FUZZ_CHECK(hubsec_challenge_encode(again, &c) == HUBSEC_CHALLENGE_LEN);
        FUZZ_CHECK(memcmp(again, data, HUBSEC_CHALLENGE_LEN) == 0);
        hubsec_transcript(th, &h, 0x1234, &c); /* reads every field: ASan checks it */
    }
    free(p);
}

/* The window as a model: what was opened, and the highest. */
#define STEPS_MAX 256
struct model {
    uint64_t opened[STEPS_MAX];
    size_t n;
    uint64_t top;
};

static bool model_fresh(const struct model *w, uint64_t seq)
{
    if (seq == 0)
        return false;
    if (seq > w->top)
        return true;
    if (w->top - seq >= HUBSEC_WINDOW)
        return false;
    for (size_t i = 0; i < w->n; i++)
        if (w->opened[i] == seq)
            return false;
    return true;
}

/* A step's sequence number: near the top, far above it, or near the end of u64. */
static uint64_t step_seq(uint8_t op, uint16_t v, uint64_t top)
{
    switch (op >> 2 & 3) {
    case 0:
        return v;
    case 1: {
        int64_t d = (int16_t)v;
        if (d < 0 && (uint64_t)-d > top)
            return 0;
        return top + (uint64_t)d; /* modulo 2^64: below top when d < 0 */
    }
    case 2:
        return (uint64_t)v << 48 | v;
    }
    return UINT64_MAX - v;
}

static void run_window(const uint8_t *data, size_t n)
{
    static uint8_t sent[STEPS_MAX][HUBWIRE_MAX];
    static size_t sent_len[STEPS_MAX];
    struct hubsec_keys hub = hub_keys, client = client_keys;
    struct model w = {.n = 0, .top = 0};
    size_t nsent = 0;

    for (size_t i = 0; i + 3 <= n && nsent < STEPS_MAX; i += 3) {
        uint8_t op = data[i], payload[8] = "abcdefgh", plain[HUBWIRE_PAYLOAD_MAX];
        uint16_t v = (uint16_t)(data[i + 1] << 8 | data[i + 2]);
        struct hubwire_msg m = {.op = HUB_POST,
                                .len = (uint8_t)(op >> 4 & 7),
                                .token = 7,
                                .msg_id = (uint32_t)i,
                                .payload = payload};
        uint8_t *dg = sent[nsent];
        struct hubsec_keys before = hub;
        bool altered = (op & 3) == 2, fresh;
        int rc;

        if ((op & 3) == 1 && nsent > 0) { /* a replay of an earlier datagram */
            size_t k = v % nsent;
            memcpy(dg, sent[k], sent_len[k]);
            sent_len[nsent] = sent_len[k];
        } else {
            client.tx_seq = step_seq(op, v, w.top) - 1; /* seals at exactly that number */
            sent_len[nsent] = hubsec_seal(&client, HUBSEC_TO_HUB, &m, dg);
        }
        FUZZ_CHECK(hubwire_parse(dg, sent_len[nsent], &m) == 0 && m.secure);
        fresh = model_fresh(&w, m.seq);
        if (altered) /* the tag's last byte */
            dg[sent_len[nsent] - 1] ^= 0x5a;
        rc = hubsec_open(&hub, HUBSEC_TO_HUB, &m, plain);
        if (!fresh)
            FUZZ_CHECK(rc == -EALREADY);
        else
            FUZZ_CHECK(rc == (altered ? -EBADMSG : 0));
        if (rc != 0) {
            FUZZ_CHECK(memcmp(&hub, &before, sizeof(hub)) == 0);
        } else {
            FUZZ_CHECK(memcmp(plain, "abcdefgh", m.len) == 0);
            w.opened[w.n++] = m.seq;
            if (m.seq > w.top)
                w.top = m.seq;
            FUZZ_CHECK(hub.rx_top == w.top);
        }
        if (altered)
            dg[sent_len[nsent] - 1] ^= 0x5a; /* replays send it as sealed */
        nsent++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        check_hello(data + 1, size - 1);
        break;
    case 1:
        check_challenge(data + 1, size - 1);
        break;
    default:
        run_window(data + 1, size - 1);
    }
    return 0;
}
