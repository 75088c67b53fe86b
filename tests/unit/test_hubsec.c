/* Unit tests for common/hubsec.c: the secure wire's handshake messages,
 * signatures, session keys, envelope and replay window. */
#include "common/hubsec.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int setup(void **state)
{
    (void)state;
    return hubsec_init();
}

/* A client and a hub with session keys from one exchange. */
struct pair {
    struct hubsec_keys client, hub;
};

static void make_pair(struct pair *p)
{
    uint8_t cpk[HUBSEC_PK], csk[HUBSEC_KX_SK], hpk[HUBSEC_PK], hsk[HUBSEC_KX_SK];

    hubsec_ephemeral(cpk, csk);
    hubsec_ephemeral(hpk, hsk);
    assert_int_equal(hubsec_keys_client(&p->client, cpk, csk, hpk), 0);
    assert_int_equal(hubsec_keys_hub(&p->hub, hpk, hsk, cpk), 0);
}

/* Seals a datagram with payload text from the client. */
static size_t seal_text(struct hubsec_keys *k, enum hubsec_dir dir, const char *text, uint8_t *out)
{
    struct hubwire_msg m = {.op = HUB_POST,
                            .len = (uint8_t)strlen(text),
                            .token = 0x11223344,
                            .msg_id = 7,
                            .payload = (const uint8_t *)text};

    return hubsec_seal(k, dir, &m, out);
}

static int open_dgram(struct hubsec_keys *k, enum hubsec_dir dir, const uint8_t *d, size_t n,
                      uint8_t *plain)
{
    struct hubwire_msg m;

    assert_int_equal(hubwire_parse(d, n, &m), 0);
    assert_true(m.secure);
    return hubsec_open(k, dir, &m, plain);
}

static void test_keys_agree_and_differ_by_direction(void **state)
{
    struct pair p;

    (void)state;
    make_pair(&p);
    assert_memory_equal(p.client.tx, p.hub.rx, HUBSEC_KEY);
    assert_memory_equal(p.client.rx, p.hub.tx, HUBSEC_KEY);
    assert_memory_not_equal(p.client.tx, p.client.rx, HUBSEC_KEY);
}

static void test_seal_open_roundtrip_hides_the_text(void **state)
{
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct pair p;
    size_t n;

    (void)state;
    make_pair(&p);
    n = seal_text(&p.client, HUBSEC_TO_HUB, "hello hub", d);
    assert_int_equal(n, HUBWIRE_HEADER + 9 + HUBWIRE_ENVELOPE);
    assert_null(memmem(d, n, "hello", 5)); /* encrypted */
    assert_int_equal(d[2], HUB_POST);      /* the header stays in clear */
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d, n, plain), 0);
    assert_memory_equal(plain, "hello hub", 9);
    assert_int_equal(p.client.tx_seq, 1);
    assert_int_equal(p.hub.rx_top, 1);
}

/* Any byte changed anywhere (header, ciphertext, seq, tag) fails. */
static void test_every_byte_is_authenticated(void **state)
{
    uint8_t d[HUBWIRE_MAX], bad[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct pair p;
    size_t n;

    (void)state;
    make_pair(&p);
    n = seal_text(&p.client, HUBSEC_TO_HUB, "abc", d);
    for (size_t i = 2; i < n; i++) {
        if (i == 3)
            continue; /* the length: the datagram would no longer parse as sealed */
        memcpy(bad, d, n);
        bad[i] ^= 0x01;
        if (i >= n - HUBWIRE_ENVELOPE && i < n - HUBWIRE_TAG) /* seq: 1 becomes 0, never valid */
            assert_true(open_dgram(&p.hub, HUBSEC_TO_HUB, bad, n, plain) < 0);
        else
            assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, bad, n, plain), -EBADMSG);
    }
    assert_int_equal(p.hub.rx_top, 0); /* nothing marked by a failure */
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d, n, plain), 0);
}

