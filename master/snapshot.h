/*
 * snapshot: one consistent view of the scoreboard, and the arithmetic the
 * admin socket reports from it (counts by state, totals, rates).
 *
 * Consistency: each slot is copied under its sequence lock and the totals
 * are computed from those same copies plus the reaped figures, so the
 * totals always equal the per-worker figures plus the reaped ones (the
 * hub's likewise, from its own block). The pool's counts (nworkers,
 * by_state) leave the hub's process out: it is in live[], no pool worker. Each
 * connection record in use is copied under its own lock, beneath its
 * process; the counts by connection state are those copies'.
 */
#ifndef FERRY_SNAPSHOT_H
#define FERRY_SNAPSHOT_H

#include "common/scoreboard.h"

#include <stdbool.h>
#include <stdint.h>

/* A connection open at the snapshot. */
struct snap_conn {
    uint32_t live; /* its process: index into live[] */
    uint32_t k;    /* its record, the k-th of the process's */
    struct sb_conn r;
};

struct snapshot {
    int64_t taken_ns; /* CLOCK_MONOTONIC */
    int64_t taken_unix;
    struct sb_pool pool;
    struct sb_totals reaped;
    struct sb_totals totals;              /* reaped + every live slot (+ the live hub) */
    struct sb_hub hub;                    /* the live hub's figures since its start */
    int hub_live;                         /* the hub's process: index into live[], or -1 */
    uint32_t nworkers;                    /* live pool workers: live[] less the hub */
    uint32_t by_state[SB_STATE_COUNT];    /* pool workers, by snap_worker_state() */
    uint32_t conn_states[SB_STATE_COUNT]; /* connections, by state */
    uint32_t nslots;
    uint32_t per_slot;    /* connection records per slot */
    uint32_t nlive;       /* slots not EMPTY, copied into live[] */
    struct sb_slot *live; /* nslots entries, caller-owned */
    int *live_slot;       /* slot index of each live[] entry */
    uint32_t *live_first; /* its first connection in conns[] */
    uint32_t *live_conns; /* and how many it holds */
    uint32_t nconns;      /* connections open, in conns[], by process */
    uint32_t conns_cap;
    struct snap_conn *conns; /* grows as needed */
    /* Connections denied by --allow/--deny, by listener: the workers'
     * (ls->names) and the master's own (ls->web_names). */
    uint64_t denied[PROTO_LISTENERS_MAX];
    uint64_t denied_master[PROTO_LISTENERS_MAX];
};

/* Allocates the arrays for a scoreboard of nslots with per_slot records
 * each. Returns 0 or -ENOMEM. */
int snap_init(struct snapshot *s, uint32_t nslots, uint32_t per_slot);

/* Frees them. */
void snap_free(struct snapshot *s);

/* Copies sb into s. Returns 0, -EAGAIN when a slot stayed mid-write, or
 * -ENOMEM. */
int snap_take(const struct scoreboard *sb, struct snapshot *s);

/* A live process's state as people read it: that of its one connection
 * when it is BUSY with exactly one (a blocking-mode worker reads as
 * "sending"), else its own (idle, busy, starting, exiting). */
enum sb_state snap_worker_state(const struct snapshot *s, uint32_t i);

/* The one connection of live process i, or NULL when it holds none or
 * several. */
const struct snap_conn *snap_only_conn(const struct snapshot *s, uint32_t i);

#define SNAP_HISTORY 64 /* seconds of samples kept: enough for 60 s rates */

/* The trailing windows rates are reported over, in seconds: 1, 10, 60. */
#define SNAP_NWINDOWS 3
extern const unsigned snap_windows[SNAP_NWINDOWS];

/* Once-a-second samples of the totals, and of each connection's transfer,
 * for rates over the last 1, 10 and 60 seconds. */
struct snap_history {
    struct {
        int64_t ns;
        uint64_t requests, bytes, connections;
    } ring[SNAP_HISTORY];
    unsigned n, head;
    size_t nrecs; /* slots x records per slot: one progress each */
    uint32_t per_slot;
    struct snap_progress {
        /* The transfer: the worker, its connection, the request on it. */
        uint32_t generation;
        int64_t start_ns;
        uint32_t requests;
        uint64_t sent;
        int64_t ns;
        double rate_bps; /* over the last sampling interval */
        bool measured;   /* rate_bps covers an interval of this transfer */
    } * recs;            /* untouched (zero pages) but for records ever used */
};

/* Allocates a history for nslots slots of per_slot records. Returns 0 or
 * -ENOMEM. */
int snap_history_init(struct snap_history *h, uint32_t nslots, uint32_t per_slot);
void snap_history_free(struct snap_history *h);

/* Records the totals and every transfer's progress from s. */
void snap_history_add(struct snap_history *h, const struct snapshot *s);

/* Rate over the last window_s seconds (as far as the history goes back),
 * from s's totals: requests/s and bytes/s. Returns false with no history. */
bool snap_rate(const struct snap_history *h, const struct snapshot *s, unsigned window_s,
               double *req_s, double *bytes_s);

/* Connection conns[ci]'s transfer rates in bytes/s: current (over the
 * last sample interval; the average until there is one) and average since
 * it began. */
void snap_transfer_rates(const struct snap_history *h, const struct snapshot *s, uint32_t ci,
                         double *rate_bps, double *avg_bps);

#endif
