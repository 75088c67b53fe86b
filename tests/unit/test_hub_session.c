/* Unit tests for worker/hub/session.c: the hub's sessions fed decoded
 * datagrams at chosen times, with an in-memory store and a scripted
 * random source; every answer is checked field by field. */
#include "worker/hub/session.h"

#include "worker/hub/retx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define S(x)      ((int64_t)((x)*1000000000.0))
#define T0        S(1000) /* the time every test starts at */
#define FIRST_ID  100     /* the fake store's first msg_id, far from any seq */
#define BOX       600
#define LONG_ID32 "abcdefghijklmnopqrstuvwxyz_ABCDE"
#define LONG_ID33 LONG_ID32 "F"

/* ------------------------------------------------------------ fake store */

struct fake_user {
    const char *id, *pw;
    uint16_t port; /* where the tests log in from */
};

static const struct fake_user users[] = {
    {"alice", "pa", 1001}, {"bob", "pb", 1002},    {"carol", "pc", 1003},
    {"dave", "pd", 1004},  {LONG_ID32, "p", 1005}, {LONG_ID33, "p", 1006},
};

static struct {
    struct {
        char follower[STORE_ID_MAX + 2], publisher[STORE_ID_MAX + 2];
    } subs[256];
    size_t nsubs;
    struct {
        uint32_t msg_id;
        char publisher[STORE_ID_MAX + 2];
        char text[STORE_TEXT_MAX + 1];
    } posts[512];
    size_t nposts;
    uint32_t next_id;
    unsigned post_calls;
    bool fail; /* every call fails with -EIO */
} db;

/* The password of account id: the table's, and "p" for u0, u1 ... */
static const char *fake_password(const char *id)
{
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
        if (strcmp(users[i].id, id) == 0)
            return users[i].pw;
    if (id[0] == 'u' && id[1] >= '0' && id[1] <= '9')
        return "p";
    return NULL;
}

static int fake_check_password(void *ctx, const char *id, const uint8_t *pw, size_t len)
{
    const char *want = fake_password(id);

    assert_ptr_equal(ctx, &db);
    if (db.fail)
        return -EIO;
    if (want == NULL || strlen(want) != len || memcmp(want, pw, len) != 0)
        return -EACCES;
    return 0;
}

static ssize_t fake_find_sub(const char *follower, const char *publisher)
{
    for (size_t i = 0; i < db.nsubs; i++)
        if (strcmp(db.subs[i].follower, follower) == 0 &&
            strcmp(db.subs[i].publisher, publisher) == 0)
            return (ssize_t)i;
    return -1;
}

static int fake_subscribe(void *ctx, const char *follower, const char *publisher)
{
    (void)ctx;
    if (db.fail)
        return -EIO;
    if (fake_password(publisher) == NULL)
        return -ENOENT;
    /* Oneself is allowed here: refusing it is the session's rule. */
    if (fake_find_sub(follower, publisher) >= 0)
        return -EEXIST;
    strcpy(db.subs[db.nsubs].follower, follower);
    strcpy(db.subs[db.nsubs++].publisher, publisher);
    return 0;
}

static int fake_unsubscribe(void *ctx, const char *follower, const char *publisher)
{
    ssize_t i = fake_find_sub(follower, publisher);

    (void)ctx;
    if (db.fail)
        return -EIO;
    if (i < 0)
        return -ENOENT;
    db.subs[i] = db.subs[--db.nsubs];
    return 0;
}

static int fake_post(void *ctx, const char *publisher, const char *text, size_t len,
                     uint32_t *msg_id)
{
    (void)ctx;
    if (db.fail)
        return -EIO;
    assert_true(len <= STORE_TEXT_MAX);
    db.post_calls++;
    db.posts[db.nposts].msg_id = *msg_id = db.next_id++;
    strcpy(db.posts[db.nposts].publisher, publisher);
    memcpy(db.posts[db.nposts].text, text, len);
    db.posts[db.nposts++].text[len] = '\0';
    return 0;
}

static int fake_recent(void *ctx, const char *user, uint32_t upto, unsigned n,
                       struct store_post *out)
{
    unsigned got = 0;

    (void)ctx;
    if (db.fail)
        return -EIO;
    for (size_t i = db.nposts; i-- > 0 && got < n;) {
        if (db.posts[i].msg_id > upto || fake_find_sub(user, db.posts[i].publisher) < 0)
            continue;
        out[got].msg_id = db.posts[i].msg_id;
        strcpy(out[got].publisher, db.posts[i].publisher);
        strcpy(out[got++].text, db.posts[i].text);
    }
    return (int)got;
}

static int fake_followers(void *ctx, const char *publisher,
                          int (*fn)(const char *follower, void *arg), void *arg)
{
    (void)ctx;
    if (db.fail)
        return -EIO;
    for (size_t i = 0; i < db.nsubs; i++)
        if (strcmp(db.subs[i].publisher, publisher) == 0)
            fn(db.subs[i].follower, arg);
    return 0;
}

static const struct session_store fake_store = {
    .ctx = &db,
    .check_password = fake_check_password,
    .subscribe = fake_subscribe,
    .unsubscribe = fake_unsubscribe,
    .post = fake_post,
    .recent = fake_recent,
    .followers = fake_followers,
};

/* ------------------------------------------------------------ fake random */

static struct {
    uint32_t q[32]; /* given first, in order */
    size_t n, i;
    uint32_t next; /* then 0x1000, 0x1001, ... */
    unsigned calls;
} rnd;

static int fake_rand(uint32_t *out)
{
    rnd.calls++;
    *out = rnd.i < rnd.n ? rnd.q[rnd.i++] : rnd.next++;
    return 0;
}

/* ------------------------------------------------------------ harness */

static struct hub {
    struct session_table *t;
    struct session_out box[BOX];
    struct session_outbox out;
    int64_t now;
} H;

/* A fresh table (and store, and random source) at T0. */
/* What the ended hook was told last, and how often. */
static struct {
    char id[STORE_ID_MAX + 1], why[128];
    unsigned n;
} ended;

static void record_ended(void *ctx, const char *id, uint32_t token, const char *why)
{
    (void)ctx, (void)token;
    snprintf(ended.id, sizeof(ended.id), "%s", id);
    snprintf(ended.why, sizeof(ended.why), "%s", why);
    ended.n++;
}

static struct hub *hub_open(bool hooks, uint32_t max_sessions)
{
    struct session_params p;

    memset(&db, 0, sizeof(db));
    db.next_id = FIRST_ID;
    memset(&rnd, 0, sizeof(rnd));
    rnd.next = 0x1000;
    session_params_default(&p);
    p.test_hooks = hooks;
    p.ended = record_ended;
    memset(&ended, 0, sizeof(ended));
    if (max_sessions > 0)
        p.max_sessions = max_sessions;
    H.t = session_table_new(&p, &fake_store, fake_rand);
    assert_non_null(H.t);
    H.out = (struct session_outbox){.v = H.box, .cap = BOX};
    H.now = T0;
    return &H;
}

