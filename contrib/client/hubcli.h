/*
 * hubcli: the state machine of `ferry hub`, the hub's interactive client
 * (docs/HUB.md, "Client"). Pure: it reads no clock, does no I/O and
 * never prints by itself; the loop (hub.c) feeds it the user's lines,
 * the decoded datagrams and the monotonic time, and it answers through
 * struct hubcli_io: datagrams to send (decoded: the wire, hubcli_wire.h,
 * encodes them), lines for stdout, complaints for stderr, and the few
 * things only the loop can do (the secure wire's handshake steps, an
 * upload, a download).
 *
 * States: OFFLINE, LOGIN_SENT, ONLINE, and one X_SENT per request while
 * it awaits its answer. One request is in flight at a time; lines that
 * come meanwhile wait in a bounded queue and are taken in order, each
 * once the one before is answered (state# and the refusals too, so that
 * a script's output follows its lines). A request's msg_id is the
 * session's sequence number (1, 2, ...; a login carries a random nonce);
 * it is sent again at 0.5, 1.5, 3.5, 7.5, 11.5, 15.5 and 19.5 s, and
 * after 8 sends without an answer (23.5 s) the hub is declared
 * unreachable. On the secure wire a login is two steps, each with that
 * back-off: the HELLO until the hub's CHALLENGE, then the PROOF until its
 * answer.
 */
#ifndef FERRY_CLIENT_HUBCLI_H
#define FERRY_CLIENT_HUBCLI_H

#include "common/hubwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBCLI_LINE_MAX  4096 /* a line of input; a longer one is refused */
#define HUBCLI_QUEUE_MAX 64   /* lines waiting for the one in flight */
#define HUBCLI_FIRST_NS  500000000LL
#define HUBCLI_CAP_NS    4000000000LL
#define HUBCLI_TRIES     8
#define HUBCLI_WHY_MAX   2048 /* a message the loop leaves for stderr */

enum hubcli_state {
    HUBCLI_OFFLINE,
    HUBCLI_LOGIN_SENT,
    HUBCLI_ONLINE,
    HUBCLI_POST_SENT,
    HUBCLI_SUBSCRIBE_SENT,
    HUBCLI_UNSUBSCRIBE_SENT,
    HUBCLI_RETRIEVE_SENT,
    HUBCLI_LOGOUT_SENT,
};

/* What an upload (postfile#) came to. */
enum hubcli_upload {
    HUBCLI_UP_OK,      /* stored, and announced to the followers */
    HUBCLI_UP_FAILED,  /* the server refused it, or the transfer failed */
    HUBCLI_UP_REFUSED, /* not sent: the path is no regular file we can read */
};

/* What the machine asks of its loop. Nothing given is kept after a call
 * returns. A call that may leave a message for stderr gets why (room:
 * HUBCLI_WHY_MAX bytes, "" on entry); the machine says it. */
struct hubcli_io {
    void *ctx;
    /* Sends one datagram, m decoded, plaintext. A failure is the loop's to
     * note: to the machine the datagram is lost, and retransmission (or
     * the next keepalive) covers it. */
    void (*send)(void *ctx, const struct hubwire_msg *m);
    /* One line for stdout (the course's output), without its newline. */
    void (*print)(void *ctx, const char *line);
    /* One complaint for stderr (a line refused, a message outside the
     * state machine), without "ferry: " or a newline. */
    void (*warn)(void *ctx, const char *msg);

    /* The secure wire's login (docs/HUB.md, "Login: three datagrams");
     * all three NULL on the plain wire, whose login is one datagram.
     * hello: a fresh handshake for id under nonce; writes the HELLO's
     * payload and returns its length, or -errno. challenge: the hub's
     * CHALLENGE m (in clear, its msg_id the nonce) and the password;
     * checks the hub's signature and its key against the pin, and writes
     * the PROOF's payload; returns its length, or -EBADMSG for a
     * challenge to drop (forged or malformed: the HELLO goes on),
     * -EKEYREJECTED when the hub's key is not the pinned one (no PROOF
     * leaves), or another -errno (the login fails). login_end: the login
     * is over, ok or not. */
    int (*hello)(void *ctx, const char *id, uint32_t nonce, uint8_t *payload);
    int (*challenge)(void *ctx, const struct hubwire_msg *m, const void *password, size_t len,
                     uint8_t *proof, char *why);
    void (*login_end)(void *ctx, bool ok);

    /* postfile#: uploads the file at path, under name (its basename,
     * checked already), for the session token. Returns an enum
     * hubcli_upload. It may take a while: the machine waits. */
    int (*upload)(void *ctx, const char *path, const char *name, uint32_t token, char *why);

    /* --auto-fetch: downloads the file a notification announced and
     * checks its SHA-256. Returns 0, or -1 (nothing kept). NULL: a
     * notification is only printed. It may take a while: the machine
     * waits. */
    int (*fetch)(void *ctx, const char *name, uint64_t size, const uint8_t sha256[32], char *why);
};

struct hubcli_params {
    int64_t keepalive_ns; /* logged in, a keepalive after this long without sending */
    /* Draws a uniformly random 32-bit value (the login nonce): 0 or -errno. */
    int (*rnd)(uint32_t *out);
};

struct hubcli;

/* Makes a client, OFFLINE. io and p are copied. Returns it, or NULL with
 * errno set (ENOMEM). */
struct hubcli *hubcli_new(const struct hubcli_params *p, const struct hubcli_io *io);

/* Frees c (the password of a login in flight is wiped); NULL is allowed. */
void hubcli_free(struct hubcli *c);

/* Takes one line the user typed (len bytes, no newline; longer than
 * HUBCLI_LINE_MAX: refused in its turn), at now: handled at once when
 * nothing is in flight, else queued. Returns 0, or -ENOBUFS when
 * HUBCLI_QUEUE_MAX lines wait already (nothing taken: stop reading). */
int hubcli_line(struct hubcli *c, const char *line, size_t len, int64_t now);

/* True when hubcli_line() would take a line now without -ENOBUFS. */
bool hubcli_can_take(const struct hubcli *c);

/* Takes one decoded datagram from the hub at now. */
void hubcli_input(struct hubcli *c, const struct hubwire_msg *m, int64_t now);

/* Does what is due at now: retransmissions, the verdict that the hub is
 * unreachable, keepalives. */
void hubcli_tick(struct hubcli *c, int64_t now);

/* When hubcli_tick() has work next; INT64_MAX when never. */
int64_t hubcli_deadline(const struct hubcli *c);

/* True when nothing is in flight and no line waits. */
bool hubcli_idle(const struct hubcli *c);

/* Stdin has ended: from now on a verdict that the hub is unreachable
 * also gives up the lines still waiting, rather than send each to a hub
 * that does not answer (23.5 s apiece). */
void hubcli_eof(struct hubcli *c);

/* Lines given up that way so far. */
unsigned hubcli_given_up(const struct hubcli *c);

enum hubcli_state hubcli_state(const struct hubcli *c);

/* "OFFLINE", "LOGIN_SENT", ... as state# prints it. */
const char *hubcli_state_name(enum hubcli_state s);

#endif
