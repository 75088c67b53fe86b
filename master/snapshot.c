/*
 * snapshot: scoreboard snapshots and rate arithmetic. See snapshot.h.
 */
#include "master/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const unsigned snap_windows[SNAP_NWINDOWS] = {1, 10, 60};

int snap_init(struct snapshot *s, uint32_t nslots, uint32_t per_slot)
{
    memset(s, 0, sizeof(*s));
    s->nslots = nslots;
    s->per_slot = per_slot;
    s->live = calloc(nslots, sizeof(*s->live));
    s->live_slot = calloc(nslots, sizeof(*s->live_slot));
    s->live_first = calloc(nslots, sizeof(*s->live_first));
    s->live_conns = calloc(nslots, sizeof(*s->live_conns));
    s->conns_cap = nslots;
    s->conns = calloc(s->conns_cap, sizeof(*s->conns));
    if (s->live == NULL || s->live_slot == NULL || s->live_first == NULL || s->live_conns == NULL ||
        s->conns == NULL) {
        snap_free(s);
        return -ENOMEM;
    }
    return 0;
}

void snap_free(struct snapshot *s)
{
    free(s->live);
    free(s->live_slot);
    free(s->live_first);
    free(s->live_conns);
    free(s->conns);
    s->live = NULL;
    s->live_slot = NULL;
    s->live_first = s->live_conns = NULL;
    s->conns = NULL;
}

/* Room for one connection more in s->conns. Returns 0 or -ENOMEM. */
static int snap_conn_room(struct snapshot *s)
{
    uint32_t cap = s->conns_cap * 2;
    struct snap_conn *c;

    if (s->nconns < s->conns_cap)
        return 0;
    if ((c = realloc(s->conns, (size_t)cap * sizeof(*c))) == NULL)
        return -ENOMEM;
    s->conns = c;
    s->conns_cap = cap;
    return 0;
}

/* Copies the connection records in use of live process i (slot). */
static int snap_conns(const struct scoreboard *sb, struct snapshot *s, uint32_t i, int slot)
{
    uint32_t hi = s->live[i].conn_hi;

    s->live_first[i] = s->nconns;
    s->live_conns[i] = 0;
    for (uint32_t k = 0; k < hi && k < sb->conns_per_slot; k++) {
        struct snap_conn *c;

        if (sb_rec(sb, slot, k)->state == SB_EMPTY) /* a hint: the copy decides */
            continue;
        if (snap_conn_room(s) < 0)
            return -ENOMEM;
        c = &s->conns[s->nconns];
        if (sb_read_conn(sb_rec(sb, slot, k), &c->r) < 0)
            return -EAGAIN;
        if (!sb_state_busy(c->r.state))
            continue;
        c->live = i;
        c->k = k;
        s->conn_states[c->r.state]++;
        s->nconns++;
        s->live_conns[i]++;
    }
    return 0;
}

/* Counts live process i (just copied) in the pool's figures, or takes
 * note of it as the hub's. */
static void snap_count(struct snapshot *s, uint32_t i)
{
    if (s->live[i].kind == SB_KIND_HUB) {
        if (s->hub_live < 0)
            s->hub_live = (int)i;
        return;
    }
    s->nworkers++;
    s->by_state[snap_worker_state(s, i)]++;
}

int snap_take(const struct scoreboard *sb, struct snapshot *s)
{
    struct sb_slot copy;
    int rc;

    s->taken_ns = clock_now_ns();
    s->taken_unix = time(NULL);
    s->pool = sb->pool;
    s->reaped = sb->reaped;
    s->totals = sb->reaped;
    sb_read_denied(sb, s->denied, s->denied_master);
    if (sb_read_hub(sb, &s->hub) < 0)
        return -EAGAIN;
    sb_hub_add(&s->totals.hub, &s->hub);
    s->hub_live = -1;
    s->nlive = s->nconns = s->nworkers = 0;
    memset(s->by_state, 0, sizeof(s->by_state));
    memset(s->conn_states, 0, sizeof(s->conn_states));
    for (uint32_t i = 0; i < sb->nslots && i < s->nslots; i++) {
        if (sb_read(sb, (int)i, &copy) < 0)
            return -EAGAIN;
        if (copy.state == SB_EMPTY) {
            s->by_state[SB_EMPTY]++;
            continue;
        }
        sb_counters_add(&s->totals.c, &copy.c);
        s->live_slot[s->nlive] = (int)i;
        s->live[s->nlive] = copy;
        if ((rc = snap_conns(sb, s, s->nlive, (int)i)) < 0)
            return rc;
        snap_count(s, s->nlive++);
    }
    return 0;
}

