/*
 * session: the hub's sessions (issue 10, docs/HUB.md) as one pure state
 * machine over all of them, plain wire (`--hub-wire plain`).
 *
 * The caller (the hub process's loop, or a test) feeds it each decoded
 * datagram with its source address and the monotonic time, and calls
 * session_tick() once session_deadline() has come; both append the
 * datagrams to send to the caller's outbox. It never reads the clock,
 * does no I/O and never logs; accounts, subscriptions and posts live
 * behind struct session_store, tokens come from the caller's random
 * source. Not thread-safe: one table belongs to one loop.
 *
 * A session is ONLINE, or MESSAGE_FORWARD while forwards it was sent are
 * unacked; OFFLINE is no session at all (its token is dead and any
 * datagram but a login with it is answered must-login-first). A client's
 * reset ends its session; out of order (a server-only or unknown opcode,
 * a forward ack for nothing outstanding), inactivity for the timeout and
 * a forward unacked after RETX_TRIES sends (retx.h) end it with a reset
 * from the hub.
 *
 * Choices the issue leaves to the implementation:
 * - Requests and their acks. A request's msg_id is the client's sequence
 *   number and every answer to it echoes it, 0xF1 included. The post ack
 *   0xB0 therefore cannot carry the post's own msg_id in its header: its
 *   payload holds it in decimal ("42"), the number forwards and retrieve
 *   acks carry for that post. A course session (login nonce 0) gets an
 *   empty 0xB0, as the course protocol has it.
 * - Duplicates: one request in flight per session (the client waits for
 *   each ack), so the window is one. The answer to the last sequence
 *   number is kept and re-sent, unchanged, when that number comes again;
 *   a lower number is a late copy of an answered request and is dropped;
 *   msg_id 0 is always a new request. A post is stored and forwarded
 *   once. A retrieve is answered again from the store limited to the
 *   msg_id of the newest post it answered, so the same posts come back
 *   even when newer ones were made since. A logged-out token stays
 *   reserved for RETX_SPAN_NS and answers a repeated logout again with
 *   0x8F, so that a client whose logout ack was lost does not read
 *   must-login-first (unless a login needs its record: a full table
 *   gives the oldest such record to the login). Forward acks: an ack for one of the RETX_RECENT
 *   msg_ids acked last is a duplicate, ignored, not out of order.
 * - Logins: the password is checked before anything else, the repeated
 *   login too. A user has one session: a login with another nonce, or
 *   from another address, ends the old one silently (no reset: it may be
 *   the same client's socket) and its unacked forwards are dropped.
 * - Tokens are drawn from the random source until one is non-zero and
 *   held by no session, live or logged out; a source that fails, or gives
 *   SESSION_TOKEN_TRIES taken values in a row, fails the login (0x81).
 * - Refusals without an ack of their own (a post over 200 bytes or with
 *   a NUL byte, a retrieve count that is no number, a store failure on
 *   post or retrieve) are 0xF1 with the reason as payload; a course
 *   session is reset instead. A store failure on login or (un)subscribe
 *   is that request's failed ack.
 * - A forward that finds its follower's window full (RETX_WINDOW) loses
 *   that session (reset), as an unacked forward does: its client learns
 *   it missed posts, which stay retrievable.
 * - Retrieve answers at most SESSION_RETRIEVE_MAX posts.
 * - An outbox that fills up stops the work of session_tick(): what was
 *   not sent stays due, and session_deadline() says now.
 */
#ifndef FERRY_SESSION_H
#define FERRY_SESSION_H

#include "common/hubwire.h"
#include "worker/hub/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SESSION_TIMEOUT_NS   60000000000LL /* --hub-session-timeout's default */
#define SESSION_MAX          4096          /* sessions, live and logged out */
#define SESSION_RETRIEVE_MAX 100           /* posts one retrieve answers */
#define SESSION_TOKEN_TRIES  16
/* An outbox must have this much room when session_input() is called:
 * every answer to one datagram fits. */
