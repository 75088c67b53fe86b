/*
 * hubfan_client: the sessions of ferry-hub-bench. See hubfan.h.
 *
 * One epoll loop over N connected UDP sockets, level-triggered, one
 * datagram taken per ready socket and turn (a follower has one forward
 * at a time: no recv() that finds nothing). Every step in flight (a
 * handshake step, u0's post, a drain mark) is sent again at 0.5, 1, 2,
 * 4, 4... s, 8 sends at most, as the hub and `ferry hub` do.
 */
#include "hubfan.h"

#include "common/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HF_TICK_NS 10000000LL /* retransmissions are looked for this often */

volatile sig_atomic_t hf_stop;
#define HF_EVENTS 256

/* ------------------------------------------------------------ sending */

/* Sends op to the peer; sealed (the baseline: the sealed size, a zero
 * tag) when sealed and the wire is secure. */
static void hf_send(struct hf_bench *b, struct hf_sess *s, uint8_t op, uint32_t msg_id,
                    const void *payload, size_t len, bool sealed, int64_t now)
{
    uint8_t buf[HUBWIRE_MAX], tag[HUBWIRE_TAG] = {0};
    uint32_t token = op == HUB_LOGIN || op == HUB_LOGIN_PROOF ? 0 : s->token;
    struct hubwire_msg m = {
        .op = op, .len = (uint8_t)len, .token = token, .msg_id = msg_id, .payload = payload};
    size_t n;

    if (sealed && b->secure && b->crypto) {
        n = hubsec_seal(&s->keys, HUBSEC_TO_HUB, &m, buf);
    } else {
        if (sealed && b->secure) {
            m.secure = true;
            m.seq = ++s->keys.tx_seq;
            m.tag = tag;
        }
        n = hubwire_encode(buf, &m);
    }
    s->last_tx = now;
    b->c.sent++;
    if (send(s->fd, buf, n, 0) != (ssize_t)n)
        b->c.send_err++;
}

/* The first send of a step: its back-off starts. */
static void hf_arm(struct hf_sess *s, int64_t now)
{
    s->tries = 1;
    s->rto = HF_RTO_NS;
    s->due = now + s->rto;
}

static void hf_hello_send(struct hf_bench *b, struct hf_sess *s, int64_t now)
{
    uint8_t p[HUBWIRE_PAYLOAD_MAX];
    int n;

    if (b->secure) {
        hf_send(b, s, HUB_LOGIN, s->nonce, p, hubsec_hello_encode(p, &s->hello), false, now);
        return;
    }
    n = snprintf((char *)p, sizeof(p), "%s&%s", s->hello.id, b->password);
    hf_send(b, s, HUB_LOGIN, s->nonce, p, (size_t)n, false, now);
}

/* u0's request in flight: the post of the round, or a drain mark. */
static void hf_pending_send(struct hf_bench *b, struct hf_sess *s, int64_t now)
{
    size_t skip = 4; /* the line without "<u0>" is the post's text */

    if (s->pending == HUB_POST)
        hf_send(b, s, HUB_POST, s->pend_id, b->line + skip, b->line_len - skip, true, now);
    else
        hf_send(b, s, HUB_KEEPALIVE, s->pend_id, NULL, 0, true, now);
}

static void hf_request(struct hf_bench *b, struct hf_sess *s, uint8_t op, uint32_t id, int64_t now)
{
    s->pending = op;
    s->pend_id = id;
    hf_pending_send(b, s, now);
    hf_arm(s, now);
    if (op == HUB_KEEPALIVE) { /* a mark: sent again soon, it times the acks */
        s->rto = HF_MARK_RTO_NS;
        s->due = now + s->rto;
    }
}

/* ------------------------------------------------------------ logins */

static void hf_login_end(struct hf_bench *b, struct hf_sess *s, bool ok)
{
    s->state = ok ? HF_ONLINE : HF_FAILED;
    s->due = 0;
    sodium_memzero(s->eph_sk, sizeof(s->eph_sk));
    b->inflight--;
    if (ok)
        b->online++;
    else
        b->c.login_fail++;
}