const struct snap_conn *snap_only_conn(const struct snapshot *s, uint32_t i)
{
    return s->live_conns[i] == 1 ? &s->conns[s->live_first[i]] : NULL;
}

enum sb_state snap_worker_state(const struct snapshot *s, uint32_t i)
{
    const struct snap_conn *c = snap_only_conn(s, i);
    unsigned state = s->live[i].state;

    if (c != NULL && state == SB_BUSY)
        return (enum sb_state)c->r.state;
    if (state == SB_BUSY && s->live_conns[i] == 0) /* its last one closing meanwhile */
        return SB_IDLE;
    return state < SB_STATE_COUNT ? (enum sb_state)state : SB_EMPTY;
}

int snap_history_init(struct snap_history *h, uint32_t nslots, uint32_t per_slot)
{
    memset(h, 0, sizeof(*h));
    h->nrecs = (size_t)nslots * per_slot;
    h->per_slot = per_slot;
    h->recs = calloc(h->nrecs, sizeof(*h->recs));
    return h->recs == NULL ? -ENOMEM : 0;
}

void snap_history_free(struct snap_history *h)
{
    free(h->recs);
    h->recs = NULL;
}

/* The progress record of connection c. */
static struct snap_progress *snap_progress_of(const struct snap_history *h,
                                              const struct snapshot *s, const struct snap_conn *c)
{
    size_t at = (size_t)s->live_slot[c->live] * h->per_slot + c->k;

    return at < h->nrecs ? &h->recs[at] : NULL;
}

/* True when p recorded the transfer c is on: the same worker, connection
 * and request (a persistent connection carries many, each from 0 bytes). */
static bool snap_same_transfer(const struct snap_progress *p, const struct snapshot *s,
                               const struct snap_conn *c)
{
    return p->generation == s->live[c->live].generation && p->start_ns == c->r.start_ns &&
           p->requests == c->r.requests;
}

/* Updates a connection's progress record; a new transfer restarts it. */
static void snap_progress(struct snap_history *h, const struct snapshot *s, uint32_t ci)
{
    const struct snap_conn *c = &s->conns[ci];
    struct snap_progress *p = snap_progress_of(h, s, c);
    bool same;

    if (p == NULL)
        return;
    same = snap_same_transfer(p, s, c);
    p->rate_bps = 0;
    p->measured = same && s->taken_ns > p->ns && c->r.sent >= p->sent;
    if (p->measured)
        p->rate_bps = (double)(c->r.sent - p->sent) * 1e9 / (double)(s->taken_ns - p->ns);
    p->generation = s->live[c->live].generation;
    p->start_ns = c->r.start_ns;
    p->requests = c->r.requests;
    p->sent = c->r.sent;
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
    for (uint32_t i = 0; i < s->nconns; i++)
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

void snap_transfer_rates(const struct snap_history *h, const struct snapshot *s, uint32_t ci,
                         double *rate_bps, double *avg_bps)
{
    const struct snap_conn *c = &s->conns[ci];
    const struct snap_progress *p = snap_progress_of(h, s, c);
    int64_t age = s->taken_ns - c->r.req_ns; /* this request's, on a persistent connection */

    *avg_bps = age > 0 ? (double)c->r.sent * 1e9 / (double)age : 0;
    if (c->r.state != SB_SENDING) { /* nothing moving: the last answer's figures are history */
        *rate_bps = *avg_bps = 0;
        return;
    }
    /* A transfer younger than one sampling interval has only its average;
     * one that stalled over the last interval has a rate of 0. */
    *rate_bps = p != NULL && snap_same_transfer(p, s, c) && p->measured ? p->rate_bps : *avg_bps;
}
