/* Unit tests for worker/hub/secure.c: the hub's side of the secure wire
 * between real encoded datagrams and a real session table, with a client
 * played here from common/hubsec.h. */
#include "worker/hub/secure.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define S(x) ((int64_t)((x)*1000000000.0))
#define T0   S(1000)
#define BOX  400

/* ------------------------------------------------------------ accounts */

static const uint8_t alice_salt[HUBSEC_SALT] = {1, 2, 3};
static uint8_t alice_pk[HUBSEC_PK], alice_sk[HUBSEC_SK]; /* from "pa" */

static int fake_account(void *ctx, const char *id, uint8_t salt[HUBSEC_SALT], uint8_t pk[HUBSEC_PK])
{
    (void)ctx;
    if (strcmp(id, "alice") == 0 || strcmp(id, "bob") == 0) {
        memcpy(salt, alice_salt, HUBSEC_SALT); /* bob shares alice's password */
        memcpy(pk, alice_pk, HUBSEC_PK);
        return 0;
    }
    return -ENOENT;
}

static int never_password(void *ctx, const char *id, const uint8_t *pw, size_t len)
{
    (void)ctx, (void)id, (void)pw, (void)len;
    fail_msg("a plain password check on the secure wire");
    return -EACCES;
}

static int fake_subscribe(void *ctx, const char *follower, const char *publisher)
{
    (void)ctx, (void)follower;
    return strcmp(publisher, "bob") == 0 ? 0 : -ENOENT;
}

static int fake_unsubscribe(void *ctx, const char *follower, const char *publisher)
{
    (void)ctx, (void)follower, (void)publisher;
    return -ENOENT;
}

static int fake_post(void *ctx, const char *publisher, const char *text, size_t len,
                     uint32_t *msg_id)
{
    (void)ctx, (void)publisher, (void)text, (void)len;
    *msg_id = 1;
    return 0;
}

static int fake_recent(void *ctx, const char *user, uint32_t upto, unsigned n,
                       struct store_post *out)
{
    (void)ctx, (void)user, (void)upto, (void)n, (void)out;
    return 0;
}

static int fake_followers(void *ctx, const char *publisher,
                          int (*fn)(const char *follower, void *arg), void *arg)
{
    (void)ctx, (void)publisher, (void)fn, (void)arg;
    return 0;
}

static uint32_t next_token = 0x1000;
static int fake_rand(uint32_t *out)
{
    *out = next_token++;
    return 0;
}

/* ------------------------------------------------------------ the hub */

struct env {
    struct session_table *t;
    struct secure *sec;
    struct session_out box[BOX];
    struct session_outbox out;
    uint8_t sent[BOX][HUBWIRE_MAX]; /* the outbox, encoded as the hub sends it */
    size_t sent_len[BOX];
    size_t nsent;
};

static void on_released(void *ctx, uint32_t token)
{
    secure_released(((struct env *)ctx)->sec, token);
}

static int setup(void **state)
{
    static struct env e;
    struct session_store st = {.check_password = never_password,
                               .subscribe = fake_subscribe,
                               .unsubscribe = fake_unsubscribe,
                               .post = fake_post,
                               .recent = fake_recent,
                               .followers = fake_followers};
    struct session_params sp;
    struct secure_params pp = {.hub_seed = {7}, .salt_key = {8}, .account = fake_account};

    memset(&e, 0, sizeof(e));
    session_params_default(&sp);
    sp.max_sessions = 16;
    sp.timeout_ns = S(60);
    sp.released = on_released;
    sp.ctx = &e;
    pp.max_sessions = sp.max_sessions;
    assert_non_null(e.t = session_table_new(&sp, &st, fake_rand));
    assert_non_null(e.sec = secure_new(&pp));
    e.out = (struct session_outbox){.v = e.box, .cap = BOX};
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    session_table_free(e->t);
    secure_free(e->sec);
    return 0;
}

static struct session_addr addr(uint16_t port)
{
    struct session_addr a;
    struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

    memset(&a, 0, sizeof(a));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.len = sizeof(*sin);
    return a;
}

/* Feeds one datagram as the hub's loop does, then encodes what it sends
 * into e->sent and reaps, as the loop does after sending. */