static void hf_login_start(struct hf_bench *b, unsigned i, int64_t now)
{
    struct hf_sess *s = &b->s[i];

    snprintf(s->hello.id, sizeof(s->hello.id), "u%u", i);
    do
        randombytes_buf(&s->nonce, sizeof(s->nonce));
    while (s->nonce == 0);
    if (b->secure)
        hubsec_ephemeral(s->hello.eph, s->eph_sk);
    s->state = HF_HELLO;
    b->inflight++;
    hf_hello_send(b, s, now);
    hf_arm(s, now);
}

/* The account key for salt: all accounts share one, derived once. */
static int hf_account_key(struct hf_bench *b, const uint8_t salt[HUBSEC_SALT])
{
    int64_t t = clock_now_ns();

    if (b->have_key && memcmp(b->salt, salt, HUBSEC_SALT) == 0)
        return 0;
    if (hubsec_account_key(b->password, strlen(b->password), salt, b->pk, b->sk) < 0)
        return -ENOMEM;
    memcpy(b->salt, salt, HUBSEC_SALT);
    b->have_key = true;
    b->kdf_ns += clock_now_ns() - t;
    return 0;
}

/* The hub's key is pinned by the first challenge; the others must agree. */
static bool hf_hub_key(struct hf_bench *b, const uint8_t pk[HUBSEC_PK])
{
    if (!b->have_hub) {
        memcpy(b->hub_pk, pk, HUBSEC_PK);
        b->have_hub = true;
    }
    return memcmp(b->hub_pk, pk, HUBSEC_PK) == 0;
}

/* A CHALLENGE: the hub's signature checked, the keys made, the PROOF sent. */
static void hf_challenge(struct hf_bench *b, struct hf_sess *s, const struct hubwire_msg *m)
{
    struct hubsec_challenge c;
    uint8_t th[HUBSEC_HASH];

    if (s->state == HF_PROOF && m->msg_id == s->nonce)
        return; /* a copy: our HELLO was sent again */
    if (s->state != HF_HELLO || m->msg_id != s->nonce || m->secure || !b->secure ||
        hubsec_challenge_parse(m->payload, m->len, &c) < 0) {
        b->c.bad++;
        return;
    }
    hubsec_transcript(th, &s->hello, s->nonce, &c);
    if (!hf_hub_key(b, c.hub) || hubsec_verify_hub(c.sig, th, c.hub) < 0 ||
        hubsec_keys_client(&s->keys, s->hello.eph, s->eph_sk, c.eph) < 0 ||
        hf_account_key(b, c.salt) < 0) {
        b->c.bad++;
        hf_login_end(b, s, false);
        return;
    }
    hubsec_sign_client(s->sig, th, b->sk);
    s->state = HF_PROOF;
    hf_send(b, s, HUB_LOGIN_PROOF, s->nonce, s->sig, HUBSEC_SIG, true, clock_now_ns());
    hf_arm(s, clock_now_ns());
}

/* 0x80: the session's token, sealed on the secure wire. */
static void hf_login_ok(struct hf_bench *b, struct hf_sess *s, const struct hubwire_msg *m)
{
    uint8_t plain[HUBWIRE_PAYLOAD_MAX];
    uint8_t want = b->secure ? HF_PROOF : HF_HELLO;

    if (s->state == HF_ONLINE && m->msg_id == s->nonce)
        return; /* a copy: a step was sent again */
    if (s->state != want || m->msg_id != s->nonce || m->secure != b->secure ||
        (b->secure && hubsec_open(&s->keys, HUBSEC_TO_CLIENT, m, plain) < 0)) {
        b->c.bad++;
        return;
    }
    s->token = m->token;
    hf_login_end(b, s, true);
}

static void hf_login_failed(struct hf_bench *b, struct hf_sess *s, const struct hubwire_msg *m)
{
    if ((s->state != HF_HELLO && s->state != HF_PROOF) || m->msg_id != s->nonce) {
        b->c.bad++;
        return;
    }
    hf_login_end(b, s, false);
}

/* ------------------------------------------------------------ a session's datagrams */

