/*
 * fuzz_hubwire: the hub's datagram decoder, hubwire_parse(), and its
 * encoder (common/hubwire.c), with the secure wire's envelope
 * (common/hubsec.c: hubsec_seal() and hubsec_open() under fixed keys).
 *
 * Invariants: a datagram is accepted exactly when it is at least a header,
 * has the magic, and is header + payload_len long, or that plus the
 * envelope; an accepted one re-encodes to the very same bytes; the payload
 * and tag lie inside it. hubwire_id_valid() equals [A-Za-z0-9_]{1,32}. A
 * sealed datagram that opens under the hub's keys is exactly what sealing
 * its plaintext again makes (nobody forges one); sealing the decoded
 * message and opening it gives the plaintext back once, a replay is
 * -EALREADY, and any altered byte is -EBADMSG.
 */
#include "fuzz/fuzz.h"

#include "common/hubsec.h"
#include "common/hubwire.h"

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
    memset(seed, 'c', sizeof(seed));
    crypto_kx_seed_keypair(cpk, csk, seed);
    memset(seed, 'h', sizeof(seed));
    crypto_kx_seed_keypair(hpk, hsk, seed);
    if (hubsec_keys_client(&client_keys, cpk, csk, hpk) < 0 ||
        hubsec_keys_hub(&hub_keys, hpk, hsk, cpk) < 0)
        abort();
    return 0;
}

static bool id_rule(const uint8_t *p, size_t n)
{
    if (n < 1 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            return false;
    return true;
}

/* A datagram as it arrived, sealed: if it opens, it must be our own sealing. */
static void check_open_arrived(const uint8_t *p, size_t n, const struct hubwire_msg *m)
{
    struct hubsec_keys hub = hub_keys, client = client_keys;
    uint8_t plain[HUBWIRE_PAYLOAD_MAX], again[HUBWIRE_MAX];
    struct hubwire_msg pm = *m;
    int rc = hubsec_open(&hub, HUBSEC_TO_HUB, m, plain);

    FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EALREADY);
    FUZZ_CHECK((rc == -EALREADY) == (m->seq == 0));
    if (rc != 0)
        return;
    pm.secure = false;
    pm.payload = plain;
    client.tx_seq = m->seq - 1;
    FUZZ_CHECK(hubsec_seal(&client, HUBSEC_TO_HUB, &pm, again) == n);
    FUZZ_CHECK(memcmp(again, p, n) == 0);
}

/* Seals m's payload as plaintext, decodes and opens it. */
static void check_seal(const struct hubwire_msg *m, uint64_t seed)
{
    struct hubsec_keys hub = hub_keys, client = client_keys;
    uint8_t out[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg pm = *m, sm;
    size_t n, flip;

    pm.secure = false;
    client.tx_seq = m->msg_id; /* any starting point: the sequence number is msg_id + 1 */
    n = hubsec_seal(&client, HUBSEC_TO_HUB, &pm, out);
    FUZZ_CHECK(n == HUBWIRE_HEADER + (size_t)m->len + HUBWIRE_ENVELOPE);
    FUZZ_CHECK(hubwire_parse(out, n, &sm) == 0 && sm.secure);
    FUZZ_CHECK(sm.op == m->op && sm.len == m->len && sm.token == m->token &&
               sm.msg_id == m->msg_id && sm.seq == (uint64_t)m->msg_id + 1);
    FUZZ_CHECK(hubsec_open(&hub, HUBSEC_TO_HUB, &sm, plain) == 0);
    FUZZ_CHECK(m->len == 0 || memcmp(plain, m->payload, m->len) == 0);
    FUZZ_CHECK(hubsec_open(&hub, HUBSEC_TO_HUB, &sm, plain) == -EALREADY);
    /* The other direction's keys never open it. */
    FUZZ_CHECK(hubsec_open(&client, HUBSEC_TO_CLIENT, &sm, plain) == -EBADMSG);
    /* One altered byte, anywhere but the magic and the sequence number
     * (which pick another datagram or another window slot), is -EBADMSG. */
    flip = 2 + fuzz_mix(&seed) % (n - 2);
    if (flip >= n - HUBWIRE_ENVELOPE && flip < n - HUBWIRE_TAG)
        flip = n - 1;
    if (flip == 3) /* payload_len: the datagram no longer decodes at all */
        return;
    hub = hub_keys;
    out[flip] ^= (uint8_t)(1 + fuzz_mix(&seed) % 255);
    FUZZ_CHECK(hubwire_parse(out, n, &sm) == 0);
    FUZZ_CHECK(hubsec_open(&hub, HUBSEC_TO_HUB, &sm, plain) == -EBADMSG);
    FUZZ_CHECK(hub.rx_top == hub_keys.rx_top && hub.rx_mask == hub_keys.rx_mask);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_copy(data, size), out[HUBWIRE_MAX];
    struct hubwire_msg m;
    size_t plain = size >= HUBWIRE_HEADER ? HUBWIRE_HEADER + (size_t)data[3] : 0;
    bool valid = size >= HUBWIRE_HEADER && data[0] == HUBWIRE_MAGIC1 && data[1] == HUBWIRE_MAGIC2 &&
                 (size == plain || size == plain + HUBWIRE_ENVELOPE);
    int rc = hubwire_parse(p, size, &m);

    FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
    FUZZ_CHECK((rc == 0) == valid);
    if (size >= 4)
        FUZZ_CHECK(hubwire_id_valid(p + 4, size - 4 > 40 ? 40 : size - 4) ==
                   id_rule(data + 4, size - 4 > 40 ? 40 : size - 4));
    if (rc == 0) {
        FUZZ_CHECK(m.op == data[2] && m.len == data[3] && m.payload == p + HUBWIRE_HEADER);
        FUZZ_CHECK(m.secure == (size == plain + HUBWIRE_ENVELOPE));
        FUZZ_CHECK(!m.secure || m.tag == p + plain + 8);
        FUZZ_CHECK(hubwire_from_client(m.op) == (m.op < 0x80));
        FUZZ_CHECK(hubwire_encode(out, &m) == size);
        FUZZ_CHECK(memcmp(out, data, size) == 0);
        if (m.secure)
            check_open_arrived(p, size, &m);
        check_seal(&m, fuzz_seed(data, size));
    }
    free(p);
    return 0;
}