static void feed(struct env *e, const uint8_t *d, size_t n, uint16_t port, int64_t now)
{
    struct session_addr from = addr(port);
    uint8_t buf[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m, plain;

    e->out.n = 0;
    assert_int_equal(hubwire_parse(d, n, &m), 0);
    if (secure_input(e->sec, e->t, &m, &from, now, &e->out, &plain, buf) == SECURE_PASS)
        assert_int_equal(session_input(e->t, &plain, &from, now, &e->out), 0);
    for (e->nsent = 0; e->nsent < e->out.n; e->nsent++)
        e->sent_len[e->nsent] = secure_seal(e->sec, &e->box[e->nsent], e->sent[e->nsent]);
    secure_reap(e->sec);
}

static void tick(struct env *e, int64_t now)
{
    e->out.n = 0;
    session_tick(e->t, now, &e->out);
    for (e->nsent = 0; e->nsent < e->out.n; e->nsent++)
        e->sent_len[e->nsent] = secure_seal(e->sec, &e->box[e->nsent], e->sent[e->nsent]);
    secure_reap(e->sec);
}

/* ------------------------------------------------------------ the client */

struct cli {
    uint16_t port;
    uint32_t nonce, token;
    uint8_t eph_pk[HUBSEC_PK], eph_sk[HUBSEC_KX_SK];
    struct hubsec_hello hello;
    struct hubsec_challenge ch;
    uint8_t hello_dgram[HUBWIRE_MAX];
    size_t hello_len;
    struct hubsec_keys k;
};

static void cli_hello(struct env *e, struct cli *c, const char *id, uint32_t nonce, uint16_t port)
{
    uint8_t payload[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m = {.op = HUB_LOGIN, .msg_id = nonce, .payload = payload};

    memset(c, 0, sizeof(*c));
    c->port = port;
    c->nonce = nonce;
    hubsec_ephemeral(c->eph_pk, c->eph_sk);
    memcpy(c->hello.eph, c->eph_pk, HUBSEC_PK);
    strcpy(c->hello.id, id);
    m.len = (uint8_t)hubsec_hello_encode(payload, &c->hello);
    c->hello_len = hubwire_encode(c->hello_dgram, &m);
    feed(e, c->hello_dgram, c->hello_len, port, T0);
}

/* Reads the challenge the hub sent, checks it, makes the session keys. */
static void cli_challenge(struct env *e, struct cli *c)
{
    struct hubwire_msg m;
    uint8_t th[HUBSEC_HASH], hub_pk[HUBSEC_PK];

    assert_int_equal(e->nsent, 1);
    assert_int_equal(hubwire_parse(e->sent[0], e->sent_len[0], &m), 0);
    assert_false(m.secure);
    assert_int_equal(m.op, HUB_LOGIN_CHALLENGE);
    assert_int_equal(m.msg_id, c->nonce);
    assert_int_equal(m.token, 0);
    assert_true(e->sent_len[0] <= c->hello_len); /* no amplification */
    assert_int_equal(hubsec_challenge_parse(m.payload, m.len, &c->ch), 0);
    secure_hub_key(e->sec, hub_pk);
    assert_memory_equal(c->ch.hub, hub_pk, HUBSEC_PK);
    hubsec_transcript(th, &c->hello, c->nonce, &c->ch);
    assert_int_equal(hubsec_verify_hub(c->ch.sig, th, c->ch.hub), 0);
    assert_int_equal(hubsec_keys_client(&c->k, c->eph_pk, c->eph_sk, c->ch.eph), 0);
}

/* Seals a proof from password into d; returns its length. */
static size_t cli_proof(struct cli *c, const char *password, uint8_t *d)
{
    uint8_t pk[HUBSEC_PK], sk[HUBSEC_SK], th[HUBSEC_HASH], sig[HUBSEC_SIG];
    struct hubwire_msg m = {
        .op = HUB_LOGIN_PROOF, .len = HUBSEC_SIG, .msg_id = c->nonce, .payload = sig};

    if (strcmp(password, "pa") == 0)
        memcpy(sk, alice_sk, sizeof(sk)); /* the same Argon2id, done once */
    else
        assert_int_equal(hubsec_account_key(password, strlen(password), c->ch.salt, pk, sk), 0);
    hubsec_transcript(th, &c->hello, c->nonce, &c->ch);
    hubsec_sign_client(sig, th, sk);
    return hubsec_seal(&c->k, HUBSEC_TO_HUB, &m, d);
}

/* Opens the hub's i-th datagram as c; returns its opcode. */
static uint8_t cli_open(struct env *e, struct cli *c, size_t i, struct hubwire_msg *m,
                        uint8_t *plain)
{
    assert_true(i < e->nsent);
    assert_int_equal(hubwire_parse(e->sent[i], e->sent_len[i], m), 0);
    assert_true(m->secure);
    assert_int_equal(hubsec_open(&c->k, HUBSEC_TO_CLIENT, m, plain), 0);
    return m->op;
}

static void cli_login(struct env *e, struct cli *c, const char *id, uint32_t nonce, uint16_t port)
{
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;

    cli_hello(e, c, id, nonce, port);
    cli_challenge(e, c);
    feed(e, d, cli_proof(c, "pa", d), port, T0);
    assert_int_equal(e->nsent, 1);
    assert_int_equal(cli_open(e, c, 0, &m, plain), HUB_LOGIN_OK);
    assert_int_equal(m.msg_id, nonce);
    assert_int_not_equal(m.token, 0);
    c->token = m.token;
}

/* A sealed request from c. */
static size_t cli_request(struct cli *c, uint8_t op, uint32_t seq, const char *text, uint8_t *d)
{
    struct hubwire_msg m = {.op = op,
                            .len = (uint8_t)strlen(text),
                            .token = c->token,
                            .msg_id = seq,
                            .payload = (const uint8_t *)text};

    return hubsec_seal(&c->k, HUBSEC_TO_HUB, &m, d);
}

static uint8_t plain_op(struct env *e, size_t i)
{
    struct hubwire_msg m;

    assert_true(i < e->nsent);
    assert_int_equal(hubwire_parse(e->sent[i], e->sent_len[i], &m), 0);
    assert_false(m.secure);
    return m.op;
}

/* ------------------------------------------------------------ tests */

static void test_login_then_sealed_requests(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;

    cli_login(e, &c, "alice", 0xabc, 5000);
    assert_int_equal(session_state(e->t, c.token), SESSION_ONLINE);
    assert_int_equal(secure_counters(e->sec)->logins, 1);
    feed(e, d, cli_request(&c, HUB_SUBSCRIBE, 1, "bob", d), 5000, T0);
    assert_int_equal(e->nsent, 1);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_SUBSCRIBE_OK);
    assert_int_equal(m.msg_id, 1);
    feed(e, d, cli_request(&c, HUB_SUBSCRIBE, 2, "zed", d), 5000, T0);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_SUBSCRIBE_FAILED);
}