/* A forward: acked at once (each copy, as a client does), then counted. */
static void hf_forward(struct hf_bench *b, struct hf_sess *s, const struct hubwire_msg *m,
                       int64_t now)
{
    struct hf_round *r = b->cur;

    hf_send(b, s, HUB_FORWARD_ACK, m->msg_id, NULL, 0, true, now);
    if (r != NULL)
        r->forwards++;
    if (m->msg_id <= s->last_fwd) {
        b->c.fwd_dup++;
        return;
    }
    s->last_fwd = m->msg_id;
    if (r == NULL || s == &b->s[0] || m->len != b->line_len ||
        memcmp(m->payload, b->line, b->line_len) != 0) {
        b->c.fwd_stale++;
        return;
    }
    if (r->delivered++ == 0)
        r->first_ns = now - b->t0;
    r->last_ns = now - b->t0;
}

/* u0's answers: the post ack, the drain mark's keepalive ack. */
static void hf_answer(struct hf_bench *b, struct hf_sess *s, const struct hubwire_msg *m,
                      int64_t now)
{
    uint8_t want = m->op == HUB_POST_ACK ? HUB_POST : HUB_KEEPALIVE;

    if (s->pending != want || m->msg_id != s->pend_id) {
        if (m->op == HUB_POST_ACK && m->msg_id > s->pend_id)
            b->c.bad++; /* an answer to nothing we asked */
        return;         /* a late copy, or a keepalive's ack */
    }
    s->pending = 0;
    s->due = 0;
    if (b->cur != NULL && want == HUB_POST) {
        b->acked = true;
        b->cur->ack_ns = now - b->t0;
    } else if (b->cur != NULL) {
        b->marked = true;
        b->cur->done_ns = now - b->t0;
    }
}

/* A session's end from the peer: reset, or must-login-first. */
static void hf_ended(struct hf_bench *b, struct hf_sess *s)
{
    b->c.resets++;
    if (s->state == HF_ONLINE)
        b->online--;
    s->state = HF_FAILED;
    s->pending = 0;
    s->due = 0;
}

/* Opens m for s in place of its ciphertext (plain: as it is). */
static bool hf_open_msg(struct hf_bench *b, struct hf_sess *s, struct hubwire_msg *m,
                        uint8_t *plain)
{
    if (m->secure != b->secure || m->token != s->token)
        return false;
    if (!b->secure || !b->crypto)
        return true;
    if (hubsec_open(&s->keys, HUBSEC_TO_CLIENT, m, plain) < 0)
        return false;
    m->payload = plain;
    return true;
}

static void hf_online(struct hf_bench *b, struct hf_sess *s, struct hubwire_msg *m, int64_t now)
{
    uint8_t plain[HUBWIRE_PAYLOAD_MAX];

    if (m->op == HUB_MUST_LOGIN && !m->secure && m->token == s->token) {
        hf_ended(b, s); /* in clear: no keys for a token the hub forgot */
        return;
    }
    if (!hf_open_msg(b, s, m, plain)) {
        b->c.bad++;
        return;
    }
    switch (m->op) {
    case HUB_FORWARD:
        hf_forward(b, s, m, now);
        break;
    case HUB_POST_ACK:
    case HUB_KEEPALIVE_ACK:
        hf_answer(b, s, m, now);
        break;
    case HUB_LOGOUT_ACK:
        if (s->pending == HUB_LOGOUT)
            s->pending = 0;
        break;
    case HUB_RESET:
        hf_ended(b, s);
        break;
    default:
        b->c.bad++;
    }
}

static void hf_dispatch(struct hf_bench *b, struct hf_sess *s, struct hubwire_msg *m, int64_t now)
{
    switch (m->op) {
    case HUB_LOGIN_CHALLENGE:
        hf_challenge(b, s, m);
        return;
    case HUB_LOGIN_OK:
        hf_login_ok(b, s, m);
        return;
    case HUB_LOGIN_FAILED:
        hf_login_failed(b, s, m);
        return;
    }
    if (s->state == HF_ONLINE)
        hf_online(b, s, m, now);
    else
        b->c.bad++;
}