static struct hub *hub_new(void)
{
    return hub_open(false, 0);
}

static void hub_close(struct hub *h)
{
    session_table_free(h->t);
    h->t = NULL;
}

static struct session_addr addr(uint16_t port)
{
    struct session_addr a;
    struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;

    memset(&a, 0, sizeof(a));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.len = sizeof(*in);
    return a;
}

static uint16_t port_of(const struct session_out *o)
{
    return ntohs(((const struct sockaddr_in *)&o->to.ss)->sin_port);
}

static uint16_t port_for(const char *id)
{
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
        if (strcmp(users[i].id, id) == 0)
            return users[i].port;
    return (uint16_t)(2000 + atoi(id + 1)); /* u0, u1 ... */
}

/* Feeds one datagram (len payload bytes) from port at h->now, with an
 * empty outbox. Returns how many datagrams came out. */
static size_t dgram_n(struct hub *h, uint16_t port, uint8_t op, uint32_t token, uint32_t msg_id,
                      const void *payload, size_t len)
{
    struct session_addr from = addr(port);
    struct hubwire_msg m = {.op = op, .len = (uint8_t)len, .token = token, .msg_id = msg_id};

    assert_true(len <= HUBWIRE_PAYLOAD_MAX);
    m.payload = payload;
    h->out.n = 0;
    assert_int_equal(session_input(h->t, &m, &from, h->now, &h->out), 0);
    return h->out.n;
}

static size_t dgram(struct hub *h, uint16_t port, uint8_t op, uint32_t token, uint32_t msg_id,
                    const char *payload)
{
    return dgram_n(h, port, op, token, msg_id, payload, strlen(payload));
}

/* Runs the timers at `at`, with an empty outbox. Returns how many
 * datagrams came out. */
static size_t tick(struct hub *h, int64_t at)
{
    h->now = at;
    h->out.n = 0;
    session_tick(h->t, at, &h->out);
    return h->out.n;
}

/* Checks datagram i of the last call; payload NULL for an empty one. */
static void expect(const struct hub *h, size_t i, uint8_t op, uint16_t port, uint32_t token,
                   uint32_t msg_id, const char *payload)
{
    const struct session_out *o;

    assert_in_range(i, 0, h->out.n - 1);
    o = &h->out.v[i];
    assert_int_equal(o->op, op);
    assert_int_equal(port_of(o), port);
    assert_int_equal(o->token, token);
    assert_int_equal(o->msg_id, msg_id);
    if (payload == NULL)
        payload = "";
    assert_int_equal(o->len, strlen(payload));
    assert_memory_equal(o->payload, payload, o->len);
}

/* Logs id in from its port with nonce; returns the token. */
static uint32_t login_as(struct hub *h, const char *id, uint32_t nonce)
{
    char line[80];

    snprintf(line, sizeof(line), "%s&%s", id, fake_password(id));
    assert_int_equal(dgram(h, port_for(id), HUB_LOGIN, 0, nonce, line), 1);
    assert_int_equal(h->out.v[0].op, HUB_LOGIN_OK);
    assert_int_equal(h->out.v[0].msg_id, nonce);
    return h->out.v[0].token;
}

/* A request of id's session, expected to get exactly one answer, op. */
static void request(struct hub *h, const char *id, uint32_t token, uint8_t op, uint32_t seq,
                    const char *payload, uint8_t answer)
{
    assert_int_equal(dgram(h, port_for(id), op, token, seq, payload), 1);
    expect(h, 0, answer, port_for(id), token, seq, NULL);
}

static void follow(struct hub *h, const char *who, uint32_t token, const char *whom, uint32_t seq)
{
    request(h, who, token, HUB_SUBSCRIBE, seq, whom, HUB_SUBSCRIBE_OK);
}

static const struct session_counters *counters(const struct hub *h)
{
    return session_counters(h->t);
}

/* ------------------------------------------------------------ login */

static void test_login_ok(void **state)
{
    struct hub *h = hub_new();

    (void)state;
    rnd.q[rnd.n++] = 0xC0FFEE01;
    assert_int_equal(dgram(h, 1001, HUB_LOGIN, 0, 77, "alice&pa"), 1);
    expect(h, 0, HUB_LOGIN_OK, 1001, 0xC0FFEE01, 77, NULL);
    assert_int_equal(session_state(h->t, 0xC0FFEE01), SESSION_ONLINE);
    assert_int_equal(counters(h)->online, 1);
    assert_int_equal(session_deadline(h->t), T0 + SESSION_TIMEOUT_NS);
    /* A 32-byte id is an id. */
    assert_int_not_equal(login_as(h, LONG_ID32, 5), 0);
    assert_int_equal(counters(h)->online, 2);
    hub_close(h);
}

static void test_login_failed(void **state)
{
    static const char *const bad[] = {
        "alice&pb",     /* wrong password */
        "alice&",       /* none */
        "alice",        /* no & */
        "zed&pz",       /* no such account */
        "&pa",          /* no id */
        "al ice&pa",    /* not an id */
        "al-ice&pa",    /* not an id */
        LONG_ID33 "&p", /* 33 bytes: an account in the store, not an id */
        "alice&pa&",    /* the password is "pa&" */
        "alice\n&pa",   /* only a trailing newline is taken off */
    };

    struct hub *h = hub_new();

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(dgram(h, 1001, HUB_LOGIN, 0, 9, bad[i]), 1);
        expect(h, 0, HUB_LOGIN_FAILED, 1001, 0, 9, NULL);
    }
    assert_int_equal(counters(h)->online, 0);
    assert_int_equal(rnd.calls, 0);
    hub_close(h);
}

/* The same login datagram again: the same token, nothing drawn; the
 * password is still checked. */
static void test_login_duplicate(void **state)
{
    struct hub *h = hub_new();
    uint32_t t1;

    (void)state;
    t1 = login_as(h, "alice", 42);
    assert_int_equal(login_as(h, "alice", 42), t1);
    assert_int_equal(rnd.calls, 1);
    assert_int_equal(counters(h)->duplicates, 1);
    assert_int_equal(counters(h)->online, 1);
    assert_int_equal(dgram(h, 1001, HUB_LOGIN, 0, 42, "alice&wrong"), 1);
    expect(h, 0, HUB_LOGIN_FAILED, 1001, 0, 42, NULL);
    assert_int_equal(session_state(h->t, t1), SESSION_ONLINE);
    /* The course's nonce 0 follows the same rule. */
    assert_int_equal(login_as(h, "bob", 0), login_as(h, "bob", 0));
    hub_close(h);
}