static void test_forged_replayed_and_unsealed_are_dropped(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX];
    struct hubwire_msg m = {.op = HUB_SUBSCRIBE, .len = 3, .msg_id = 2};
    struct cli c;
    size_t n;
    uint64_t rejected;

    cli_login(e, &c, "alice", 0xabd, 5001);
    rejected = session_counters(e->t)->rejected;
    n = cli_request(&c, HUB_SUBSCRIBE, 1, "bob", d);
    d[HUBWIRE_HEADER] ^= 1; /* one ciphertext bit */
    feed(e, d, n, 5001, T0);
    assert_int_equal(e->nsent, 0);
    assert_int_equal(secure_counters(e->sec)->forged, 1);
    d[HUBWIRE_HEADER] ^= 1;
    feed(e, d, n, 5001, T0);
    assert_int_equal(e->nsent, 1); /* the genuine one, answered */
    feed(e, d, n, 5001, T0);
    assert_int_equal(e->nsent, 0); /* and not twice */
    assert_int_equal(secure_counters(e->sec)->replayed, 1);
    /* In clear with the live token, from another address: no answer, no move. */
    m.token = c.token;
    m.payload = (const uint8_t *)"bob";
    n = hubwire_encode(d, &m);
    feed(e, d, n, 6000, T0);
    assert_int_equal(e->nsent, 0);
    assert_int_equal(secure_counters(e->sec)->unsealed, 1);
    assert_int_equal(ntohs(((struct sockaddr_in *)&session_peer(e->t, c.token, T0)->ss)->sin_port),
                     5001);
    assert_int_equal(session_counters(e->t)->rejected, rejected + 3);
}

/* A sealed datagram from a new address moves the session there (NAT). */
static void test_authenticated_datagram_moves_the_session(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;

    cli_login(e, &c, "alice", 0xabe, 5002);
    feed(e, d, cli_request(&c, HUB_KEEPALIVE, 0, "", d), 5003, T0);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_KEEPALIVE_ACK);
    assert_int_equal(ntohs(((struct sockaddr_in *)&e->box[0].to.ss)->sin_port), 5003);
    assert_int_equal(ntohs(((struct sockaddr_in *)&session_peer(e->t, c.token, T0)->ss)->sin_port),
                     5003);
}

