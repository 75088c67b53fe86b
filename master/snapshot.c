/*
 * snapshot: scoreboard snapshots and rate arithmetic. See snapshot.h.
 */
#include "master/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const unsigned snap_windows[SNAP_NWINDOWS] = {1, 10, 60};

int snap_init(struct snapshot *s, uint32_t nslots)
{
    memset(s, 0, sizeof(*s));
    s->nslots = nslots;
    s->live = calloc(nslots, sizeof(*s->live));
    s->live_slot = calloc(nslots, sizeof(*s->live_slot));
    if (s->live == NULL || s->live_slot == NULL) {
        snap_free(s);
        return -ENOMEM;
    }
    return 0;
}

void snap_free(struct snapshot *s)
{
    free(s->live);
    free(s->live_slot);
    s->live = NULL;
    s->live_slot = NULL;
}

int snap_take(const struct scoreboard *sb, struct snapshot *s)
{
    struct sb_slot copy;

    s->taken_ns = clock_now_ns();
    s->taken_unix = time(NULL);
    s->pool = sb->pool;
    s->reaped = sb->reaped;
    s->totals = sb->reaped;
    s->nlive = 0;
    memset(s->by_state, 0, sizeof(s->by_state));
    for (uint32_t i = 0; i < sb->nslots && i < s->nslots; i++) {
        if (sb_read(sb, (int)i, &copy) < 0)
            return -EAGAIN;
        s->by_state[copy.state < SB_STATE_COUNT ? copy.state : 0]++;
        if (copy.state == SB_EMPTY)
            continue;
        sb_counters_add(&s->totals.c, &copy.c);
        s->live_slot[s->nlive] = (int)i;
        s->live[s->nlive++] = copy;
    }
    return 0;
}

int snap_history_init(struct snap_history *h, uint32_t nslots)
{
    memset(h, 0, sizeof(*h));
    h->nslots = nslots;
    h->slots = calloc(nslots, sizeof(*h->slots));
    return h->slots == NULL ? -ENOMEM : 0;
}

void snap_history_free(struct snap_history *h)
{
    free(h->slots);
    h->slots = NULL;
}

/* True when p recorded the transfer w is on: the same worker, connection
 * and request (a persistent connection carries many, each from 0 bytes). */
static bool snap_same_transfer(const struct snap_progress *p, const struct sb_slot *w)
{
    return p->generation == w->generation && p->start_ns == w->t.start_ns &&
           p->requests == w->t.requests;
}

/* Updates the per-slot progress record; a new transfer restarts it. */
static void snap_progress(struct snap_history *h, const struct snapshot *s, uint32_t i)
{
    const struct sb_slot *w = &s->live[i];
    struct snap_progress *p = &h->slots[s->live_slot[i]];
    bool same = snap_same_transfer(p, w);

    p->rate_bps = 0;
    p->measured = same && s->taken_ns > p->ns && w->t.sent >= p->sent;
    if (p->measured)
        p->rate_bps = (double)(w->t.sent - p->sent) * 1e9 / (double)(s->taken_ns - p->ns);
    p->generation = w->generation;
    p->start_ns = w->t.start_ns;
    p->requests = w->t.requests;
    p->sent = w->t.sent;
    p->ns = s->taken_ns;
}

void snap_history_add(struct snap_history *h, const struct snapshot *s)
{
    h->ring[h->head].ns = s->taken_ns;
    h->ring[h->head].requests = s->totals.c.requests;
    h->ring[h->head].bytes = s->totals.c.bytes;
    h->ring[h->head].connections = s->totals.c.connections;
    h->head = (h->head + 1) % SNAP_HISTORY;
    if (h->n < SNAP_HISTORY)
        h->n++;
    for (uint32_t i = 0; i < s->nlive; i++)
        snap_progress(h, s, i);
}

bool snap_rate(const struct snap_history *h, const struct snapshot *s, unsigned window_s,
               double *req_s, double *bytes_s)
{
    int64_t cutoff = s->taken_ns - (int64_t)window_s * 1000000000, dt;
    unsigned at = 0;

    *req_s = *bytes_s = 0;
    if (h->n == 0)
        return false;
    /* The newest sample at least window_s old, else the oldest kept. */
    for (unsigned k = 0; k < h->n; k++) {
        at = (h->head + SNAP_HISTORY - 1 - k) % SNAP_HISTORY;
        if (h->ring[at].ns <= cutoff)
            break;
    }
    dt = s->taken_ns - h->ring[at].ns;
    if (dt <= 0)
        return false;
    *req_s = (double)(s->totals.c.requests - h->ring[at].requests) * 1e9 / (double)dt;
    *bytes_s = (double)(s->totals.c.bytes - h->ring[at].bytes) * 1e9 / (double)dt;
    return true;
}

void snap_transfer_rates(const struct snap_history *h, const struct snapshot *s, uint32_t i,
                         double *rate_bps, double *avg_bps)
{
    const struct sb_slot *w = &s->live[i];
    const struct snap_progress *p = &h->slots[s->live_slot[i]];
    int64_t age = s->taken_ns - w->t.req_ns; /* this request's, on a persistent connection */

    *avg_bps = age > 0 ? (double)w->t.sent * 1e9 / (double)age : 0;
    /* A transfer younger than one sampling interval has only its average;
     * one that stalled over the last interval has a rate of 0. */
    *rate_bps = snap_same_transfer(p, w) && p->measured ? p->rate_bps : *avg_bps;
}
