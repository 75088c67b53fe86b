/*
 * hubipc: how a worker serving a native PUT (an upload that announces a
 * file, docs/HUB.md "Files") talks to the hub process on the same host.
 *
 * The master makes one AF_UNIX SOCK_DGRAM socket pair before it forks
 * anything: the hub reads the one end, every worker holds the other. No
 * name in the file system or the abstract namespace: only ferryd's own
 * processes can reach the hub this way.
 *
 * An upload is one conversation: the worker makes a SOCK_SEQPACKET pair,
 * sends one end to the hub over the shared socket (SCM_RIGHTS), keeps the
 * other, and asks its questions there, each answered by one reply:
 *   AUTH     before any content is read: is this token a live session,
 *            whose, and may it replace a file of this name?
 *   VERIFY   after the content: on the secure wire, is the MAC right?
 *   ANNOUNCE once the file is in place: record it, tell the followers.
 * Replies from the hub go only to the worker that asked. When the hub is
 * down, the shared socket's queue fills or nobody answers: the worker
 * waits HUBIPC_TIMEOUT_MS at most, then answers the client SERVER_ERROR.
 *
 * Both ends are the same ferryd binary, so messages are plain structs;
 * sizes are checked on receipt all the same.
 */
#ifndef FERRY_HUBIPC_H
#define FERRY_HUBIPC_H

#include "common/hubwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBIPC_NAME_MAX   100 /* a file an upload announces: its name, bytes */
#define HUBIPC_SHA256     32
#define HUBIPC_MAC        32 /* hubsec_upload_mac() */
#define HUBIPC_TIMEOUT_MS 2000

enum hubipc_op {
    HUBIPC_AUTH = 1,
    HUBIPC_VERIFY = 2,
    HUBIPC_ANNOUNCE = 3,
    /* From the master, not a worker: the account name (in name) was
     * removed or its password changed; its live session ends. Sent with
     * hubipc_tell(), unanswered. */
    HUBIPC_KICK = 4,
};

struct hubipc_req {
    uint8_t op;
    uint32_t token;
    uint64_t size;
    char name[HUBIPC_NAME_MAX + 1];
    uint8_t sha256[HUBIPC_SHA256]; /* VERIFY, ANNOUNCE */
    uint8_t mac[HUBIPC_MAC];       /* VERIFY */
    uint64_t dev, ino;             /* ANNOUNCE: the file as placed */
};

/* What a reply says: the native status to answer with (enum
 * wire_status's values: OK, ACCESS_DENIED, UNAUTHORIZED, SERVER_ERROR). */
struct hubipc_rep {
    uint8_t status;
    bool secure;      /* AUTH: the session is on the secure wire: a MAC follows the content */
    bool may_replace; /* AUTH: a file of that name exists as this publisher's upload */
    char publisher[HUBWIRE_ID_MAX + 1];
    /* AUTH, with may_replace: the file that upload placed. Another file
     * there now (an operator's) is not the publisher's to replace. */
    uint64_t dev, ino;
};

/* Worker side. Opens a conversation through the shared socket: returns
 * its descriptor (the caller closes it), or -errno. */
int hubipc_open(int shared);

/* Sends req on the conversation fd and waits for the reply, timeout_ms
 * at most. 0, or -errno (-ETIMEDOUT, -EPIPE when the hub went away,
 * -EBADMSG for a reply of the wrong size). */
int hubipc_call(int fd, const struct hubipc_req *req, struct hubipc_rep *rep, int timeout_ms);

/* Opens a conversation, sends req on it and closes it without waiting:
 * for the master, whose loop must not wait on the hub. 0 or -errno. */
int hubipc_tell(int shared, const struct hubipc_req *req);

/* Hub side. Takes one conversation from the shared socket (non-blocking):
 * returns its descriptor, -EAGAIN when none waits, or -errno. */
int hubipc_accept(int shared);

/* Reads one request from conversation fd (non-blocking): 0, -EAGAIN,
 * -EPIPE at its end, -EBADMSG for a malformed one. */
int hubipc_recv(int fd, struct hubipc_req *req);

/* Sends the reply. 0 or -errno. */
int hubipc_reply(int fd, const struct hubipc_rep *rep);

#endif