/* A wrong password: the refusal is sealed under the handshake's keys (a
 * refusal in clear would be anyone's to forge), and the handshake is
 * over: the right password after it gets the same refusal, unchecked. */
static void test_wrong_password_fails_and_ends_the_handshake(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;
    size_t n;

    cli_hello(e, &c, "alice", 0x77, 5004);
    cli_challenge(e, &c);
    n = cli_proof(&c, "wrong", d);
    feed(e, d, n, 5004, T0);
    assert_int_equal(e->nsent, 1);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGIN_FAILED);
    assert_int_equal(m.msg_id, 0x77);
    assert_int_equal(secure_counters(e->sec)->refused, 1);
    assert_int_equal(session_counters(e->t)->online, 0);
    feed(e, d, cli_proof(&c, "pa", d), 5004, T0); /* too late: a new HELLO is needed */
    assert_int_equal(e->nsent, 1);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGIN_FAILED);
    assert_int_equal(secure_counters(e->sec)->refused, 1);
    assert_int_equal(session_counters(e->t)->online, 0);
}

/* An id that is no account gets a challenge like any other, with a salt
 * that is the same every time for that id, and its login fails. */
static void test_unknown_id_is_not_told_apart(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], salt1[HUBSEC_SALT], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;

    cli_hello(e, &c, "zed", 1, 5005);
    cli_challenge(e, &c);
    memcpy(salt1, c.ch.salt, HUBSEC_SALT);
    cli_hello(e, &c, "zed", 2, 5005);
    cli_challenge(e, &c);
    assert_memory_equal(salt1, c.ch.salt, HUBSEC_SALT);
    cli_hello(e, &c, "zoe", 3, 5005);
    cli_challenge(e, &c);
    assert_memory_not_equal(salt1, c.ch.salt, HUBSEC_SALT);
    feed(e, d, cli_proof(&c, "pa", d), 5005, T0);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGIN_FAILED); /* sealed */
}

/* A HELLO again gets the same challenge; a PROOF again (its ack lost)
 * gets the ack again for the same session; a copy of a PROOF from
 * elsewhere, or replayed, gets nothing. */
static void test_repeated_handshake_steps(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], d2[HUBWIRE_MAX], first[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;
    size_t n, n2, nfirst;
    uint32_t token;

    cli_hello(e, &c, "alice", 0x55, 5006);
    nfirst = e->sent_len[0];
    memcpy(first, e->sent[0], nfirst);
    feed(e, c.hello_dgram, c.hello_len, 5006, T0);
    assert_int_equal(e->sent_len[0], nfirst);
    assert_memory_equal(e->sent[0], first, nfirst);
    cli_challenge(e, &c);
    n = cli_proof(&c, "pa", d);
    feed(e, d, n, 5006, T0);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGIN_OK);
    token = m.token;
    n2 = cli_proof(&c, "pa", d2); /* sent again under the next seq */
    feed(e, d2, n2, 5006, T0);
    assert_int_equal(e->nsent, 1);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGIN_OK);
    assert_int_equal(m.token, token);
    assert_int_equal(session_counters(e->t)->online, 1);
    feed(e, d2, n2, 5006, T0); /* the same datagram: a replay */
    assert_int_equal(e->nsent, 0);
    feed(e, d, n, 5099, T0); /* from elsewhere: no such handshake */
    assert_int_equal(e->nsent, 0);
    /* The same HELLO once the session exists: still the same challenge. */
    feed(e, c.hello_dgram, c.hello_len, 5006, T0);
    assert_memory_equal(e->sent[0], first, nfirst);
    assert_int_equal(session_state(e->t, token), SESSION_ONLINE);
}

/* The plain wire's login, a course client's, fails here. */
static void test_plain_login_is_refused(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX];
    struct hubwire_msg m = {
        .op = HUB_LOGIN, .len = 8, .msg_id = 0, .payload = (const uint8_t *)"alice&pa"};
    struct cli c;

    feed(e, d, hubwire_encode(d, &m), 5007, T0);
    assert_int_equal(plain_op(e, 0), HUB_LOGIN_FAILED);
    m.msg_id = 9;
    feed(e, d, hubwire_encode(d, &m), 5007, T0);
    assert_int_equal(plain_op(e, 0), HUB_LOGIN_FAILED);
    cli_hello(e, &c, "alice", 0, 5007); /* a HELLO needs a nonce */
    assert_int_equal(plain_op(e, 0), HUB_LOGIN_FAILED);
    assert_int_equal(session_counters(e->t)->online, 0);
}

