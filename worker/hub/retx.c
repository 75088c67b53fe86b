/*
 * retx: one hub session's unacked datagrams. See retx.h.
 *
 * A plain array in the order added, scanned whole for each question: a
 * session has a handful of forwards outstanding, RETX_WINDOW at the very
 * most, and a scan of a few hundred entries costs less than keeping a
 * second structure in step. Removal keeps the order, so that forwards
 * due at the same time go out in the order their posts were made.
 */
#include "worker/hub/retx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void retx_init(struct retx *r)
{
    memset(r, 0, sizeof(*r));
}

void retx_free(struct retx *r)
{
    free(r->v);
    retx_init(r);
}

int64_t retx_backoff(unsigned tries)
{
    int64_t wait = RETX_FIRST_NS;

    while (tries-- > 1 && wait < RETX_CAP_NS)
        wait *= 2;
    return wait < RETX_CAP_NS ? wait : RETX_CAP_NS;
}

/* The index of the entry for msg_id, or -1. */
static int64_t retx_find(const struct retx *r, uint32_t msg_id)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (r->v[i].msg_id == msg_id)
            return i;
    return -1;
}

/* Makes room for one more entry. Returns 0, -ENOSPC or -ENOMEM. */
static int retx_grow(struct retx *r)
{
    uint32_t cap = r->cap == 0 ? 4 : r->cap * 2;
    struct retx_entry *v;

    if (r->n < r->cap)
        return 0;
    if (r->n >= RETX_WINDOW)
        return -ENOSPC;
    if (cap > RETX_WINDOW)
        cap = RETX_WINDOW;
    v = realloc(r->v, cap * sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    r->v = v;
    r->cap = cap;
    return 0;
}

int retx_add(struct retx *r, uint8_t op, uint32_t msg_id, const uint8_t *payload, uint8_t len,
             int64_t now)
{
    struct retx_entry *e;
    int rc;

    if (retx_find(r, msg_id) >= 0)
        return -EEXIST;
    if ((rc = retx_grow(r)) < 0)
        return rc;
    e = &r->v[r->n++];
    e->due = now;
    e->msg_id = msg_id;
    e->op = op;
    e->len = len;
    e->tries = 0;
    if (len > 0)
        memcpy(e->payload, payload, len);
    return 0;
}

/* Whether msg_id was among the last RETX_RECENT acked. */
static bool retx_recent(const struct retx *r, uint32_t msg_id)
{
    uint32_t n = r->nacked < RETX_RECENT ? r->nacked : RETX_RECENT;

    for (uint32_t i = 0; i < n; i++)
        if (r->recent[i] == msg_id)
            return true;
    return false;
}

enum retx_ack retx_ack(struct retx *r, uint8_t op, uint32_t msg_id)
{
    int64_t i = retx_find(r, msg_id);

    if (i < 0 || r->v[i].op != op)
        return retx_recent(r, msg_id) ? RETX_DUPLICATE : RETX_UNKNOWN;
    memmove(&r->v[i], &r->v[i + 1], (r->n - (uint32_t)i - 1) * sizeof(r->v[0]));
    r->n--;
    r->recent[r->nacked++ % RETX_RECENT] = msg_id;
    return RETX_ACKED;
}

struct retx_entry *retx_due(struct retx *r, int64_t now)
{
    struct retx_entry *first = NULL;

    for (uint32_t i = 0; i < r->n; i++)
        if (r->v[i].due <= now && (first == NULL || r->v[i].due < first->due))
            first = &r->v[i];
    return first;
}

void retx_sent(struct retx_entry *e, int64_t now)
{
    e->tries++;
    e->due = now + retx_backoff(e->tries);
}

int64_t retx_next(const struct retx *r)
{
    int64_t next = INT64_MAX;

    for (uint32_t i = 0; i < r->n; i++)
        if (r->v[i].due < next)
            next = r->v[i].due;
    return next;
}

uint32_t retx_count(const struct retx *r)
{
    return r->n;
}
