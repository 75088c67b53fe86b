/*
 * hubcli_wire: how `ferry hub` turns a decoded datagram into bytes and
 * back, behind one small seam so that the secure wire (issue 10: a MAC
 * and AEAD under a per-session key) can replace the plain one without
 * touching the client's state machine (hubcli.c) or its loop (hub.c).
 *
 * The state machine only ever sees struct hubwire_msg with a plaintext
 * payload; a wire encodes what it sends and decodes (and authenticates)
 * what comes in. The plain wire is common/hubwire.c as it is.
 */
#ifndef FERRY_CLIENT_HUBCLI_WIRE_H
#define FERRY_CLIENT_HUBCLI_WIRE_H

#include "common/hubwire.h"

#include <stddef.h>
#include <stdint.h>

struct hubcli_wire {
    const char *name; /* "plain", for messages */
    void *ctx;        /* the wire's own state (keys, counters), or NULL */
    /* Writes m, a plaintext message, into out (HUBWIRE_MAX bytes).
     * Returns the datagram's length, or -errno. */
    int (*encode)(void *ctx, const struct hubwire_msg *m, uint8_t *out);
    /* Reads the n bytes of a received datagram at p into m; p may be
     * rewritten in place (decryption) and m->payload points into it.
     * Returns 0, or -EBADMSG for a datagram to drop unanswered: not ours,
     * the other wire's form, or (secure) forged or replayed. */
    int (*decode)(void *ctx, uint8_t *p, size_t n, struct hubwire_msg *m);
    /* Frees ctx; NULL when there is nothing to free. */
    void (*free)(void *ctx);
};

/* Fills w with the plain wire (`--hub-wire plain`). Returns 0. */
int hubcli_wire_plain(struct hubcli_wire *w);

/* Frees what w holds; w may be zeroed or filled. */
void hubcli_wire_free(struct hubcli_wire *w);

#endif