/* A new nonce, or the same from another address, replaces the session,
 * silently; the old token is dead. */
static void test_login_replaces(void **state)
{
    struct hub *h = hub_new();
    uint32_t t1, t2, t3;

    (void)state;
    t1 = login_as(h, "alice", 1);
    t2 = login_as(h, "alice", 2); /* login_as checks: one datagram, the ack */
    assert_int_not_equal(t1, t2);
    assert_int_equal(session_state(h->t, t1), SESSION_OFFLINE);
    assert_int_equal(session_state(h->t, t2), SESSION_ONLINE);
    assert_int_equal(dgram(h, 1001, HUB_SUBSCRIBE, t1, 1, "bob"), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1001, t1, 1, NULL);
    request(h, "alice", t2, HUB_SUBSCRIBE, 1, "bob", HUB_SUBSCRIBE_OK);
    /* Same nonce, another port. */
    assert_int_equal(dgram(h, 1999, HUB_LOGIN, 0, 2, "alice&pa"), 1);
    t3 = h->out.v[0].token;
    expect(h, 0, HUB_LOGIN_OK, 1999, t3, 2, NULL);
    assert_int_not_equal(t3, t2);
    assert_int_equal(session_state(h->t, t2), SESSION_OFFLINE);
    assert_int_equal(counters(h)->online, 1);
    assert_int_equal(counters(h)->resets_sent, 0);
    hub_close(h);
}

/* Tokens: never 0, never one in use; a source that keeps giving taken
 * ones fails the login. */
static void test_token_unique(void **state)
{
    struct hub *h = hub_new();

    (void)state;
    rnd.q[rnd.n++] = 0;
    rnd.q[rnd.n++] = 0x42;
    rnd.q[rnd.n++] = 0x42;
    rnd.q[rnd.n++] = 0x43;
    assert_int_equal(login_as(h, "alice", 1), 0x42);
    assert_int_equal(login_as(h, "bob", 1), 0x43);
    for (int i = 0; i < SESSION_TOKEN_TRIES; i++)
        rnd.q[rnd.n++] = i % 2 ? 0x42 : 0x43;
    assert_int_equal(dgram(h, 1003, HUB_LOGIN, 0, 1, "carol&pc"), 1);
    expect(h, 0, HUB_LOGIN_FAILED, 1003, 0, 1, NULL);
    /* The next draw is fresh again. */
    assert_int_equal(login_as(h, "carol", 1), 0x1000);
    hub_close(h);
}

/* A full table refuses logins; a logged-out record gives its place to a
 * login, the oldest first. */
static void test_table_full(void **state)
{
    struct hub *h = hub_open(false, 3);
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    login_as(h, "carol", 1);
    assert_int_equal(dgram(h, 1004, HUB_LOGIN, 0, 1, "dave&pd"), 1);
    expect(h, 0, HUB_LOGIN_FAILED, 1004, 0, 1, NULL);
    request(h, "bob", tb, HUB_LOGOUT, 1, "", HUB_LOGOUT_ACK);
    h->now += 1;
    request(h, "alice", ta, HUB_LOGOUT, 1, "", HUB_LOGOUT_ACK);
    login_as(h, "dave", 1); /* takes bob's record */
    assert_int_equal(dgram(h, 1002, HUB_LOGOUT, tb, 1, ""), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1002, tb, 1, NULL);
    request(h, "alice", ta, HUB_LOGOUT, 1, "", HUB_LOGOUT_ACK); /* alice's still lingers */
    login_as(h, "bob", 2);                                      /* takes alice's */
    assert_int_equal(dgram(h, 1003, HUB_LOGIN, 0, 1, LONG_ID32 "&p"), 1);
    expect(h, 0, HUB_LOGIN_FAILED, 1003, 0, 1, NULL);
    assert_int_equal(counters(h)->online, 3);
    hub_close(h);
}

static void test_must_login_first(void **state)
{
    static const uint8_t ops[] = {HUB_SUBSCRIBE,   HUB_UNSUBSCRIBE, HUB_POST,
                                  HUB_RETRIEVE,    HUB_LOGOUT,      HUB_KEEPALIVE,
                                  HUB_FORWARD_ACK, HUB_LOGIN_OK,    0x55};
    struct hub *h = hub_new();
    uint32_t ta;

    (void)state;
    for (size_t i = 0; i < sizeof(ops); i++) {
        assert_int_equal(dgram(h, 1001, ops[i], 0, 3, "bob"), 1);
        expect(h, 0, HUB_MUST_LOGIN, 1001, 0, 3, NULL);
    }
    ta = login_as(h, "alice", 1);
    assert_int_equal(dgram(h, 1002, HUB_POST, ta + 1, 4, "hi"), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1002, ta + 1, 4, NULL);
    /* A reset for no session is dropped, unanswered. */
    assert_int_equal(dgram(h, 1002, HUB_RESET, ta + 1, 0, ""), 0);
    assert_int_equal(counters(h)->rejected, 1);
    assert_int_equal(session_state(h->t, ta), SESSION_ONLINE);
    assert_int_equal(db.post_calls, 0);
    hub_close(h);
}

/* ------------------------------------------------------------ subscribe */

static void test_subscribe(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta;

    (void)state;
    ta = login_as(h, "alice", 1);
    request(h, "alice", ta, HUB_SUBSCRIBE, 1, "bob", HUB_SUBSCRIBE_OK);
    assert_int_equal(db.nsubs, 1);
    request(h, "alice", ta, HUB_SUBSCRIBE, 2, "bob", HUB_SUBSCRIBE_FAILED);   /* twice */
    request(h, "alice", ta, HUB_SUBSCRIBE, 3, "alice", HUB_SUBSCRIBE_FAILED); /* oneself */
    request(h, "alice", ta, HUB_SUBSCRIBE, 4, "zed", HUB_SUBSCRIBE_FAILED);   /* no account */
    request(h, "alice", ta, HUB_SUBSCRIBE, 5, "b b", HUB_SUBSCRIBE_FAILED);   /* no id */
    request(h, "alice", ta, HUB_SUBSCRIBE, 6, "", HUB_SUBSCRIBE_FAILED);
    request(h, "alice", ta, HUB_SUBSCRIBE, 7, "carol", HUB_SUBSCRIBE_OK);
    assert_int_equal(db.nsubs, 2);
    request(h, "alice", ta, HUB_UNSUBSCRIBE, 8, "bob", HUB_UNSUBSCRIBE_OK);
    assert_int_equal(db.nsubs, 1);
    request(h, "alice", ta, HUB_UNSUBSCRIBE, 9, "bob", HUB_UNSUBSCRIBE_FAILED);
    request(h, "alice", ta, HUB_UNSUBSCRIBE, 10, "zed", HUB_UNSUBSCRIBE_FAILED);
    request(h, "alice", ta, HUB_UNSUBSCRIBE, 11, "b!b", HUB_UNSUBSCRIBE_FAILED);
    request(h, "alice", ta, HUB_UNSUBSCRIBE, 12, "carol", HUB_UNSUBSCRIBE_OK);
    assert_int_equal(db.nsubs, 0);
    hub_close(h);
}

