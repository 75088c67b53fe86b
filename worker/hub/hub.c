/*
 * hub: the hub's process. See hub.h.
 *
 * On the plain wire a login costs one Argon2id hash (~60 ms) on the
 * loop; on the secure wire the client pays it, and the hub checks one
 * signature.
 */
#include "worker/hub/hub.h"

#include "common/clock.h"
#include "common/hubsec.h"
#include "common/hubwire.h"
#include "common/log.h"
#include "common/rand.h"
#include "worker/hub/secure.h"
#include "worker/hub/session.h"
#include "worker/hub/store.h"
#include "worker/hub/uploads.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <uv.h>

#define HUB_LISTENERS_MAX 16
#define HUB_OUTBOX        (4 * SESSION_OUTBOX_MIN)
#define HUB_RCVBUF        (4 << 20) /* bytes: a fan-out's acks, see hub_rcvbuf() */

struct hub {
    uv_loop_t loop;
    uv_udp_t udp[HUB_LISTENERS_MAX];
    size_t nudp;
    uv_timer_t timer;
    uv_prepare_t figures; /* publishes the session figures (hub_figures_start) */
    uv_poll_t sigpoll;
    int sigfd; /* signalfd: SIGTERM, SIGINT, SIGUSR1 */
    struct store *store;
    struct session_table *sessions;
    struct secure *secure;   /* NULL on the plain wire */
    struct uploads *uploads; /* the workers' questions about uploads */
    struct session_out out[HUB_OUTBOX];
    struct session_outbox outbox;
    uint8_t rx[HUBWIRE_MAX + 1]; /* one byte more: a longer datagram is seen as such */
    const struct hub_config *cfg;
    struct log_rl send_rl; /* sends that failed: said once per interval */
};

int hub_verifier(const uint8_t *password, size_t len, const uint8_t salt[16], uint8_t verifier[32])
{
    uint8_t sk[HUBSEC_SK];
    int rc = hubsec_account_key(password, len, salt, verifier, sk);

    sodium_memzero(sk, sizeof(sk));
    return rc;
}

/* The store as the sessions see it. The plain wire's password check: the
 * key it derives must be the account's. */
static int hub_check_password(void *ctx, const char *id, const uint8_t *password, size_t len)
{
    uint8_t salt[STORE_SALT_LEN], stored[STORE_VERIFIER_LEN], given[STORE_VERIFIER_LEN];
    int rc = store_user_get(ctx, id, salt, stored);

    if (rc == -ENOENT) { /* derived all the same: the time must not tell who exists */
        memset(salt, 0, sizeof(salt));
        hub_verifier(password, len, salt, given);
        return -EACCES;
    }
    if (rc < 0)
        return rc;
    if ((rc = hub_verifier(password, len, salt, given)) < 0)
        return rc;
    return sodium_memcmp(given, stored, sizeof(given)) == 0 ? 0 : -EACCES;
}

/* The secure wire's account lookup: the salt and the public key. */
static int hub_account(void *ctx, const char *id, uint8_t salt[HUBSEC_SALT], uint8_t pk[HUBSEC_PK])
{
    return store_user_get(ctx, id, salt, pk);
}

static int hub_subscribe(void *ctx, const char *follower, const char *publisher)
{
    int rc = store_subscribe(ctx, follower, publisher);

    return rc == -EINVAL ? -EEXIST : rc; /* oneself: refused as a repeat is */
}

static int hub_unsubscribe(void *ctx, const char *follower, const char *publisher)
{
    return store_unsubscribe(ctx, follower, publisher);
}

static int hub_post(void *ctx, const char *publisher, const char *text, size_t len,
                    uint32_t *msg_id)
{
    return store_post(ctx, publisher, text, len, time(NULL), msg_id);
}

static int hub_recent(void *ctx, const char *user, uint32_t upto, unsigned n,
                      struct store_post *out)
{
    return store_recent(ctx, user, upto, n, out);
}

static int hub_followers(void *ctx, const char *publisher,
                         int (*fn)(const char *follower, void *arg), void *arg)
{
    return store_followers(ctx, publisher, fn, arg);
}

/* The sessions' ends worth a line (session.h). */
static void hub_session_ended(void *ctx, const char *id, uint32_t token, const char *why)
{
    (void)ctx;
    log_info("hub: session of %s (token %08x) ended: %s", id, token, why);
}