#define SESSION_OUTBOX_MIN (SESSION_RETRIEVE_MAX + 1)

enum session_state { SESSION_OFFLINE, SESSION_ONLINE, SESSION_FORWARD };

/* A peer's address, opaque here: compared byte by byte over len, so the
 * caller zeroes it before recvfrom() fills it; via names the caller's
 * socket it came through (answers leave through the same one, so that
 * their source is the address the client wrote to). */
struct session_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    uint8_t via;
};

/* True when a and b are one address, reached through one socket. */
bool session_addr_equal(const struct session_addr *a, const struct session_addr *b);

/* What the sessions ask of the durable state (worker/hub/store.h is the
 * SQLite one). Every function gets ctx first and returns 0 (or a count)
 * or -errno; the codes named are answers, any other a failure of the
 * store. Ids are valid ([A-Za-z0-9_]{1,32}) and NUL-terminated; nothing
 * given is kept after the call returns. */
struct session_store {
    void *ctx;
    /* 0 when id is an account whose password is these len bytes; -EACCES
     * when not. */
    int (*check_password)(void *ctx, const char *id, const uint8_t *password, size_t len);
    /* 0; -EEXIST already following; -ENOENT no such publisher. */
    int (*subscribe)(void *ctx, const char *follower, const char *publisher);
    /* 0; -ENOENT follower did not follow publisher. */
    int (*unsubscribe)(void *ctx, const char *follower, const char *publisher);
    /* Stores the post, committed before it returns; 0 with *msg_id set,
     * non-zero and greater than every earlier one. */
    int (*post)(void *ctx, const char *publisher, const char *text, size_t len, uint32_t *msg_id);
    /* The n most recent posts with msg_id <= upto of the users user
     * follows now (never user's own), newest first, into out (room for
     * n), text NUL-terminated. Returns how many. */
    int (*recent)(void *ctx, const char *user, uint32_t upto, unsigned n, struct store_post *out);
    /* Calls fn(follower, arg) for each follower of publisher (fn returns
     * 0). Returns 0. */
    int (*followers)(void *ctx, const char *publisher, int (*fn)(const char *follower, void *arg),
                     void *arg);
};

/* A source of uniformly random 32-bit values: 0 or -errno. */
typedef int (*session_rand_fn)(uint32_t *out);

struct session_params {
    int64_t timeout_ns;    /* inactivity that ends a session */
    uint32_t max_sessions; /* records, live and logged out */
    bool test_hooks;       /* answer 0x7F with a spurious 0xB0 (--hub-test-hooks) */
    /* Called (when not NULL) as a session ends for a reason worth a log
     * line (out of order, a client's reset, the timeout, lost, replaced;
     * not a logout): the user, the token and why. */
    void (*ended)(void *ctx, const char *id, uint32_t token, const char *why);
    /* Called (when not NULL) as a session's record is freed and its token
     * may be drawn again: live or logged out, whatever the reason. What
     * the caller keeps by token (the secure wire's keys) goes then; the
     * datagrams already in an outbox for that token are still to send. */
    void (*released)(void *ctx, uint32_t token);
    void *ctx;
};

/* One datagram to send, decoded; session_out_msg() makes it encodable. */
struct session_out {
    struct session_addr to;
    uint8_t op, len;
    uint32_t token, msg_id;
    uint8_t payload[HUBWIRE_PAYLOAD_MAX];
};

/* The caller's array of datagrams to send: the table appends at v[n]. */
struct session_outbox {
    struct session_out *v;
    size_t n, cap;
};

/* The hub's figures for the metrics. All but online only ever grow. */
struct session_counters {
    uint64_t online;          /* live sessions now */
    uint64_t posts;           /* stored */
    uint64_t forwards;        /* first sends of a forward */
    uint64_t retransmissions; /* later sends */
    uint64_t duplicates;      /* requests, logins and acks seen again */
    uint64_t resets_sent;
    uint64_t resets_received; /* that ended a session */
    uint64_t rejected;        /* dropped unanswered */
};

