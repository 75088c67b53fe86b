/*
 * uploads: the hub's side of a worker's conversation about an upload
 * (common/hubipc.h, docs/HUB.md "Files"), on the hub's loop.
 *
 * A worker serving a native PUT asks three things, in order, on a
 * conversation of its own:
 *   AUTH     is the token a live session? whose, on which wire, and may it
 *            replace a file of that name (one it uploaded itself)?
 *   VERIFY   the content arrived: on the secure wire, is its MAC the
 *            session's? (On the plain wire only the token is checked again.)
 *   ANNOUNCE the file is in place: record it as the publisher's and tell
 *            the followers (session_announce()).
 * Every answer is a native status. A question out of that order, or for
 * another token, name or size than the AUTH's, is BAD_REQUEST and ends
 * the conversation.
 */
#ifndef FERRY_HUB_UPLOADS_H
#define FERRY_HUB_UPLOADS_H

#include "worker/hub/secure.h"
#include "worker/hub/session.h"
#include "worker/hub/store.h"

#include <uv.h>

#define UPLOADS_MAX 64 /* conversations at once; more are closed at once */

struct uploads_deps {
    uv_loop_t *loop;
    int ipc_fd; /* the hub's end of the channel (hubipc_accept()) */
    struct store *store;
    struct session_table *sessions;
    struct secure *secure;         /* NULL on the plain wire */
    struct session_outbox *outbox; /* where an announcement's first sends go */
    /* Sends the outbox and sets the timer (after an announcement). */
    void (*after)(void *ctx);
    void *ctx;
};

struct uploads;

/* Starts taking conversations. Returns it, or NULL with errno set. */
struct uploads *uploads_start(const struct uploads_deps *d);

/* Closes every handle (the loop then frees them as it runs); the struct
 * goes with the last of them. NULL is allowed. */
void uploads_stop(struct uploads *u);

#endif