/* One datagram from socket i, if one is there. */
static void hf_take(struct hf_bench *b, uint32_t i)
{
    uint8_t buf[HUBWIRE_MAX + 1];
    ssize_t n = recv(b->s[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
    int64_t now = clock_now_ns();
    struct hubwire_msg m;

    if (n < 0)
        return; /* EAGAIN, or an ICMP error: the peer is gone, retransmissions tell */
    b->c.received++;
    if (hubwire_parse(buf, (size_t)n, &m) < 0) {
        b->c.bad++;
        return;
    }
    hf_dispatch(b, &b->s[i], &m, now);
}

/* ------------------------------------------------------------ time */

/* The step in flight of s, due again: sent again, or given up. */
static void hf_again(struct hf_bench *b, struct hf_sess *s, int64_t now)
{
    bool mark = s->state == HF_ONLINE && s->pending == HUB_KEEPALIVE;

    if (s->tries >= (mark ? HF_MARK_TRIES : HF_TRIES)) {
        if (s->state == HF_HELLO || s->state == HF_PROOF)
            hf_login_end(b, s, false);
        s->pending = 0;
        s->due = 0;
        return;
    }
    b->c.retx++;
    s->tries++;
    if (!mark)
        s->rto = s->rto * 2 > HF_RTO_CAP_NS ? HF_RTO_CAP_NS : s->rto * 2;
    s->due = now + s->rto;
    if (s->state == HF_HELLO)
        hf_hello_send(b, s, now);
    else if (s->state == HF_PROOF) /* sealed again: a new seq, never a replay */
        hf_send(b, s, HUB_LOGIN_PROOF, s->nonce, s->sig, HUBSEC_SIG, true, now);
    else if (s->pending != 0)
        hf_pending_send(b, s, now);
}

static void hf_tick(struct hf_bench *b, int64_t now)
{
    if (now < b->next_tick)
        return;
    b->next_tick = now + HF_TICK_NS;
    for (unsigned i = 0; i < b->n; i++) {
        struct hf_sess *s = &b->s[i];

        if (s->due != 0 && now >= s->due)
            hf_again(b, s, now);
        else if (s->state == HF_ONLINE && !b->relay && now - s->last_tx >= HF_KEEPALIVE)
            hf_send(b, s, HUB_KEEPALIVE, 0, NULL, 0, true, now); /* a plain login is slow */
    }
}

/* Waits for datagrams until `until` at most, takes them, then what is
 * due: u0's step (a mark's back-off is short) at once, the others'
 * every HF_TICK_NS. */
static void hf_poll(struct hf_bench *b, int64_t until)
{
    struct epoll_event ev[HF_EVENTS];
    struct hf_sess *u0 = &b->s[0];
    int64_t at = until < b->next_tick ? until : b->next_tick, wait, now;
    int n;

    if (u0->due != 0 && u0->due < at)
        at = u0->due;
    wait = at - clock_now_ns();
    n = epoll_wait(b->ep, ev, HF_EVENTS, wait <= 0 ? 0 : (int)((wait + 999999) / 1000000));
    for (int i = 0; i < n; i++)
        hf_take(b, ev[i].data.u32);
    now = clock_now_ns();
    if (u0->due != 0 && now >= u0->due)
        hf_again(b, u0, now);
    hf_tick(b, now);
}

/* ------------------------------------------------------------ phases */

int hf_open(struct hf_bench *b)
{
    if ((b->s = calloc(b->n, sizeof(*b->s))) == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < b->n; i++)
        b->s[i].fd = -1;
    if ((b->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -errno;
    for (unsigned i = 0; i < b->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0)
            return -errno;
        b->s[i].fd = fd;
        if (connect(fd, (const struct sockaddr *)&b->peer, sizeof(b->peer)) < 0 ||
            epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            return -errno;
    }
    return 0;
}

int hf_repoint(struct hf_bench *b, const struct sockaddr_in *peer)
{
    uint8_t buf[HUBWIRE_MAX + 1];

    b->peer = *peer;
    b->online = 0;
    for (unsigned i = 0; i < b->n; i++) {
        struct hf_sess *s = &b->s[i];
        int fd = s->fd;

        memset(s, 0, sizeof(*s));
        s->fd = fd;
        if (connect(fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0)
            return -errno;
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
            ; /* what the last peer left queued */
        s->state = HF_ONLINE;
        s->token = i + 1;
        b->online++;
    }
    return 0;
}

void hf_close(struct hf_bench *b)
{
    for (unsigned i = 0; b->s != NULL && i < b->n; i++) {
        if (b->s[i].fd >= 0)
            close(b->s[i].fd);
        sodium_memzero(&b->s[i].keys, sizeof(b->s[i].keys));
    }
    if (b->ep >= 0)
        close(b->ep);
    free(b->s);
    b->s = NULL;
    sodium_memzero(b->sk, sizeof(b->sk));
}

unsigned hf_login_all(struct hf_bench *b)
{
    while (clock_now_ns() < b->end_ns && !hf_stop) {
        while (b->inflight < b->window && b->started < b->n)
            hf_login_start(b, b->started++, clock_now_ns());
        if (b->inflight == 0 && b->started == b->n)
            break;
        hf_poll(b, b->end_ns);
    }
    return b->online;
}

/* Post k's text, and the line its forwards carry: "<u0>#k xxx...". */
static void hf_line(struct hf_bench *b, unsigned k)
{
    int n = snprintf(b->line, sizeof(b->line), "<u0>#%u ", k);
    size_t len = 4 + b->text_len;

    if (len > sizeof(b->line) - 1)
        len = sizeof(b->line) - 1;
    if ((size_t)n < len)
        memset(b->line + n, 'x', len - (size_t)n);
    b->line_len = len > (size_t)n ? len : (size_t)n;
    b->line[b->line_len] = '\0';
}

static unsigned hf_followers_online(const struct hf_bench *b)
{
    unsigned n = 0;

    for (unsigned i = 1; i < b->n; i++)
        n += b->s[i].state == HF_ONLINE;
    return n;
}

int hf_round(struct hf_bench *b, unsigned k, struct hf_round *r)
{
    struct hf_sess *u0 = &b->s[0];
    uint64_t base = b->c.sent + b->c.received;
    int64_t end;

    memset(r, 0, sizeof(*r));
    r->expected = hf_followers_online(b);
    hf_line(b, k);
    b->cur = r;
    b->acked = b->marked = false;
    b->t0 = clock_now_ns();
    end = b->t0 + b->round_ns < b->end_ns ? b->t0 + b->round_ns : b->end_ns;
    hf_request(b, u0, HUB_POST, ++u0->seq, b->t0);
    while (!b->marked && u0->state == HF_ONLINE && clock_now_ns() < end && !hf_stop) {
        /* Every forward in, the post acked: the mark follows the acks. */
        if (b->acked && u0->pending == 0 && r->delivered >= r->expected)
            hf_request(b, u0, HUB_KEEPALIVE, HF_MARK_ID + k, clock_now_ns());
        hf_poll(b, end);
    }
    r->dgrams = b->c.sent + b->c.received - base;
    r->elapsed_ns = clock_now_ns() - b->t0;
    b->cur = NULL;
    u0->pending = 0;
    u0->due = 0;
    return b->marked && r->delivered == r->expected ? 0 : -ETIMEDOUT;
}

void hf_settle(struct hf_bench *b, int64_t ns)
{
    int64_t end = clock_now_ns() + ns;

    while (clock_now_ns() < end && !hf_stop)
        hf_poll(b, end);
}

void hf_logout_all(struct hf_bench *b, int64_t ns)
{
    int64_t now = clock_now_ns(), end = now + ns;
    unsigned left = 0;

    for (unsigned i = 0; i < b->n; i++) {
        struct hf_sess *s = &b->s[i];

        if (s->state != HF_ONLINE)
            continue;
        s->pending = HUB_LOGOUT;
        hf_send(b, s, HUB_LOGOUT, ++s->seq, NULL, 0, true, now);
        left++;
    }
    while (left > 0 && clock_now_ns() < end && !hf_stop) {
        hf_poll(b, end);
        left = 0;
        for (unsigned i = 0; i < b->n; i++)
            left += b->s[i].pending == HUB_LOGOUT;
    }
}

void hf_bye(struct hf_bench *b)
{
    hf_send(b, &b->s[0], HUB_RESET, 0, NULL, 0, true, clock_now_ns());
}