/* ------------------------------------------------------------ post and forward */

/* alice posts; bob and carol follow her, carol logged out, dave follows
 * her but never logged in: only bob gets the forward. */
static void test_post_forwards_online_only(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb, tc;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    tc = login_as(h, "carol", 1);
    follow(h, "bob", tb, "alice", 1);
    follow(h, "carol", tc, "alice", 1);
    fake_subscribe(&db, "dave", "alice");
    follow(h, "alice", ta, "bob", 1);
    fake_subscribe(&db, "alice", "alice"); /* even so, her own post never comes back to her */
    request(h, "carol", tc, HUB_LOGOUT, 2, "", HUB_LOGOUT_ACK);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2, "hello"), 2);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 2, "100");
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID, "<alice>hello");
    assert_int_equal(db.nposts, 1);
    assert_string_equal(db.posts[0].text, "hello");
    assert_int_equal(session_state(h->t, tb), SESSION_FORWARD);
    assert_int_equal(session_state(h->t, ta), SESSION_ONLINE);
    assert_int_equal(counters(h)->posts, 1);
    assert_int_equal(counters(h)->forwards, 1);
    assert_int_equal(session_deadline(h->t), T0 + RETX_FIRST_NS);
    hub_close(h);
}

/* Unacked, a forward goes again 0.5, 1, 2, 4, 4, 4, 4 s apart; 4 s after
 * the eighth send the session is lost and reset; the post stays
 * retrievable. */
static void test_forward_schedule_and_loss(void **state)
{
    static const double resend[] = {0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5};
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 1, "hello"), 2);
    for (size_t i = 0; i < sizeof(resend) / sizeof(resend[0]); i++) {
        int64_t at = T0 + S(resend[i]);

        assert_int_equal(session_deadline(h->t), at);
        assert_int_equal(tick(h, at - 1), 0);
        assert_int_equal(tick(h, at), 1);
        expect(h, 0, HUB_FORWARD, 1002, tb, FIRST_ID, "<alice>hello");
        assert_int_equal(session_state(h->t, tb), SESSION_FORWARD);
    }
    assert_int_equal(counters(h)->retransmissions, 7);
    assert_int_equal(session_deadline(h->t), T0 + S(23.5));
    assert_int_equal(tick(h, T0 + S(23.5) - 1), 0);
    assert_int_equal(tick(h, T0 + S(23.5)), 1);
    expect(h, 0, HUB_RESET, 1002, tb, 0, NULL);
    assert_int_equal(session_state(h->t, tb), SESSION_OFFLINE);
    assert_int_equal(counters(h)->resets_sent, 1);
    assert_int_equal(counters(h)->online, 1);
    assert_int_equal(session_state(h->t, ta), SESSION_ONLINE);
    /* Back in, bob finds the post. */
    tb = login_as(h, "bob", 2);
    assert_int_equal(dgram(h, 1002, HUB_RETRIEVE, tb, 1, "1"), 2);
    expect(h, 0, HUB_RETRIEVE_ACK, 1002, tb, FIRST_ID, "<alice>hello");
    expect(h, 1, HUB_RETRIEVE_END, 1002, tb, 1, "1");
    hub_close(h);
}

/* An ack clears the forward; the same ack again is a duplicate; an ack
 * for what was never sent is out of order. */
static void test_forward_ack(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 1, "one"), 2);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2, "two"), 2);
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID + 1, "<alice>two");
    assert_int_equal(dgram(h, 1002, HUB_FORWARD_ACK, tb, FIRST_ID, ""), 0);
    assert_int_equal(session_state(h->t, tb), SESSION_FORWARD); /* "two" is out still */
    assert_int_equal(tick(h, T0 + RETX_FIRST_NS), 1);
    expect(h, 0, HUB_FORWARD, 1002, tb, FIRST_ID + 1, "<alice>two");
    assert_int_equal(dgram(h, 1002, HUB_FORWARD_ACK, tb, FIRST_ID + 1, ""), 0);
    assert_int_equal(session_state(h->t, tb), SESSION_ONLINE);
    assert_int_equal(session_deadline(h->t), T0 + SESSION_TIMEOUT_NS); /* alice's timeout */
    assert_int_equal(tick(h, T0 + S(30)), 0);
    /* The same ack again, as a network that duplicates would. */
    assert_int_equal(dgram(h, 1002, HUB_FORWARD_ACK, tb, FIRST_ID, ""), 0);
    assert_int_equal(counters(h)->duplicates, 1);
    assert_int_equal(session_state(h->t, tb), SESSION_ONLINE);
    /* junk#: an ack for nothing. */
    assert_int_equal(dgram(h, 1002, HUB_FORWARD_ACK, tb, 999, ""), 1);
    expect(h, 0, HUB_RESET, 1002, tb, 999, NULL);
    assert_int_equal(session_state(h->t, tb), SESSION_OFFLINE);
    hub_close(h);
}

/* A session in MESSAGE_FORWARD takes requests; its logout drops what is
 * outstanding. */
static void test_requests_while_forwarding(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 1, "one"), 2);
    request(h, "bob", tb, HUB_SUBSCRIBE, 2, "carol", HUB_SUBSCRIBE_OK);
    assert_int_equal(session_state(h->t, tb), SESSION_FORWARD);
    assert_int_equal(dgram(h, 1002, HUB_RETRIEVE, tb, 3, "5"), 2);
    expect(h, 1, HUB_RETRIEVE_END, 1002, tb, 3, "1");
    request(h, "bob", tb, HUB_LOGOUT, 4, "", HUB_LOGOUT_ACK);
    assert_int_equal(session_state(h->t, tb), SESSION_OFFLINE);
    assert_int_equal(tick(h, T0 + S(10)), 0);
    assert_int_equal(counters(h)->retransmissions, 0);
    hub_close(h);
}

/* Marks in seen[] the follower u<N> (port 2000 + N) of each forward of
 * "<alice>to all" from datagram `from` on; each only once. */
static void seen_forwards(const struct hub *h, size_t from, bool *seen)
{
    for (size_t i = from; i < h->out.n; i++) {
        unsigned n = port_of(&h->out.v[i]) - 2000u;

        expect(h, i, HUB_FORWARD, (uint16_t)(2000 + n), h->out.v[i].token, FIRST_ID,
               "<alice>to all");
        assert_false(seen[n]);
        seen[n] = true;
    }
}