struct session_table;

/* Fills p with the defaults: 60 s, SESSION_MAX sessions, no test hooks. */
void session_params_default(struct session_params *p);

/* Makes an empty table. st is copied (its ctx must outlive the table),
 * rnd draws the tokens. Returns it, or NULL with errno set (EINVAL for
 * max_sessions 0 or a timeout below 1 ns, ENOMEM). */
struct session_table *session_table_new(const struct session_params *p,
                                        const struct session_store *st, session_rand_fn rnd);

/* Frees the table and everything in it; NULL is allowed. */
void session_table_free(struct session_table *t);

/* Takes one datagram m from `from` at now and appends its answers, then
 * whatever became due (first forwards included), to out. Returns 0, or
 * -ENOBUFS (nothing done) when out has less than SESSION_OUTBOX_MIN free. */
int session_input(struct session_table *t, const struct hubwire_msg *m,
                  const struct session_addr *from, int64_t now, struct session_outbox *out);

/*
 * A login whose user the caller has proven itself (the secure wire's
 * handshake, worker/hub/secure.h): the rules of a plain login after its
 * password check. Appends the ack (0x80 with the token, or 0x81) to out
 * and sets *token to the session's (0 when it failed). Returns 0, or
 * -ENOBUFS (nothing done) as session_input() does.
 */
int session_login_proven(struct session_table *t, const char *id, uint32_t nonce,
                         const struct session_addr *from, int64_t now, struct session_outbox *out,
                         uint32_t *token);

#define SESSION_FILE_NAME_MAX 100 /* an announced file's name, bytes */

/*
 * A file publisher uploaded (docs/HUB.md "Files"): stored as publisher's
 * post "file NAME SIZE SHA256HEX" (so that a retrieve returns it), then
 * sent to each online follower as a file notification 0xB2,
 * "<publisher>NAME SIZE SHA256HEX", acked by 0x32 and retransmitted like
 * a forward; a course session gets it as an ordinary forward of the
 * post. Appends what is due to out (session_tick()). Sets *msg_id to the
 * post's. Returns 0, -ENAMETOOLONG (name over SESSION_FILE_NAME_MAX), or
 * the store's -errno.
 */
int session_announce(struct session_table *t, const char *publisher, const char *name,
                     uint64_t size, const char *sha256_hex, int64_t now, struct session_outbox *out,
                     uint32_t *msg_id);

/* Ends id's live session with a reset (appended to out) and tells the
 * ended hook why: its account was removed or its password changed.
 * Returns whether there was one. */
bool session_kick(struct session_table *t, const char *id, int64_t now, struct session_outbox *out,
                  const char *why);

/* Does what is due at now (retransmissions, timeouts, lost sessions) as
 * far as out has room, appending the datagrams to out. */
void session_tick(struct session_table *t, int64_t now, struct session_outbox *out);

/* When session_tick() has work next; INT64_MAX when never. */
int64_t session_deadline(const struct session_table *t);

/* Counts a datagram the caller dropped before session_input() (one that
 * hubwire_parse() refused). */
void session_count_rejected(struct session_table *t);

/* The table's counters, live; valid as long as the table. */
const struct session_counters *session_counters(const struct session_table *t);

/* The state of the session whose token is token (OFFLINE when none). */
enum session_state session_state(const struct session_table *t, uint32_t token);

/* The address of the live session whose token is token, or NULL when it
 * is no live session at now. */
const struct session_addr *session_peer(const struct session_table *t, uint32_t token, int64_t now);

/* The user of the live session whose token is token, or NULL; valid
 * until the next call that changes the table. */
const char *session_user(const struct session_table *t, uint32_t token, int64_t now);

/* Points m at o's header and payload, plain, for hubwire_encode(). */
void session_out_msg(const struct session_out *o, struct hubwire_msg *m);

#endif
