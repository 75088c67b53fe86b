/*
 * uploads: the hub's side of a worker's conversation about an upload. See
 * uploads.h.
 */
#include "worker/hub/uploads.h"

#include "common/clock.h"
#include "common/hubipc.h"
#include "common/log.h"
#include "common/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One conversation: what its AUTH said, and where it stands. */
struct upload {
    uv_poll_t poll;
    int fd;
    struct uploads *u;
    unsigned at;         /* its place in u->conv */
    enum hubipc_op next; /* the question it may ask now */
    struct hubipc_req auth;
    char publisher[STORE_ID_MAX + 1];
    uint8_t mac[HUBIPC_MAC]; /* VERIFY's: taken at ANNOUNCE (secure wire) */
};

struct uploads {
    struct uploads_deps d;
    uv_poll_t accept;
    struct upload *conv[UPLOADS_MAX]; /* NULL: a free place */
    unsigned live;                    /* conversations open */
    bool stopping;                    /* the struct goes with the last handle */
    unsigned closing;                 /* handles whose close callback is still to come */
};

static void uploads_free_if_done(struct uploads *u)
{
    if (u->stopping && u->closing == 0)
        free(u);
}

static void upload_closed(uv_handle_t *h)
{
    struct upload *up = h->data;
    struct uploads *u = up->u;

    close(up->fd);
    u->conv[up->at] = NULL;
    free(up);
    u->live--;
    u->closing--;
    uploads_free_if_done(u);
}

static void upload_end(struct upload *up)
{
    if (uv_is_closing((uv_handle_t *)&up->poll))
        return;
    up->u->closing++;
    uv_close((uv_handle_t *)&up->poll, upload_closed);
}

/* AUTH: the token's session, and whether the name is its own upload. */
static uint8_t upload_auth(struct upload *up, const struct hubipc_req *q, struct hubipc_rep *r)
{
    struct uploads *u = up->u;
    const char *user = session_user(u->d.sessions, q->token, clock_now_ns());
    char owner[STORE_ID_MAX + 1];
    int rc;

    if (user == NULL)
        return WIRE_UNAUTHORIZED;
    snprintf(up->publisher, sizeof(up->publisher), "%s", user);
    rc = store_file_owner(u->d.store, q->name, owner, &r->dev, &r->ino);
    if (rc < 0 && rc != -ENOENT)
        return WIRE_SERVER_ERROR;
    r->may_replace = rc == 0 && strcmp(owner, up->publisher) == 0;
    r->secure = u->d.secure != NULL;
    snprintf(r->publisher, sizeof(r->publisher), "%s", up->publisher);
    up->auth = *q;
    return WIRE_OK;
}

/* True when q is about what the AUTH was, by the same live session. */
static bool upload_same(const struct upload *up, const struct hubipc_req *q)
{
    const char *user = session_user(up->u->d.sessions, q->token, clock_now_ns());

    return q->token == up->auth.token && q->size == up->auth.size &&
           strcmp(q->name, up->auth.name) == 0 && user != NULL && strcmp(user, up->publisher) == 0;
}

/* VERIFY: the session still lives; on the secure wire, the MAC is its. */
static uint8_t upload_verify(struct upload *up, const struct hubipc_req *q)
{
    const struct uploads *u = up->u;

    if (!upload_same(up, q))
        return WIRE_UNAUTHORIZED;
    if (u->d.secure != NULL &&
        secure_upload_check(u->d.secure, q->token, q->name, q->size, q->sha256, q->mac) < 0)
        return WIRE_UNAUTHORIZED;
    memcpy(up->mac, q->mac, sizeof(up->mac));
    return WIRE_OK;
}

/* ANNOUNCE: recorded as the publisher's, then told to the followers. */
static uint8_t upload_announce(struct upload *up, const struct hubipc_req *q)
{
    struct uploads *u = up->u;
    char hex[2 * 32 + 1];
    uint32_t msg_id;
    int rc;
    struct store_file f = {.name = q->name,
                           .publisher = up->publisher,
                           .size = q->size,
                           .sha256 = q->sha256,
                           .dev = q->dev,
                           .ino = q->ino};

    if (!upload_same(up, q))
        return WIRE_UNAUTHORIZED;
    if ((rc = store_file_put(u->d.store, &f, time(NULL))) < 0) {
        log_warn("hub: cannot record the upload of %s by %s: %s", q->name, up->publisher,
                 rc == -EIO ? store_error(u->d.store) : strerror(-rc));
        return WIRE_SERVER_ERROR;
    }
    /* Taken before it is announced: a replay of this PUT is refused even
     * if the announcement below fails. */
    if (u->d.secure != NULL && secure_upload_taken(u->d.secure, q->token, up->mac) < 0)
        return WIRE_SERVER_ERROR;
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", q->sha256[i]);
    rc = session_announce(u->d.sessions, up->publisher, q->name, q->size, hex, clock_now_ns(),
                          u->d.outbox, &msg_id);
    u->d.after(u->d.ctx);
    if (rc < 0) {
        log_warn("hub: cannot announce %s by %s: %s", q->name, up->publisher, strerror(-rc));
        return WIRE_SERVER_ERROR;
    }
    log_info("hub: %s uploaded %s (%llu bytes), announced as post %u", up->publisher, q->name,
             (unsigned long long)q->size, msg_id);
    return WIRE_OK;
}