/* A follower with RETX_WINDOW forwards unacked is lost at the next one,
 * at once; the post is stored and acked all the same. */
static void test_window_full(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    for (uint32_t i = 0; i < RETX_WINDOW; i++) {
        assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2 + i, "p"), 2);
        expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID + i, "<alice>p");
    }
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2 + RETX_WINDOW, "p"), 2);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 2 + RETX_WINDOW, "356");
    expect(h, 1, HUB_RESET, 1002, tb, 0, NULL);
    assert_int_equal(session_state(h->t, tb), SESSION_OFFLINE);
    assert_int_equal(db.nposts, RETX_WINDOW + 1);
    hub_close(h);
}

/* A fan-out larger than the outbox: what does not fit goes at the next
 * tick, due at once. */
static void test_fanout_beyond_outbox(void **state)
{
    struct hub *h = hub_new();
    enum { FOLLOWERS = SESSION_OUTBOX_MIN + 9 };
    uint32_t ta;
    char id[8];
    bool seen[FOLLOWERS] = {false};

    (void)state;
    ta = login_as(h, "alice", 1);
    for (int i = 0; i < FOLLOWERS; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        follow(h, id, login_as(h, id, 1), "alice", 1);
    }
    h->out.n = 0;
    h->out.cap = SESSION_OUTBOX_MIN - 1;
    assert_int_equal(session_input(h->t, &(struct hubwire_msg){.op = HUB_KEEPALIVE, .token = ta},
                                   &(struct session_addr){.len = 0}, h->now, &h->out),
                     -ENOBUFS);
    h->out.cap = SESSION_OUTBOX_MIN;
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2, "to all"), SESSION_OUTBOX_MIN);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 2, "100");
    seen_forwards(h, 1, seen);
    assert_int_equal(session_deadline(h->t), h->now);
    h->out.cap = BOX;
    assert_int_equal(tick(h, h->now), FOLLOWERS - (SESSION_OUTBOX_MIN - 1));
    seen_forwards(h, 0, seen);
    for (int i = 0; i < FOLLOWERS; i++)
        assert_true(seen[i]);
    assert_int_equal(counters(h)->forwards, FOLLOWERS);
    assert_int_equal(session_deadline(h->t), h->now + RETX_FIRST_NS);
    hub_close(h);
}

/* ------------------------------------------------------------ duplicates */

/* The same request again is answered as the first time and not applied
 * again; an older one is dropped. */
static void test_duplicate_request(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 5, "once"), 2);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 5, "once"), 1);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 5, "100");
    assert_int_equal(db.post_calls, 1);
    assert_int_equal(counters(h)->forwards, 1);
    /* A late copy of an answered request: nothing. */
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 4, "older"), 0);
    assert_int_equal(db.post_calls, 1);
    /* A subscription answered OK stays OK when asked again, though a
     * second one would fail. */
    request(h, "alice", ta, HUB_SUBSCRIBE, 6, "carol", HUB_SUBSCRIBE_OK);
    request(h, "alice", ta, HUB_SUBSCRIBE, 6, "carol", HUB_SUBSCRIBE_OK);
    assert_int_equal(db.nsubs, 2);
    /* A refusal is re-sent as it was. */
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 7, "x"), 1);
    expect(h, 0, HUB_ERROR, 1001, ta, 7, "retrieve wants a count");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 7, "x"), 1);
    expect(h, 0, HUB_ERROR, 1001, ta, 7, "retrieve wants a count");
    assert_int_equal(counters(h)->duplicates, 4);
    hub_close(h);
}

/* msg_id 0 (a course client) is never a duplicate. */
static void test_msg_id_zero(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 0);
    tb = login_as(h, "bob", 0);
    request(h, "bob", tb, HUB_SUBSCRIBE, 0, "alice", HUB_SUBSCRIBE_OK);
    request(h, "bob", tb, HUB_SUBSCRIBE, 0, "alice", HUB_SUBSCRIBE_FAILED);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 0, "x"), 2);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 0, NULL); /* a course session: no msg_id */
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID, "<alice>x");
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 0, "x"), 2);
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID + 1, "<alice>x");
    assert_int_equal(db.post_calls, 2);
    assert_int_equal(counters(h)->duplicates, 0);
    hub_close(h);
}

/* ------------------------------------------------------------ retrieve */

static void post_as(struct hub *h, const char *id, uint32_t token, uint32_t seq, const char *text)
{
    assert_true(dgram(h, port_for(id), HUB_POST, token, seq, text) >= 1);
    assert_int_equal(h->out.v[0].op, HUB_POST_ACK);
}

/* Newest first across publishers, never one's own nor those of users not
 * followed, then the end echoing the sequence. */
static void test_retrieve(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb, tc, td;
    char want[32];

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    tc = login_as(h, "carol", 1);
    td = login_as(h, "dave", 1);
    post_as(h, "bob", tb, 1, "b1"); /* 100, before the subscription: included */
    follow(h, "alice", ta, "bob", 1);
    follow(h, "alice", ta, "carol", 2);
    post_as(h, "carol", tc, 1, "c1"); /* 101 */
    post_as(h, "dave", td, 1, "d1");  /* 102, not followed */
    post_as(h, "alice", ta, 3, "a1"); /* 103, her own */
    post_as(h, "bob", tb, 2, "b2");   /* 104 */
    post_as(h, "carol", tc, 2, "c2"); /* 105 */
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 4, "1"), 2);
    expect(h, 0, HUB_RETRIEVE_ACK, 1001, ta, 105, "<carol>c2");
    expect(h, 1, HUB_RETRIEVE_END, 1001, ta, 4, "1");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 5, "20"), 5);
    expect(h, 0, HUB_RETRIEVE_ACK, 1001, ta, 105, "<carol>c2");
    expect(h, 1, HUB_RETRIEVE_ACK, 1001, ta, 104, "<bob>b2");
    expect(h, 2, HUB_RETRIEVE_ACK, 1001, ta, 101, "<carol>c1");
    expect(h, 3, HUB_RETRIEVE_ACK, 1001, ta, 100, "<bob>b1");
    expect(h, 4, HUB_RETRIEVE_END, 1001, ta, 5, "4");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 6, "0"), 1);
    expect(h, 0, HUB_RETRIEVE_END, 1001, ta, 6, "0");
    /* More than SESSION_RETRIEVE_MAX: that many. */
    for (uint32_t i = 0; i < SESSION_RETRIEVE_MAX; i++) {
        snprintf(want, sizeof(want), "more %u", i);
        post_as(h, "bob", tb, 3 + i, want);
    }
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 7, "99999999999999999999"),
                     SESSION_RETRIEVE_MAX + 1);
    snprintf(want, sizeof(want), "<bob>more %u", SESSION_RETRIEVE_MAX - 1);
    expect(h, 0, HUB_RETRIEVE_ACK, 1001, ta, 105 + SESSION_RETRIEVE_MAX, want);
    expect(h, SESSION_RETRIEVE_MAX, HUB_RETRIEVE_END, 1001, ta, 7, "100");
    hub_close(h);
}

