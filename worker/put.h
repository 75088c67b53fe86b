/*
 * put: the native PUT (docs/PROTOCOL.md section 8), by which a user logged
 * in to the hub uploads a file that the hub then announces to followers.
 *
 * Not a handler of its own: the native handler (native.c) reads the
 * request, hands a PUT to these steps, and answers what they come to with
 * its FILE_RESPONSE, so a PUT runs in every mode through the same
 * connection state machine as GET. The steps:
 *   put_start    the name and size checked, the hub asked (AUTH), the
 *                temporary file made in the served directory;
 *   put_input    content bytes written to it and hashed (SHA-256), then
 *                the MAC on the secure wire; once all are in: the hub
 *                asked (VERIFY), the file synced, renamed into place, the
 *                directory synced, the hub told (ANNOUNCE);
 *   put_expired  the client stalled (--io-timeout) or is below --min-rate;
 *   put_finish   the connection closes: whatever the upload still holds
 *                is released, its temporary file unlinked.
 * The temporary file is `.ferry-put-` and 16 random hex digits: the
 * tree's own prefix (worker/tree.h, TREE_OWN_PREFIX), which no protocol
 * serves or lists, --serve-hidden or not. It is created mode 0 besides,
 * so that no process but root opens it while it is written, and made 0644
 * just before it is renamed. No outcome but OK leaves anything in the
 * directory.
 *
 * The questions to the hub block, HUBIPC_TIMEOUT_MS at most each. In the
 * event mode that holds every connection of the worker for as long, which
 * is acceptable: the hub is a local process that answers from memory, and
 * uploads are rare. Waiting for it without blocking would need a second
 * descriptor per connection in the drivers, which the handler model
 * (one socket per connection) does not have.
 */
#ifndef FERRY_PUT_H
#define FERRY_PUT_H

#include "common/hubipc.h"
#include "common/wire.h"
#include "worker/conn.h"
#include "worker/tree.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define PUT_TEMP_PREFIX TREE_OWN_PREFIX /* hidden by the tree, whatever its flags */
#define PUT_TEMP_LEN    (sizeof(PUT_TEMP_PREFIX) - 1 + 16)

/* What a step comes to when it is not a status to answer (a wire_status,
 * >= 0, whose size field is put_state.answer_size). */
#define PUT_READ (-1) /* more bytes wanted: c->read_deadline is set */
#define PUT_GONE (-2) /* the connection ends unanswered: conn_trouble() said why */

enum put_phase {
    PUT_NONE,    /* no upload under way */
    PUT_CONTENT, /* reading the content into the temporary file */
    PUT_MAC,     /* reading the MAC (the secure wire) */
    PUT_ALL_IN,  /* every byte in: to verify, place and announce */
    PUT_OVER,    /* answered, or cut: nothing held any more */
};

struct put_state {
    enum put_phase phase;
    /* What the upload holds; each descriptor meaningful only with its flag
     * (a zeroed state holds nothing). */
    bool has_file, has_temp, has_hub;
    int file; /* the temporary file, open for writing */
    int hub;  /* the conversation with the hub */
    char temp[PUT_TEMP_LEN + 1];
    bool secure;          /* AUTH: a MAC follows the content */
    bool may_replace;     /* AUTH: the name may be an earlier upload of this publisher */
    bool placed;          /* the file is in place under a name it did not replace */
    dev_t dev;            /* the file's, to remove only it if the announcement fails */
    ino_t ino;            /* "" */
    struct hubipc_req q;  /* token, size, name; the digest and MAC once known */
    uint64_t left;        /* content bytes still to come */
    size_t mac_len;       /* MAC bytes received */
    uint64_t received;    /* content and MAC bytes received */
    int64_t stall_at;     /* --io-timeout: no byte since, and the upload is cut then */
    int64_t window_end;   /* --min-rate: the window ends then (0: none) */
    uint64_t window_from; /* received when it began */
    uint64_t answer_size; /* the answer's size field */
    crypto_hash_sha256_state sha;
};

/* Starts the PUT req (its header and name; req->name points into c->in
 * and is copied). Returns PUT_READ when the content is wanted (the caller
 * then consumes the request's bytes and calls put_input() for those that
 * followed it), or the status to answer. */
int put_start(struct conn *c, struct put_state *st, const struct wire_request *req, int64_t now);

/* Takes the content and MAC bytes in c->in (consumed; bytes after them
 * stay). Returns PUT_READ, PUT_GONE (the client closed before the end) or
 * the status to answer, WIRE_OK once the file is in place and announced. */
int put_input(struct conn *c, struct put_state *st, int64_t now);

/* The read deadline passed. Returns PUT_READ (a --min-rate window met: the
 * next one begins) or PUT_GONE (the client stalled or is too slow). */
int put_expired(struct conn *c, struct put_state *st, int64_t now);

/* Releases what the upload holds: its temporary file unlinked (relative
 * to dirfd), descriptors closed. Safe on a zeroed state, and twice. */
void put_finish(struct put_state *st, int dirfd);

/* True when the len bytes at name are the name of an upload's temporary
 * file (what put_sweep() may remove; the tree hides it from every
 * protocol). */
bool put_temp_name(const void *name, size_t len);

/* Removes the temporary files of uploads a killed worker left behind in
 * the served directory dirfd: those not written to for more than
 * max_age_s seconds at now (a live upload is cut sooner, by
 * --io-timeout). Returns how many, or -errno when the directory cannot
 * be read. */
int put_sweep(int dirfd, int64_t max_age_s, time_t now);

#endif