/* A session's record is gone: its keys go once the outbox is sent. */
static void hub_session_released(void *ctx, uint32_t token)
{
    struct hub *h = ctx;

    if (h->secure != NULL)
        secure_released(h->secure, token);
}

/* Sends what the sessions queued, without waiting: UDP may drop a
 * datagram anyway, and the sessions retransmit what matters. */
static void hub_flush(struct hub *h)
{
    for (size_t i = 0; i < h->outbox.n; i++) {
        const struct session_out *o = &h->outbox.v[i];
        uint8_t buf[HUBWIRE_MAX];
        struct hubwire_msg m;
        uv_buf_t b;
        unsigned missed;
        int rc;

        /* Through the socket the peer wrote to: the source it expects. */
        if (o->to.via >= h->nudp)
            continue;
        if (h->secure != NULL) {
            b = uv_buf_init((char *)buf, (unsigned)secure_seal(h->secure, o, buf));
        } else {
            session_out_msg(o, &m);
            b = uv_buf_init((char *)buf, (unsigned)hubwire_encode(buf, &m));
        }
        rc = uv_udp_try_send(&h->udp[o->to.via], &b, 1, (const struct sockaddr *)&o->to.ss);
        if (rc < 0 && log_rl_allow(&h->send_rl, clock_now_ns(), &missed))
            log_warn("hub: a datagram to a client was not sent: %s (%u more since the last "
                     "report; forwards are sent again, a client asks again for a lost answer)",
                     uv_strerror(rc), missed);
    }
    h->outbox.n = 0;
    if (h->secure != NULL)
        secure_reap(h->secure); /* the last datagrams under released keys are sent */
}

static void hub_on_timer(uv_timer_t *t);

/* Sends what is queued and sets the timer for the sessions' next work. */
static void hub_after(struct hub *h)
{
    int64_t next = session_deadline(h->sessions), now = clock_now_ns();

    hub_flush(h);
    uv_update_time(&h->loop); /* after a login's hash: the timer counts from now */
    sb_turn(h->cfg->slot, now);
    if (next == INT64_MAX) {
        uv_timer_stop(&h->timer);
        return;
    }
    uv_timer_start(&h->timer, hub_on_timer,
                   next > now ? (uint64_t)((next - now + 999999) / 1000000) : 0, 0);
}

static void hub_on_timer(uv_timer_t *t)
{
    struct hub *h = t->data;

    session_tick(h->sessions, clock_now_ns(), &h->outbox);
    hub_after(h);
}

static void hub_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct hub *h = handle->data;

    (void)suggested;
    *buf = uv_buf_init((char *)h->rx, sizeof(h->rx));
}

/* One parsed datagram: through the secure wire first, when it is on. */
static void hub_input(struct hub *h, const struct hubwire_msg *m, const struct session_addr *from)
{
    uint8_t plain_buf[HUBWIRE_PAYLOAD_MAX];
    struct hubwire_msg plain;
    int64_t now = clock_now_ns();

    if (h->secure != NULL) {
        if (secure_input(h->secure, h->sessions, m, from, now, &h->outbox, &plain, plain_buf) !=
            SECURE_PASS)
            return;
        m = &plain;
    }
    /* -ENOBUFS cannot happen: the outbox is flushed after each datagram. */
    session_input(h->sessions, m, from, now, &h->outbox);
}

static void hub_on_datagram(uv_udp_t *udp, ssize_t n, const uv_buf_t *buf,
                            const struct sockaddr *from, unsigned flags)
{
    struct hub *h = udp->data;
    struct session_addr addr;
    struct hubwire_msg m;

    if (n < 0 || from == NULL) /* an error the next read reports, or nothing at all */
        return;
    if ((flags & UV_UDP_PARTIAL) || hubwire_parse((const uint8_t *)buf->base, (size_t)n, &m) < 0) {
        session_count_rejected(h->sessions);
        return;
    }
    memset(&addr, 0, sizeof(addr));
    addr.via = (uint8_t)(udp - h->udp);
    addr.len =
        from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&addr.ss, from, addr.len);
    hub_input(h, &m, &addr);
    hub_after(h);
}