/* A retrieve asked again gets the same posts, though newer ones came. */
static void test_retrieve_duplicate(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 1, "2"), 1); /* nothing yet */
    expect(h, 0, HUB_RETRIEVE_END, 1001, ta, 1, "0");
    follow(h, "alice", ta, "bob", 2);
    post_as(h, "bob", tb, 1, "p1");
    post_as(h, "bob", tb, 2, "p2");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 3, "2"), 3);
    post_as(h, "bob", tb, 3, "p3");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 3, "2"), 3);
    expect(h, 0, HUB_RETRIEVE_ACK, 1001, ta, 101, "<bob>p2");
    expect(h, 1, HUB_RETRIEVE_ACK, 1001, ta, 100, "<bob>p1");
    expect(h, 2, HUB_RETRIEVE_END, 1001, ta, 3, "2");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 4, "2"), 3);
    expect(h, 0, HUB_RETRIEVE_ACK, 1001, ta, 102, "<bob>p3");
    hub_close(h);
}

/* ------------------------------------------------------------ logout, timeout, reset */

static void test_logout(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta;

    (void)state;
    ta = login_as(h, "alice", 1);
    request(h, "alice", ta, HUB_LOGOUT, 9, "", HUB_LOGOUT_ACK);
    assert_int_equal(session_state(h->t, ta), SESSION_OFFLINE);
    assert_int_equal(counters(h)->online, 0);
    assert_int_equal(dgram(h, 1001, HUB_SUBSCRIBE, ta, 10, "bob"), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1001, ta, 10, NULL);
    /* The ack was lost: the logout again gets it again, for a while. */
    h->now += RETX_SPAN_NS - 1;
    request(h, "alice", ta, HUB_LOGOUT, 9, "", HUB_LOGOUT_ACK);
    assert_int_equal(dgram(h, 1001, HUB_LOGOUT, ta, 8, ""), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1001, ta, 8, NULL);
    h->now += 1;
    assert_int_equal(dgram(h, 1001, HUB_LOGOUT, ta, 9, ""), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1001, ta, 9, NULL);
    assert_int_equal(session_deadline(h->t), INT64_MAX);
    /* A course client's logout (msg_id 0) is not one to repeat. */
    ta = login_as(h, "alice", 0);
    request(h, "alice", ta, HUB_LOGOUT, 0, "", HUB_LOGOUT_ACK);
    assert_int_equal(dgram(h, 1001, HUB_LOGOUT, ta, 0, ""), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1001, ta, 0, NULL);
    hub_close(h);
}

/* Silent for the timeout: reset, token dead. Keepalives and any other
 * datagram count as activity; a course session gets no 0x8E. */
static void test_session_timeout(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 0);
    h->now = T0 + S(30);
    assert_int_equal(dgram(h, 1001, HUB_KEEPALIVE, ta, 0, ""), 1);
    expect(h, 0, HUB_KEEPALIVE_ACK, 1001, ta, 0, NULL);
    h->now = T0 + S(31);
    assert_int_equal(dgram(h, 1002, HUB_KEEPALIVE, tb, 0, ""), 0);
    assert_int_equal(session_deadline(h->t), T0 + S(90));
    assert_int_equal(tick(h, T0 + S(90) - 1), 0);
    assert_int_equal(tick(h, T0 + S(90)), 1);
    expect(h, 0, HUB_RESET, 1001, ta, 0, NULL);
    assert_int_equal(session_state(h->t, tb), SESSION_ONLINE);
    assert_int_equal(tick(h, T0 + S(91)), 1);
    expect(h, 0, HUB_RESET, 1002, tb, 0, NULL);
    assert_int_equal(session_state(h->t, ta), SESSION_OFFLINE);
    assert_int_equal(counters(h)->online, 0);
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 2, "1"), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1001, ta, 2, NULL);
    assert_int_equal(session_deadline(h->t), INT64_MAX);
    /* A datagram that comes after the timeout, before the timer ran: the
     * session is over all the same (and the least room an outbox may
     * have holds both answers). */
    ta = login_as(h, "alice", 2);
    h->now += SESSION_TIMEOUT_NS;
    h->out.cap = SESSION_OUTBOX_MIN;
    assert_int_equal(dgram(h, 1001, HUB_KEEPALIVE, ta, 0, ""), 2);
    expect(h, 0, HUB_RESET, 1001, ta, 0, NULL);
    expect(h, 1, HUB_MUST_LOGIN, 1001, ta, 0, NULL);
    /* The same for the same login again: a new session, not the old. */
    h->out.cap = BOX;
    ta = login_as(h, "alice", 3);
    h->now += SESSION_TIMEOUT_NS;
    h->out.cap = SESSION_OUTBOX_MIN;
    assert_int_equal(dgram(h, 1001, HUB_LOGIN, 0, 3, "alice&pa"), 2);
    expect(h, 0, HUB_RESET, 1001, ta, 0, NULL);
    expect(h, 1, HUB_LOGIN_OK, 1001, h->out.v[1].token, 3, NULL);
    assert_int_not_equal(h->out.v[1].token, ta);
    hub_close(h);
}

/* A client's reset ends its session, unanswered. */
static void test_reset_from_client(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2, "x"), 2);
    assert_int_equal(dgram(h, 1002, HUB_RESET, tb, 0, ""), 0);
    assert_int_equal(session_state(h->t, tb), SESSION_OFFLINE);
    assert_int_equal(counters(h)->resets_received, 1);
    assert_int_equal(counters(h)->resets_sent, 0);
    assert_string_equal(ended.id, "bob"); /* said, for the log */
    assert_string_equal(ended.why, "reset by the client");
    assert_int_equal(tick(h, T0 + S(1)), 0); /* the forward went with it */
    assert_int_equal(dgram(h, 1002, HUB_KEEPALIVE, tb, 0, ""), 1);
    expect(h, 0, HUB_MUST_LOGIN, 1002, tb, 0, NULL);
    hub_close(h);
}