static void test_wrong_direction_or_keys_fail(void **state)
{
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct pair p, q;
    size_t n;

    (void)state;
    make_pair(&p);
    make_pair(&q);
    n = seal_text(&p.client, HUBSEC_TO_HUB, "abc", d);
    assert_int_equal(open_dgram(&q.hub, HUBSEC_TO_HUB, d, n, plain), -EBADMSG);
    /* Reflected back at the client: its rx key and direction differ. */
    assert_int_equal(open_dgram(&p.client, HUBSEC_TO_CLIENT, d, n, plain), -EBADMSG);
}

static void test_replay_window(void **state)
{
    uint8_t d[80][HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    size_t n[80];
    struct pair p;

    (void)state;
    make_pair(&p);
    for (int i = 0; i < 80; i++)
        n[i] = seal_text(&p.client, HUBSEC_TO_HUB, "x", d[i]); /* seq i + 1 */
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[9], n[9], plain), 0);
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[9], n[9], plain), -EALREADY);
    /* Reordered within the window: accepted once each. */
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[3], n[3], plain), 0);
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[3], n[3], plain), -EALREADY);
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[79], n[79], plain), 0);
    /* seq 16 is exactly HUBSEC_WINDOW below 80: too old; 17 is the oldest kept. */
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[15], n[15], plain), -EALREADY);
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[16], n[16], plain), 0);
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[9], n[9], plain), -EALREADY);
    assert_int_equal(open_dgram(&p.hub, HUBSEC_TO_HUB, d[78], n[78], plain), 0);
}

static void test_hello_roundtrip_and_refusals(void **state)
{
    struct hubsec_hello h = {.id = "alice"}, back;
    uint8_t buf[HUBWIRE_PAYLOAD_MAX];

    (void)state;
    memset(h.eph, 0xab, sizeof(h.eph));
    assert_int_equal(hubsec_hello_encode(buf, &h), HUBSEC_HELLO_LEN);
    assert_int_equal(hubsec_hello_parse(buf, HUBSEC_HELLO_LEN, &back), 0);
    assert_string_equal(back.id, "alice");
    assert_memory_equal(back.eph, h.eph, HUBSEC_PK);
    assert_int_equal(hubsec_hello_parse(buf, HUBSEC_HELLO_LEN - 1, &back), -EBADMSG);
    buf[HUBSEC_HELLO_LEN - 1] = 1; /* padding must be zeros */
    assert_int_equal(hubsec_hello_parse(buf, HUBSEC_HELLO_LEN, &back), -EBADMSG);
    buf[HUBSEC_HELLO_LEN - 1] = 0;
    buf[HUBSEC_PK + 1] = '&'; /* not an id */
    assert_int_equal(hubsec_hello_parse(buf, HUBSEC_HELLO_LEN, &back), -EBADMSG);
    buf[HUBSEC_PK] = 0; /* empty id */
    assert_int_equal(hubsec_hello_parse(buf, HUBSEC_HELLO_LEN, &back), -EBADMSG);
    buf[HUBSEC_PK] = 200; /* longer than the payload */
    assert_int_equal(hubsec_hello_parse(buf, HUBSEC_HELLO_LEN, &back), -EBADMSG);
}

static void test_challenge_roundtrip_and_kdf(void **state)
{
    struct hubsec_challenge c = {.kdf = HUBSEC_KDF_ARGON2ID_INTERACTIVE}, back;
    uint8_t buf[HUBWIRE_PAYLOAD_MAX];

    (void)state;
    memset(c.salt, 1, sizeof(c.salt));
    memset(c.eph, 2, sizeof(c.eph));
    memset(c.hub, 3, sizeof(c.hub));
    memset(c.sig, 4, sizeof(c.sig));
    assert_int_equal(hubsec_challenge_encode(buf, &c), HUBSEC_CHALLENGE_LEN);
    assert_int_equal(hubsec_challenge_parse(buf, HUBSEC_CHALLENGE_LEN, &back), 0);
    assert_memory_equal(&back, &c, sizeof(c));
    buf[HUBSEC_SALT] = 2; /* a kdf we do not know */
    assert_int_equal(hubsec_challenge_parse(buf, HUBSEC_CHALLENGE_LEN, &back), -EBADMSG);
    assert_int_equal(hubsec_challenge_parse(buf, HUBSEC_CHALLENGE_LEN + 1, &back), -EBADMSG);
}