static void hub_close_walk(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

/* Closes every handle, the uploads' first (they free what they hold as
 * they close): the loop then ends. */
static void hub_stop(struct hub *h)
{
    uploads_stop(h->uploads);
    h->uploads = NULL;
    uv_walk(&h->loop, hub_close_walk, NULL);
}

/* A signal came: SIGTERM or SIGINT stop (the sessions' state is durable
 * already: leave), SIGUSR1 (the master's reopen-logs) reopens the log. */
static void hub_on_signal(uv_poll_t *p, int status, int events)
{
    struct hub *h = p->data;
    struct signalfd_siginfo si;

    (void)status, (void)events;
    while (read(h->sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGUSR1 && log_reopen() < 0)
            log_warn("hub: cannot reopen the log file");
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            hub_stop(h);
    }
}

/*
 * The signals the hub acts on come through a signalfd, not libuv's
 * uv_signal_t: libuv's signal machinery is process-wide, set up by the
 * master's loop before the fork, and its descriptors do not survive the
 * fork's closing of every inherited descriptor. They stay blocked (the
 * master blocked them before forking); the others are let in, HUP and
 * USR2 ignored (a restart of the pool's workers, an upgrade of the
 * master: neither is the hub's). Returns 0 or a
 * libuv error.
 */
static int hub_signals(struct hub *h)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR2, SIG_IGN); /* the master's binary upgrade (pkill -USR2 ferryd) */
    sigprocmask(SIG_SETMASK, &set, NULL);
    h->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (h->sigfd < 0)
        return uv_translate_sys_error(errno);
    if (uv_poll_init(&h->loop, &h->sigpoll, h->sigfd) < 0)
        return UV_EINVAL;
    h->sigpoll.data = h;
    return uv_poll_start(&h->sigpoll, UV_READABLE, hub_on_signal);
}

/* Copies the session figures onto the scoreboard, for status and the
 * metrics: just before the loop waits, so once for every batch of
 * datagrams and every tick, whichever path changed them (a rejected
 * datagram's too), and never more than the figures are read. */
static void hub_on_figures(uv_prepare_t *p)
{
    const struct hub *h = p->data;
    const struct session_counters *c = session_counters(h->sessions);
    struct sb_hub f = {.online = c->online,
                       .posts = c->posts,
                       .forwards = c->forwards,
                       .retransmissions = c->retransmissions,
                       .duplicates = c->duplicates,
                       .resets_sent = c->resets_sent,
                       .resets_received = c->resets_received,
                       .rejected = c->rejected};

    sb_hub_publish(h->cfg->figures, &f);
}

/* Starts publishing the figures; the handle alone keeps no loop alive. */
static void hub_figures_start(struct hub *h)
{
    uv_prepare_init(&h->loop, &h->figures);
    h->figures.data = h;
    uv_prepare_start(&h->figures, hub_on_figures);
    uv_unref((uv_handle_t *)&h->figures);
}

/*
 * A fan-out sends up to a whole outbox (HUB_OUTBOX forwards) before the
 * loop reads again, and on loopback the followers' acks arrive while it
 * sends: with the default receive buffer (208 KiB, ~270 datagrams as the
 * kernel counts them) two thirds of a 999-follower fan-out's acks were
 * dropped, and each came back as a retransmission half a second later
 * (docs/BENCHMARKS.md, "Hub fan-out"). The kernel caps the size at
 * net.core.rmem_max without privilege; what it gives is logged.
 */
static void hub_rcvbuf(int fd)
{
    int want = HUB_RCVBUF, got = 0;
    socklen_t len = sizeof(got);

    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0)
        log_warn("hub: cannot size a socket's receive buffer: %s", strerror(errno));
    else if (got < want) /* the kernel reports twice what it was asked for */
        log_info("hub: receive buffer %d KiB, short of the %d KiB asked for (raise "
                 "net.core.rmem_max for large fan-outs)",
                 got / 2048, want / 1024);
}

/* Sets up the loop's handles. Returns 0 or a libuv error. */
static int hub_init(struct hub *h)
{
    int rc;

    uv_timer_init(&h->loop, &h->timer);
    h->timer.data = h;
    hub_figures_start(h);
    if ((rc = hub_signals(h)) < 0)
        return rc;
    for (size_t i = 0; i < h->cfg->nfds && i < HUB_LISTENERS_MAX; i++) {
        uv_udp_t *u = &h->udp[h->nudp++];

        uv_udp_init(&h->loop, u);
        u->data = h;
        if ((rc = uv_udp_open(u, h->cfg->fds[i])) < 0)
            return rc;
        /* libuv sets SO_REUSEADDR on the socket it is given; on UDP that
         * would let another local user bind beside us: cleared again. */
        if (setsockopt(h->cfg->fds[i], SOL_SOCKET, SO_REUSEADDR, &(int){0}, sizeof(int)) < 0)
            return uv_translate_sys_error(errno);
        hub_rcvbuf(h->cfg->fds[i]);
        if ((rc = uv_udp_recv_start(u, hub_alloc, hub_on_datagram)) < 0)
            return rc;
    }
    return 0;
}