/* Out of order: a server's opcode, an unknown one: reset, OFFLINE. */
static void test_out_of_order(void **state)
{
    static const uint8_t ops[] = {HUB_LOGIN_OK, HUB_FORWARD, HUB_MUST_LOGIN, 0xFF,
                                  0x55,         0x01,        HUB_FILE_ACK};
    struct hub *h = hub_new();

    (void)state;
    for (size_t i = 0; i < sizeof(ops); i++) {
        uint32_t ta = login_as(h, "alice", (uint32_t)i + 1);

        assert_int_equal(dgram(h, 1001, ops[i], ta, 7, ""), 1);
        expect(h, 0, HUB_RESET, 1001, ta, 7, NULL);
        assert_int_equal(session_state(h->t, ta), SESSION_OFFLINE);
    }
    assert_int_equal(counters(h)->resets_sent, sizeof(ops));
    assert_int_equal(counters(h)->online, 0);
    assert_int_equal(ended.n, sizeof(ops));
    assert_string_equal(ended.why, "out of order: an opcode this session cannot take now");
    hub_close(h);
}

/* ------------------------------------------------------------ payloads */

/* Over 200 bytes: 0xF1 with the reason, or a reset for a course session.
 * The trailing newline does not count. */
static void test_long_post(void **state)
{
    struct hub *h = hub_new();
    uint8_t text[HUBWIRE_POST_MAX + 3];
    uint32_t ta, tb;

    (void)state;
    memset(text, 'x', sizeof(text));
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 0);
    assert_int_equal(dgram_n(h, 1001, HUB_POST, ta, 1, text, HUBWIRE_POST_MAX + 1), 1);
    expect(h, 0, HUB_ERROR, 1001, ta, 1, "post longer than 200 bytes");
    assert_int_equal(session_state(h->t, ta), SESSION_ONLINE);
    assert_int_equal(dgram_n(h, 1002, HUB_POST, tb, 0, text, HUBWIRE_POST_MAX + 1), 1);
    expect(h, 0, HUB_RESET, 1002, tb, 0, NULL);
    assert_int_equal(session_state(h->t, tb), SESSION_OFFLINE);
    assert_int_equal(db.post_calls, 0);
    text[HUBWIRE_POST_MAX] = '\r';
    text[HUBWIRE_POST_MAX + 1] = '\n';
    assert_int_equal(dgram_n(h, 1001, HUB_POST, ta, 2, text, HUBWIRE_POST_MAX + 2), 1);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 2, "100");
    assert_int_equal(strlen(db.posts[0].text), HUBWIRE_POST_MAX);
    /* A NUL byte would not come back from the store: refused. */
    assert_int_equal(dgram_n(h, 1001, HUB_POST, ta, 3, "a\0b", 3), 1);
    expect(h, 0, HUB_ERROR, 1001, ta, 3, "post holds a NUL byte");
    hub_close(h);
}

/* One trailing "\n" or "\r\n" comes off every payload, no more. */
static void test_newline_stripping(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    assert_int_equal(dgram(h, 1001, HUB_LOGIN, 0, 1, "alice&pa\n"), 1);
    expect(h, 0, HUB_LOGIN_OK, 1001, h->out.v[0].token, 1, NULL);
    ta = h->out.v[0].token;
    assert_int_equal(dgram(h, 1002, HUB_LOGIN, 0, 1, "bob&pb\r\n"), 1);
    tb = h->out.v[0].token;
    expect(h, 0, HUB_LOGIN_OK, 1002, tb, 1, NULL);
    assert_int_equal(dgram(h, 1003, HUB_LOGIN, 0, 1, "carol&pc\n\n"), 1);
    expect(h, 0, HUB_LOGIN_FAILED, 1003, 0, 1, NULL);
    request(h, "bob", tb, HUB_SUBSCRIBE, 1, "alice\r\n", HUB_SUBSCRIBE_OK);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 1, "hi\n"), 2);
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID, "<alice>hi");
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2, "two\n\n"), 2);
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID + 1, "<alice>two\n");
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 3, "cr\r"), 2);
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID + 2, "<alice>cr\r");
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 4, "\n"), 2); /* empty */
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID + 3, "<alice>");
    assert_string_equal(db.posts[0].text, "hi");
    assert_string_equal(db.posts[1].text, "two\n");
    assert_int_equal(dgram(h, 1002, HUB_RETRIEVE, tb, 2, "1\r\n"), 2);
    expect(h, 0, HUB_RETRIEVE_ACK, 1002, tb, FIRST_ID + 3, "<alice>");
    request(h, "bob", tb, HUB_UNSUBSCRIBE, 3, "alice\n", HUB_UNSUBSCRIBE_OK);
    hub_close(h);
}

/* ------------------------------------------------------------ the rest */

/* A datagram with the right token from elsewhere moves the session. */
static void test_address_move(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    follow(h, "bob", tb, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 2, "one"), 2);
    expect(h, 1, HUB_FORWARD, 1002, tb, FIRST_ID, "<alice>one");
    assert_int_equal(dgram(h, 3002, HUB_KEEPALIVE, tb, 0, ""), 1);
    expect(h, 0, HUB_KEEPALIVE_ACK, 3002, tb, 0, NULL);
    assert_int_equal(tick(h, T0 + RETX_FIRST_NS), 1); /* the retransmission follows */
    expect(h, 0, HUB_FORWARD, 3002, tb, FIRST_ID, "<alice>one");
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 3, "two"), 2);
    expect(h, 1, HUB_FORWARD, 3002, tb, FIRST_ID + 1, "<alice>two");
    /* A token that is not live moves nothing. */
    assert_int_equal(dgram(h, 4002, HUB_KEEPALIVE, tb + 1, 0, ""), 1);
    expect(h, 0, HUB_MUST_LOGIN, 4002, tb + 1, 0, NULL);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 4, "three"), 2);
    expect(h, 1, HUB_FORWARD, 3002, tb, FIRST_ID + 2, "<alice>three");
    hub_close(h);
}

/* 0x7F: a spurious post ack with --hub-test-hooks, else out of order. */
static void test_test_hook(void **state)
{
    struct hub *h = hub_open(true, 0);
    uint32_t ta;

    (void)state;
    ta = login_as(h, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_TEST_HOOK, ta, 3, ""), 1);
    expect(h, 0, HUB_POST_ACK, 1001, ta, 3, NULL);
    assert_int_equal(session_state(h->t, ta), SESSION_ONLINE);
    assert_int_equal(db.post_calls, 0);
    hub_close(h);
    h = hub_new();
    ta = login_as(h, "alice", 1);
    assert_int_equal(dgram(h, 1001, HUB_TEST_HOOK, ta, 3, ""), 1);
    expect(h, 0, HUB_RESET, 1001, ta, 3, NULL);
    assert_int_equal(session_state(h->t, ta), SESSION_OFFLINE);
    hub_close(h);
}