/* The account key: the same password and salt give the same key; the
 * client's signature verifies under it and under nothing else, and a
 * hub's signature is never taken for a client's. */
static void test_account_key_and_signatures(void **state)
{
    uint8_t salt[HUBSEC_SALT] = {9}, salt2[HUBSEC_SALT] = {8};
    uint8_t pk[HUBSEC_PK], sk[HUBSEC_SK], pk2[HUBSEC_PK], sk2[HUBSEC_SK], pk3[HUBSEC_PK],
        sk3[HUBSEC_SK];
    uint8_t th[HUBSEC_HASH], sig[HUBSEC_SIG];
    struct hubsec_hello h = {.id = "alice"};
    struct hubsec_challenge c = {.kdf = HUBSEC_KDF_ARGON2ID_INTERACTIVE};

    (void)state;
    assert_int_equal(hubsec_account_key("secret", 6, salt, pk, sk), 0);
    assert_int_equal(hubsec_account_key("secret", 6, salt, pk2, sk2), 0);
    assert_memory_equal(pk, pk2, HUBSEC_PK);
    assert_int_equal(hubsec_account_key("secret", 6, salt2, pk3, sk3), 0);
    assert_memory_not_equal(pk, pk3, HUBSEC_PK);
    assert_int_equal(hubsec_account_key("secreT", 6, salt, pk3, sk3), 0);
    assert_memory_not_equal(pk, pk3, HUBSEC_PK);

    hubsec_transcript(th, &h, 42, &c);
    hubsec_sign_client(sig, th, sk);
    assert_int_equal(hubsec_verify_client(sig, th, pk), 0);
    assert_int_equal(hubsec_verify_client(sig, th, pk3), -EACCES);
    assert_int_equal(hubsec_verify_hub(sig, th, pk), -EACCES); /* domain separated */
    hubsec_sign_hub(sig, th, sk);
    assert_int_equal(hubsec_verify_hub(sig, th, pk), 0);
    assert_int_equal(hubsec_verify_client(sig, th, pk), -EACCES);
}

/* Every field of the exchange changes the transcript. */
static void test_transcript_covers_every_field(void **state)
{
    struct hubsec_hello h = {.id = "alice"}, h2;
    struct hubsec_challenge c = {.kdf = HUBSEC_KDF_ARGON2ID_INTERACTIVE}, c2;
    uint8_t base[HUBSEC_HASH], th[HUBSEC_HASH];

    (void)state;
    hubsec_transcript(base, &h, 1, &c);
    hubsec_transcript(th, &h, 2, &c);
    assert_memory_not_equal(base, th, HUBSEC_HASH);
    h2 = h, strcpy(h2.id, "alicf");
    hubsec_transcript(th, &h2, 1, &c);
    assert_memory_not_equal(base, th, HUBSEC_HASH);
    h2 = h, h2.eph[31] = 1;
    hubsec_transcript(th, &h2, 1, &c);
    assert_memory_not_equal(base, th, HUBSEC_HASH);
    c2 = c, c2.salt[0] = 1;
    hubsec_transcript(th, &h, 1, &c2);
    assert_memory_not_equal(base, th, HUBSEC_HASH);
    c2 = c, c2.eph[0] = 1;
    hubsec_transcript(th, &h, 1, &c2);
    assert_memory_not_equal(base, th, HUBSEC_HASH);
    c2 = c, c2.hub[0] = 1;
    hubsec_transcript(th, &h, 1, &c2);
    assert_memory_not_equal(base, th, HUBSEC_HASH);
    c2 = c, c2.sig[0] = 1; /* the signature is not part of what it signs */
    hubsec_transcript(th, &h, 1, &c2);
    assert_memory_equal(base, th, HUBSEC_HASH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_agree_and_differ_by_direction),
        cmocka_unit_test(test_seal_open_roundtrip_hides_the_text),
        cmocka_unit_test(test_every_byte_is_authenticated),
        cmocka_unit_test(test_wrong_direction_or_keys_fail),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_hello_roundtrip_and_refusals),
        cmocka_unit_test(test_challenge_roundtrip_and_kdf),
        cmocka_unit_test(test_account_key_and_signatures),
        cmocka_unit_test(test_transcript_covers_every_field),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