/* The secure wire: the hub's key and salt key from the store (made on the
 * first start), and the layer. Logs the public key, which clients pin.
 * Returns 0 or -1 (logged). */
static int hub_secure_start(struct hub *h)
{
    struct secure_params sp = {
        .account = hub_account, .ctx = h->store, .max_sessions = SESSION_MAX};
    uint8_t pk[HUBSEC_PK];
    char hex[2 * HUBSEC_PK + 1];
    int rc;

    if ((rc = store_secret(h->store, "hub_seed", sp.hub_seed, sizeof(sp.hub_seed))) < 0 ||
        (rc = store_secret(h->store, "salt_key", sp.salt_key, sizeof(sp.salt_key))) < 0) {
        log_error("hub: cannot read or make its keys in %s: %s", h->cfg->db_path,
                  rc == -EIO ? store_error(h->store) : strerror(-rc));
        return -1;
    }
    h->secure = secure_new(&sp);
    sodium_memzero(&sp, sizeof(sp));
    if (h->secure == NULL) {
        log_error("hub: cannot start the secure wire: %s", strerror(errno));
        return -1;
    }
    secure_hub_key(h->secure, pk);
    log_info("hub: key ed25519:%s (the secure wire; clients pin it on first use)",
             sodium_bin2hex(hex, sizeof(hex), pk, sizeof(pk)));
    return 0;
}

/* The uploads' callback: what an announcement queued goes out now. */
static void hub_uploads_after(void *ctx)
{
    hub_after(ctx);
}

/* Starts answering the workers' questions about uploads. 0 or -1 (logged). */
static int hub_uploads_start(struct hub *h)
{
    struct uploads_deps d = {.loop = &h->loop,
                             .ipc_fd = h->cfg->ipc_fd,
                             .store = h->store,
                             .sessions = h->sessions,
                             .secure = h->secure,
                             .outbox = &h->outbox,
                             .after = hub_uploads_after,
                             .ctx = h};

    if (h->cfg->ipc_fd < 0)
        return 0;
    if ((h->uploads = uploads_start(&d)) == NULL) {
        log_error("hub: cannot take the workers' uploads: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int hub_run(const struct hub_config *cfg)
{
    struct session_store st = {.check_password = hub_check_password,
                               .subscribe = hub_subscribe,
                               .unsubscribe = hub_unsubscribe,
                               .post = hub_post,
                               .recent = hub_recent,
                               .followers = hub_followers};
    struct session_params sp;
    struct hub *h = calloc(1, sizeof(*h));
    int rc = -1;

    if (h == NULL || sodium_init() < 0 || uv_loop_init(&h->loop) < 0) {
        log_error("hub: cannot start: out of memory, or libsodium cannot start");
        free(h);
        return 1;
    }
    h->cfg = cfg;
    h->sigfd = -1;
    h->outbox = (struct session_outbox){.v = h->out, .cap = HUB_OUTBOX};
    if ((rc = store_open(cfg->db_path, &h->store)) < 0) {
        log_error("hub: cannot open the database %s: %s", cfg->db_path, strerror(-rc));
        goto out;
    }
    st.ctx = h->store;
    session_params_default(&sp);
    sp.timeout_ns = cfg->session_timeout_ns;
    sp.test_hooks = cfg->test_hooks;
    sp.ended = hub_session_ended;
    sp.released = hub_session_released;
    sp.ctx = h;
    if ((h->sessions = session_table_new(&sp, &st, rand_u32)) == NULL) {
        log_error("hub: cannot make the session table: %s", strerror(errno));
        rc = -1;
        goto out;
    }
    if (!cfg->plain && (rc = hub_secure_start(h)) < 0)
        goto out;
    if ((rc = hub_init(h)) < 0) {
        log_error("hub: cannot listen: %s", uv_strerror(rc));
        goto out;
    }
    if ((rc = hub_uploads_start(h)) < 0)
        goto out;
    sb_set_state(cfg->slot, SB_IDLE);
    rc = uv_run(&h->loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    hub_stop(h);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
    if (h->sigfd >= 0)
        close(h->sigfd);
    session_table_free(h->sessions);
    secure_free(h->secure);
    store_close(h->store);
    free(h);
    return rc == 0 ? 0 : 1;
}