/* The store failing: each request's failed ack, or a refusal. */
static void test_store_failure(void **state)
{
    struct hub *h = hub_new();
    uint32_t ta, tb;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 0);
    db.fail = true;
    assert_int_equal(dgram(h, 1003, HUB_LOGIN, 0, 1, "carol&pc"), 1);
    expect(h, 0, HUB_LOGIN_FAILED, 1003, 0, 1, NULL);
    request(h, "alice", ta, HUB_SUBSCRIBE, 1, "bob", HUB_SUBSCRIBE_FAILED);
    request(h, "alice", ta, HUB_UNSUBSCRIBE, 2, "bob", HUB_UNSUBSCRIBE_FAILED);
    assert_int_equal(dgram(h, 1001, HUB_POST, ta, 3, "x"), 1);
    expect(h, 0, HUB_ERROR, 1001, ta, 3, "storage error");
    assert_int_equal(dgram(h, 1001, HUB_RETRIEVE, ta, 4, "3"), 1);
    expect(h, 0, HUB_ERROR, 1001, ta, 4, "storage error");
    assert_int_equal(session_state(h->t, ta), SESSION_ONLINE);
    assert_int_equal(dgram(h, 1002, HUB_RETRIEVE, tb, 0, "3"), 1); /* course: reset */
    expect(h, 0, HUB_RESET, 1002, tb, 0, NULL);
    assert_int_equal(counters(h)->posts, 0);
    hub_close(h);
}

/* A secure envelope on the plain wire is dropped; the caller's drops
 * count too. */
static void test_rejected(void **state)
{
    struct hub *h = hub_new();
    struct session_addr from = addr(1001);
    struct hubwire_msg m = {
        .op = HUB_LOGIN, .len = 8, .payload = (const uint8_t *)"alice&pa", .secure = true};

    (void)state;
    h->out.n = 0;
    assert_int_equal(session_input(h->t, &m, &from, h->now, &h->out), 0);
    assert_int_equal(h->out.n, 0);
    session_count_rejected(h->t);
    assert_int_equal(counters(h)->rejected, 2);
    assert_int_equal(counters(h)->online, 0);
    hub_close(h);
}

static void test_id_valid(void **state)
{
    (void)state;
    assert_true(hubwire_id_valid("a", 1));
    assert_true(hubwire_id_valid("client_A9", 9));
    assert_true(hubwire_id_valid(LONG_ID32, 32));
    assert_false(hubwire_id_valid(LONG_ID33, 33));
    assert_false(hubwire_id_valid("", 0));
    assert_false(hubwire_id_valid("a b", 3));
    assert_false(hubwire_id_valid("a\0b", 3));
    assert_false(hubwire_id_valid("a.b", 3));
    assert_false(hubwire_id_valid("\xc3\xa9", 2));
}

/* A file announcement: a post "file NAME SIZE SHA" for retrieve, a file
 * notification 0xB2 to a follower, acked by 0x32 only; a course follower
 * gets it as a forward; never the publisher herself. */
static void test_announce(void **state)
{
    struct hub *h = hub_new();
    const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    char want[256];
    uint32_t ta, tb, tc, msg_id = 0;

    (void)state;
    ta = login_as(h, "alice", 1);
    tb = login_as(h, "bob", 1);
    tc = login_as(h, "carol", 0); /* a course session */
    follow(h, "bob", tb, "alice", 1);
    fake_subscribe(&db, "carol", "alice");
    fake_subscribe(&db, "alice", "alice");
    h->out.n = 0;
    assert_int_equal(session_announce(h->t, "alice", "a.txt", 4, sha, h->now, &h->out, &msg_id), 0);
    assert_int_equal(msg_id, FIRST_ID);
    assert_int_equal(h->out.n, 2);
    snprintf(want, sizeof(want), "<alice>a.txt 4 %s", sha);
    expect(h, 0, HUB_FILE_NOTE, 1002, tb, FIRST_ID, want);
    snprintf(want, sizeof(want), "<alice>file a.txt 4 %s", sha);
    expect(h, 1, HUB_FORWARD, 1003, tc, FIRST_ID, want);
    snprintf(want, sizeof(want), "file a.txt 4 %s", sha);
    assert_string_equal(db.posts[0].text, want);
    assert_int_equal(counters(h)->posts, 1);
    /* A course session's end of retrieve stays empty, as the course has it. */
    assert_int_equal(dgram(h, 1003, HUB_RETRIEVE, tc, 0, "1"), 2);
    expect(h, 1, HUB_RETRIEVE_END, 1003, tc, 0, NULL);
    /* Not unacked as a forward: that ack is out of order. */
    assert_int_equal(dgram(h, 1002, HUB_FILE_ACK, tb, FIRST_ID, ""), 0);
    assert_int_equal(session_state(h->t, tb), SESSION_ONLINE);
    assert_int_equal(dgram(h, 1003, HUB_FILE_ACK, tc, FIRST_ID, ""), 1);
    expect(h, 0, HUB_RESET, 1003, tc, FIRST_ID, NULL);
    (void)ta;
    /* A name over 100 bytes is refused, nothing stored. */
    memset(want, 'n', 101);
    want[101] = '\0';
    assert_int_equal(session_announce(h->t, "alice", want, 4, sha, h->now, &h->out, &msg_id),
                     -ENAMETOOLONG);
    assert_int_equal(db.nposts, 1);
    hub_close(h);
}

static void test_params(void **state)
{
    struct session_params p;

    (void)state;
    session_params_default(&p);
    assert_int_equal(p.timeout_ns, S(60));
    assert_false(p.test_hooks);
    p.max_sessions = 0;
    errno = 0;
    assert_null(session_table_new(&p, &fake_store, fake_rand));
    assert_int_equal(errno, EINVAL);
    session_table_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_ok),
        cmocka_unit_test(test_login_failed),
        cmocka_unit_test(test_login_duplicate),
        cmocka_unit_test(test_login_replaces),
        cmocka_unit_test(test_token_unique),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_must_login_first),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_post_forwards_online_only),
        cmocka_unit_test(test_forward_schedule_and_loss),
        cmocka_unit_test(test_forward_ack),
        cmocka_unit_test(test_requests_while_forwarding),
        cmocka_unit_test(test_window_full),
        cmocka_unit_test(test_fanout_beyond_outbox),
        cmocka_unit_test(test_duplicate_request),
        cmocka_unit_test(test_msg_id_zero),
        cmocka_unit_test(test_retrieve),
        cmocka_unit_test(test_retrieve_duplicate),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_session_timeout),
        cmocka_unit_test(test_reset_from_client),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_long_post),
        cmocka_unit_test(test_newline_stripping),
        cmocka_unit_test(test_address_move),
        cmocka_unit_test(test_test_hook),
        cmocka_unit_test(test_store_failure),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_announce),
        cmocka_unit_test(test_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