/* A timed-out session's reset goes sealed under its keys; then the keys
 * are gone and its token is told to log in, in clear. */
static void test_reset_sealed_then_keys_reaped(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;

    cli_login(e, &c, "alice", 0x99, 5008);
    tick(e, T0 + S(61));
    assert_int_equal(e->nsent, 1);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_RESET);
    assert_int_equal(m.token, c.token);
    feed(e, d, cli_request(&c, HUB_SUBSCRIBE, 1, "bob", d), 5008, T0 + S(62));
    assert_int_equal(plain_op(e, 0), HUB_MUST_LOGIN);
}

/* A logout lingers: its ack again, sealed, for a repeated logout. */
static void test_logout_ack_again_sealed(void **state)
{
    struct env *e = *state;
    uint8_t d[HUBWIRE_MAX], plain[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg m;
    struct cli c;

    cli_login(e, &c, "alice", 0x98, 5009);
    feed(e, d, cli_request(&c, HUB_LOGOUT, 1, "", d), 5009, T0);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGOUT_ACK);
    feed(e, d, cli_request(&c, HUB_LOGOUT, 1, "", d), 5009, T0);
    assert_int_equal(cli_open(e, &c, 0, &m, plain), HUB_LOGOUT_ACK);
    /* In clear, with the lingering token, from anywhere: no answer (it
     * would be a sealed datagram three times the size: a reflector). */
    m = (struct hubwire_msg){.op = HUB_LOGOUT, .token = c.token, .msg_id = 1};
    feed(e, d, hubwire_encode(d, &m), 6666, T0);
    assert_int_equal(e->nsent, 0);
    m.op = HUB_SUBSCRIBE;
    feed(e, d, hubwire_encode(d, &m), 6666, T0);
    assert_int_equal(e->nsent, 0);
    assert_int_equal(secure_counters(e->sec)->unsealed, 2);
    tick(e, T0 + S(30)); /* the linger is over */
    feed(e, d, cli_request(&c, HUB_LOGOUT, 1, "", d), 5009, T0 + S(30));
    assert_int_equal(plain_op(e, 0), HUB_MUST_LOGIN);
}

/* An upload's MAC: right only under the session's client-to-hub key, for
 * that name, size and digest; no session, no MAC. */
static void test_upload_mac(void **state)
{
    struct env *e = *state;
    uint8_t sha[32] = {1, 2, 3}, mac[32];
    struct cli c;

    cli_login(e, &c, "alice", 0x97, 5010);
    hubsec_upload_mac(mac, c.k.tx, "a.txt", 5, sha);
    assert_int_equal(secure_upload_check(e->sec, c.token, "a.txt", 5, sha, mac), 0);
    assert_int_equal(secure_upload_check(e->sec, c.token, "b.txt", 5, sha, mac), -EACCES);
    assert_int_equal(secure_upload_check(e->sec, c.token, "a.txt", 6, sha, mac), -EACCES);
    sha[31] = 1;
    assert_int_equal(secure_upload_check(e->sec, c.token, "a.txt", 5, sha, mac), -EACCES);
    sha[31] = 0;
    assert_int_equal(secure_upload_check(e->sec, c.token + 1, "a.txt", 5, sha, mac), -EACCES);
    hubsec_upload_mac(mac, c.k.rx, "a.txt", 5, sha); /* the other direction's key */
    assert_int_equal(secure_upload_check(e->sec, c.token, "a.txt", 5, sha, mac), -EACCES);
    /* Once stored, the same upload again is a replay; another one is not. */
    hubsec_upload_mac(mac, c.k.tx, "a.txt", 5, sha);
    assert_int_equal(secure_upload_taken(e->sec, c.token, mac), 0);
    assert_int_equal(secure_upload_check(e->sec, c.token, "a.txt", 5, sha, mac), -EALREADY);
    hubsec_upload_mac(mac, c.k.tx, "a.txt", 6, sha);
    assert_int_equal(secure_upload_check(e->sec, c.token, "a.txt", 6, sha, mac), 0);
    assert_int_equal(secure_upload_taken(e->sec, c.token + 1, mac), -EACCES);
}

static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(hubsec_init(), 0);
    return hubsec_account_key("pa", 2, alice_salt, alice_pk, alice_sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_login_then_sealed_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_replayed_and_unsealed_are_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_authenticated_datagram_moves_the_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_fails_and_ends_the_handshake, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_id_is_not_told_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_handshake_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_login_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_sealed_then_keys_reaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout_ack_again_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_mac, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
