/*
 * pool_int: what the pool's supervision (pool.c) and the binary upgrade's
 * side of it (poolup.c) share. Not for the rest of ferryd: that is pool.h.
 */
#ifndef FERRY_POOL_INT_H
#define FERRY_POOL_INT_H

#include "master/admin.h"
#include "master/pool.h"
#include "master/poolup.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct pool;

/*
 * The kinds of process the master runs, one row each, as nginx's process
 * table holds its cache manager beside the workers: how a kind starts,
 * whether it is the pool that --workers, resize, SIGTTIN/SIGTTOU and HUP's
 * rolling restart act on (and the watchdog and idle-first retirement read
 * connection records of), and its own count, target and crash back-off.
 * The pool's workers are the first row; the hub is the next (issue 10).
 */
enum pool_kind { POOL_WORKER, POOL_HUB, POOL_KINDS };

struct pool_kind_rules {
    const char *name;  /* "worker": logs, events */
    bool pool;         /* the serving pool (above) */
    enum sb_kind slot; /* what its scoreboard slot says it is */
    /* Drain: on a graceful stop, SIGTERM only once the pool's workers are
     * gone (the hub: an upload still being served needs its answers). */
    bool stops_last;
    /* Back-off: a child that dies within quick_death_ns of its start is
     * failing; its replacement waits backoff_first_ms, doubling for each
     * such death in a row, backoff_max_ms at most. */
    int64_t quick_death_ns;
    unsigned backoff_first_ms, backoff_max_ms;
    /* Runs in the child just forked for slot; never returns. A fork-mode
     * worker serves conn, accepted on listener from peer at accepted_ns. */
    void (*child)(struct pool *p, int slot, int conn, unsigned listener,
                  const struct sockaddr_storage *peer, int64_t accepted_ns);
};

/* A row's state. */
struct pool_row {
    unsigned children;     /* of this kind, forked and not yet reaped */
    unsigned target;       /* how many to keep running; fork mode's workers: the limit */
    unsigned quick_deaths; /* consecutive children that died young: the back-off */
    bool started;          /* the first ones are up: later spawns are respawns */
    uv_timer_t respawn;
};

struct pool {
    uv_loop_t loop;
    const struct pool_hooks *hooks; /* pool.c's, for poolup.c */
    struct config *cfg;             /* main()'s: a reload replaces what it holds */
    struct scoreboard *sb;
    struct listeners *ls;
    size_t next_listener; /* fork mode: where the next accept starts */
    int dirfd;
    uv_signal_t sig_term, sig_int, sig_chld, sig_ttin, sig_ttou, sig_usr1, sig_hup;
    uv_signal_t sig_usr2; /* a binary upgrade (master/poolup.h) */
    /* The workers' doorbell, a pipe: a byte says one reached --max-requests
     * (worker_count_conn()). [1] is theirs; -1 before it is made. */
    int doorbell[2];
    uv_poll_t doorbell_poll;
    /* Fork mode: the listeners, each handle its own allocation, freed once
     * closed (a reload closes one while the loop runs on). */
    uv_poll_t *polls[LSN_MAX];
    uv_timer_t deadline, drain, watchdog, unpause;
    uv_timer_t sweep;        /* after a worker died: its upload's temporary file */
    struct log_rl accept_rl; /* fork mode: accept failing for want of resources */
    int64_t *reported;       /* per slot: start of the transfer reported stuck */
    bool *killing;           /* per slot: SIGKILLed on purpose, not a crash */
    bool *termed;            /* per slot: sent the graceful stop's SIGTERM */
    struct admin admin;
    const struct pool_start *st; /* the admin socket's path, group, and what was handed down */
    pid_t *pids;                 /* per slot; 0 when the slot is free */
    uint8_t *kinds;              /* per slot: enum pool_kind of its child */
    bool *retiring;              /* per slot: asked to leave by a resize */
    /* Per slot: the configuration its child started with (generation, one
     * more per reload); a rolling restart replaces the older ones. */
    uint32_t *gen;
    uint32_t generation;
    bool roll_pending; /* a reload's rolling restart waits for its resize */
    /* A SIGHUP that came during a resize, restart or upgrade: retried each
     * second until that is over (several collapse into one reload). */
    uv_timer_t hup_retry;
    /* The listening sockets are another master's too (a binary upgrade
     * under way): a stop closes this master's copies, never shuts them
     * down for every process. */
    bool shared;
    struct poolup up; /* a binary upgrade, either side (master/poolup.h) */
    unsigned nretiring;
    unsigned children;   /* of every kind, forked and not yet reaped */
    unsigned deadline_s; /* of the shutdown under way */
    struct pool_row rows[POOL_KINDS];
    struct {
        bool active;
        pid_t *old;       /* the workers to replace, in turn */
        unsigned n, next; /* how many; the next to replace */
        int slot;         /* the old worker being retired, or -1 */
        int64_t t0;
    } roll;
    struct {
        int slot; /* --max-requests: the worker being replaced, or -1 */
        uv_timer_t drain;
    } recycle;
    struct {
        bool active;
        uint64_t token; /* the admin client waiting, or 0 */
        int64_t t0;
        unsigned drain_s;
        struct admin_resize_result r;
    } resize;
    bool accepting; /* fork mode: polls started */
    bool all_full;  /* event mode: every worker at --worker-connections */
    bool stopping;
    bool graceful; /* stopping, and not (yet) told to stop now */
    bool killed;   /* a child had to be SIGKILLed */
};

/* What poolup.c may ask of pool.c: called back through p->hooks, so
 * that the upgrade's side depends on the pool's data, never its code. */
struct pool_hooks {
    /* Sends an event with fields packed from fmt (json_pack), building it
     * only when someone follows the events. */
    void (*event)(struct pool *p, const char *name, const char *fmt, ...);
    /* The serving pool's row. */
    struct pool_row *(*workers)(struct pool *p);
    /* Starts children of kind until its row reaches its target. */
    void (*fill)(struct pool *p, enum pool_kind kind);
    /* Stops the pool, gracefully or now (SIGTERM's and SIGINT's stop). */
    void (*stop)(struct pool *p, bool graceful, unsigned timeout_s, const char *why);
};

#endif
