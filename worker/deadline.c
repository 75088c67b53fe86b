/*
 * deadline: the intrusive min-heap of connection deadlines. See deadline.h.
 *
 * The sifts move a hole rather than swapping pairs: each step writes one
 * slot and one pos, and the moving node is written once, at the end.
 * Comparisons are strict where a node would move, so an equal deadline
 * stops a sift early: ties cost nothing and keep no particular order.
 */
#include "worker/deadline.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

int dl_init(struct dl_heap *h, uint32_t cap)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
    if (cap == 0)
        return 0;
    h->v = calloc(cap, sizeof(*h->v));
    if (h->v == NULL)
        return -ENOMEM;
    h->cap = cap;
    return 0;
}

void dl_free(struct dl_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void dl_node_init(struct dl_node *n)
{
    n->at = 0;
    n->pos = DL_NONE;
}

bool dl_queued(const struct dl_node *n)
{
    return n->pos != DL_NONE;
}

struct dl_node *dl_min(const struct dl_heap *h)
{
    return h->n > 0 ? h->v[0] : NULL;
}

/* Puts n in slot i. */
static void dl_place(struct dl_heap *h, struct dl_node *n, uint32_t i)
{
    h->v[i] = n;
    n->pos = i;
}

/* Settles n, bound for hole i, towards the root. */
static void dl_up(struct dl_heap *h, struct dl_node *n, uint32_t i)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;

        if (h->v[parent]->at <= n->at)
            break;
        dl_place(h, h->v[parent], i);
        i = parent;
    }
    dl_place(h, n, i);
}

/* Settles n, bound for hole i, towards the leaves. */
static void dl_down(struct dl_heap *h, struct dl_node *n, uint32_t i)
{
    for (;;) {
        /* 64 bits: 2i + 2 overflows 32 when cap is near UINT32_MAX. */
        uint64_t c = 2 * (uint64_t)i + 1;

        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
            c++;
        if (n->at <= h->v[c]->at)
            break;
        dl_place(h, h->v[c], i);
        i = (uint32_t)c;
    }
    dl_place(h, n, i);
}

/* Restores order after n, at slot i, went from deadline old to n->at. */
static void dl_fix(struct dl_heap *h, struct dl_node *n, uint32_t i, int64_t old)
{
    if (n->at < old)
        dl_up(h, n, i);
    else
        dl_down(h, n, i);
}

int dl_set(struct dl_heap *h, struct dl_node *n, int64_t at)
{
    int64_t old = n->at;

    if (dl_queued(n)) {
        assert(n->pos < h->n && h->v[n->pos] == n); /* queued in this heap */
        n->at = at;
        dl_fix(h, n, n->pos, old);
        return 0;
    }
    if (h->n == h->cap)
        return -ENOSPC;
    n->at = at;
    dl_up(h, n, h->n++);
    return 0;
}

void dl_remove(struct dl_heap *h, struct dl_node *n)
{
    uint32_t i = n->pos;
    struct dl_node *last;

    if (!dl_queued(n))
        return;
    assert(i < h->n && h->v[i] == n); /* queued in this heap */
    n->pos = DL_NONE;
    last = h->v[--h->n];
    h->v[h->n] = NULL;
    /* The last node fills the hole; it may belong above or below it. */
    if (last != n)
        dl_fix(h, last, i, n->at);
}

struct dl_node *dl_pop_due(struct dl_heap *h, int64_t now)
{
    struct dl_node *m = dl_min(h);

    if (m == NULL || m->at > now)
        return NULL;
    dl_remove(h, m);
    return m;
}