/* KICK, from the master: the account's live session ends. */
static void upload_kick(struct upload *up, const struct hubipc_req *q)
{
    struct uploads *u = up->u;

    if (hubwire_id_valid(q->name, strlen(q->name)) &&
        session_kick(u->d.sessions, q->name, clock_now_ns(), u->d.outbox,
                     "its account was removed or its password changed"))
        u->d.after(u->d.ctx);
}

/* Answers one question; false when the conversation is over. */
static bool upload_answer(struct upload *up, const struct hubipc_req *q)
{
    struct hubipc_rep r = {.status = WIRE_BAD_REQUEST};

    if (q->op == HUBIPC_KICK && up->next == HUBIPC_AUTH) {
        upload_kick(up, q); /* the master does not wait for an answer */
        return false;
    }

    if (q->op == up->next) {
        switch (q->op) {
        case HUBIPC_AUTH:
            r.status = upload_auth(up, q, &r);
            break;
        case HUBIPC_VERIFY:
            r.status = upload_verify(up, q);
            break;
        case HUBIPC_ANNOUNCE:
            r.status = upload_announce(up, q);
            break;
        }
    }
    if (hubipc_reply(up->fd, &r) < 0 || r.status != WIRE_OK || q->op == HUBIPC_ANNOUNCE)
        return false;
    up->next = q->op + 1;
    return true;
}

static void upload_on_readable(uv_poll_t *p, int status, int events)
{
    struct upload *up = p->data;
    struct hubipc_req q;
    int rc;

    (void)events;
    if (status < 0) {
        upload_end(up);
        return;
    }
    while ((rc = hubipc_recv(up->fd, &q)) == 0) {
        if (!upload_answer(up, &q)) {
            upload_end(up);
            return;
        }
    }
    if (rc != -EAGAIN)
        upload_end(up); /* the worker is done, or it sent nonsense */
}

/* Takes one conversation. A hub at UPLOADS_MAX closes it at once: the
 * worker sees it end and answers SERVER_ERROR. */
static void uploads_take(struct uploads *u, int fd)
{
    struct upload *up;
    unsigned at = 0;

    while (at < UPLOADS_MAX && u->conv[at] != NULL)
        at++;
    if (at == UPLOADS_MAX || (up = calloc(1, sizeof(*up))) == NULL) {
        close(fd);
        return;
    }
    up->fd = fd;
    up->u = u;
    up->at = at;
    up->next = HUBIPC_AUTH;
    if (uv_poll_init(u->d.loop, &up->poll, fd) < 0) {
        close(fd);
        free(up);
        return;
    }
    u->live++;
    u->conv[at] = up;
    up->poll.data = up;
    uv_poll_start(&up->poll, UV_READABLE, upload_on_readable);
}

static void uploads_on_accept(uv_poll_t *p, int status, int events)
{
    struct uploads *u = p->data;
    int fd;

    (void)status, (void)events;
    while ((fd = hubipc_accept(u->d.ipc_fd)) >= 0 || fd == -EBADMSG)
        if (fd >= 0)
            uploads_take(u, fd);
}

struct uploads *uploads_start(const struct uploads_deps *d)
{
    struct uploads *u = calloc(1, sizeof(*u));

    if (u == NULL)
        return NULL;
    u->d = *d;
    if (uv_poll_init(d->loop, &u->accept, d->ipc_fd) < 0) {
        free(u);
        errno = EBADF;
        return NULL;
    }
    u->accept.data = u;
    uv_poll_start(&u->accept, UV_READABLE, uploads_on_accept);
    return u;
}

static void uploads_accept_closed(uv_handle_t *h)
{
    struct uploads *u = h->data;

    u->closing--;
    uploads_free_if_done(u);
}

void uploads_stop(struct uploads *u)
{
    if (u == NULL)
        return;
    u->stopping = true;
    u->closing++;
    uv_close((uv_handle_t *)&u->accept, uploads_accept_closed);
    for (unsigned i = 0; i < UPLOADS_MAX; i++)
        if (u->conv[i] != NULL)
            upload_end(u->conv[i]);
}
