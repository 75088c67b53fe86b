/*
 * scoreboard: the single truth about the pool, in shared memory.
 *
 * Two levels, as Apache's process_score and worker_score. One slot per
 * allowed child (--max-children), created by the master before the first
 * fork: a free slot is what allows a fork, so the scoreboard enforces the
 * child limit. Beneath each slot, conns_per_slot connection records (one
 * in the blocking modes, --worker-connections in event mode): a process
 * holds at most that many connections, one record each, so the scoreboard
 * enforces that limit too.
 *
 * A slot is written by the master only while it is not in a worker's hands
 * (claim, release on reap) and otherwise only by its worker; a connection
 * record only by the worker that holds it (and by the master on reap).
 * Each has its own sequence lock: the writer bumps seq to odd, writes,
 * bumps it to even, with no locks and no system calls; readers copy and
 * retry if seq moved. Counters live in the slot alone, so the reaped totals
 * (master-written: a slot's counters are folded into them on reap) plus the
 * live slots are the pool's totals, and nothing is lost.
 *
 * Each slot says what kind of process holds it (a row of the master's
 * process table: a pool worker, the hub), set by the master's claim. The
 * hub's figures (sessions, posts, ...) are not in its slot but in one block
 * beside the pool's: there is one hub at most, and a block in every slot
 * would cost 64 bytes a slot (960 -> 1024, +6.7%: 4 KiB at the default 64
 * slots, 4 MiB at the most, 65536; the master's snapshot copies and so
 * touches every slot each second) for a figure that one slot uses; the
 * block costs 72 bytes once, and the hub's reaped totals 80 more (the
 * header, 2560 bytes before, is 2688 with the slots' alignment), while
 * the kind sits in what was the slot's padding (it stays 960). The
 * block follows the slots' rules: its own sequence lock, written only by
 * the process in the hub's slot (the master forks a hub only after it
 * reaped the one before), and by the master only when it reaps that
 * process, folding the counters into the reaped totals and zeroing it.
 *
 * Connections denied by --allow/--deny are counted per listener in one
 * more block beside the slots, by atomic adds, not in the slots' rows: a
 * row's field would cost 128 bytes a slot (16 listeners; 960 -> 1088,
 * +13%) for a figure most pools never move (the block costs 256 bytes
 * once: the header, 2688 bytes, is 2944), and the master, which never
 * writes a live slot, must count the denials on its own listeners
 * (metrics) too. An add is lock-free and makes no system call; a process
 * killed beside it leaves nothing half-written, so the block needs no
 * sequence lock and nothing is folded on reap.
 *
 * Size: records for max-children x conns_per_slot connections are mapped,
 * but shared anonymous memory costs a page only once touched, and a worker
 * reuses a freed record before it takes one never used (the lowest): only
 * records ever used (below each slot's conn_hi) are touched, by writers and
 * by every reader's scan.
 */
#ifndef FERRY_SCOREBOARD_H
#define FERRY_SCOREBOARD_H

#include "common/clock.h"
#include "common/proto.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A slot's (process's) state is one of EMPTY, STARTING, IDLE, BUSY and
 * EXITING; a connection record's is EMPTY (free) or one of READING to
 * CLOSING. */
enum sb_state {
    SB_EMPTY = 0, /* free: may be claimed for a fork, or for a connection */
    SB_STARTING,  /* claimed by the master, child not yet running */
    SB_IDLE,      /* waiting for a connection */
    SB_READING,   /* reading a request (bounded by --request-timeout) */
    SB_WAITING,   /* answered; waiting for the client (the native READY) */
    SB_KEEPALIVE, /* between two requests of a persistent connection */
    SB_SENDING,   /* sending the content */
    SB_CLOSING,   /* closing the connection */
    SB_EXITING,   /* leaving; the master will reap it */
    SB_BUSY,      /* holding one connection or more */
    SB_STATE_COUNT
};

/* What a slot's process is: a row of the master's process table. The
 * pool's workers are the zero kind, so a slot nobody set reads as one. */
enum sb_kind {
    SB_KIND_WORKER = 0, /* a pool worker (or iterative mode's one process) */
    SB_KIND_HUB,        /* the hub's process (docs/HUB.md): not in the pool */
    SB_KIND_COUNT
};

/* A peer's address, raw: formatting is left to whoever reads it. */
union sb_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* Upper bounds, in seconds, of the connection-duration histogram's
 * buckets; the last bucket (+Inf) has no bound. */
#define SB_DURATION_BUCKETS 12
extern const double sb_duration_bounds[SB_DURATION_BUCKETS - 1];

/* How a request was answered, whatever the protocol: HTTP's status
 * classes, and the native statuses mapped onto them (proto.h). */
enum sb_outcome {
    SB_OUT_OK,           /* 2xx; native OK */
    SB_OUT_REDIRECT,     /* 3xx, including 304 Not Modified */
    SB_OUT_CLIENT_ERROR, /* 4xx; native statuses about the request or file */
    SB_OUT_SERVER_ERROR, /* 5xx; native SERVER_ERROR */
    SB_OUT_COUNT
};

/* The figures of one listener (a row: a new listener or protocol adds
 * rows, never fields). */
struct sb_row {
    uint64_t connections;
    uint64_t requests[SB_OUT_COUNT];
    uint64_t bytes; /* content bytes sent */
};

/* Monotonic counters; summed across slots and the reaped totals. */
struct sb_counters {
    uint64_t connections;                        /* accepted, all listeners */
    uint64_t requests;                           /* answered with any status, all listeners */
    uint64_t bytes;                              /* content bytes sent, all listeners */
    struct sb_row listener[PROTO_LISTENERS_MAX]; /* by listener index */
    /* Connections by duration, accept to close: per bucket (not
     * cumulative), and the sum of the durations. */
    uint64_t duration[SB_DURATION_BUCKETS];
    uint64_t duration_ns;
    /* Event mode: chunks not in the page cache, read ahead off the loop
     * before they were sent. */
    uint64_t disk_waits;
};

#define SB_TARGET_MAX 256

/* One connection a worker holds (a record is in use while state is not
 * EMPTY). */
struct sb_conn {
    _Atomic uint32_t seq; /* odd while being written */
    uint8_t state;        /* enum sb_state: EMPTY, or READING..CLOSING */
    uint8_t listener;     /* index into the pool's listeners */
    /* Master-written, outside the lock: the watchdog asks the holder to
     * close the connection that started at this time (0: nothing asked). */
    _Atomic int64_t cut_ns;
    union sb_addr peer;
    uint32_t requests; /* requests answered on this connection */
    uint32_t received; /* bytes of the current request read so far */
    uint64_t size;
    uint64_t sent;
    int64_t start_ns;           /* CLOCK_MONOTONIC: the connection's accept */
    int64_t req_ns;             /* the answer to the request in hand (or start_ns) */
    int64_t progress_ns;        /* last time bytes moved */
    int64_t changed_ns;         /* last change of state */
    char target[SB_TARGET_MAX]; /* what is being served, escaped: printable ASCII */
} __attribute__((aligned(64)));

struct sb_slot {
    _Atomic uint32_t seq; /* odd while being written */
    uint32_t generation;  /* bumped on every claim */
    pid_t pid;
    uint8_t state; /* enum sb_state */
    bool full;     /* holds as many connections as it may: not accepting */
    uint8_t kind;  /* enum sb_kind, set by sb_claim() (in what was padding) */
    /* The worker reached --max-requests (plus its jitter) and asks the
     * master to replace it; it goes on serving until told to leave (in the
     * slot's last byte of padding: the slot stays 960 bytes). */
    bool replace;
    uint32_t conns;           /* connection records in use */
    _Atomic uint32_t conn_hi; /* records below this index were used at some time */
    int64_t started_ns;
    int64_t changed_ns;
    int64_t started_unix; /* wall clock, for humans */
    /* Outside the lock: an event worker's loop stamps every turn (and at
     * least once a second), so that a loop stuck in a call is seen. */
    _Atomic int64_t turn_ns;
    struct sb_counters c;
} __attribute__((aligned(64)));

/* The hub's figures (docs/HUB.md), as its sessions count them. All grow
 * but online. */
struct sb_hub {
    uint64_t online;          /* sessions live now */
    uint64_t posts;           /* stored */
    uint64_t forwards;        /* first sends of a forward */
    uint64_t retransmissions; /* later sends of one */
    uint64_t duplicates;      /* requests, logins and acks that came again */
    uint64_t resets_sent;
    uint64_t resets_received; /* that ended a session */
    uint64_t rejected;        /* datagrams dropped unanswered */
};

/* The live hub's figures since its start, beside the pool's (see above). */
struct sb_hub_live {
    _Atomic uint32_t seq; /* odd while being written */
    struct sb_hub f;
};

/* Pool-wide figures of children that are gone (master-written). The exits
 * are the pool workers'; the hub's, no pool worker, are counted apart. */
struct sb_totals {
    struct sb_counters c;
    uint64_t worker_exits;
    uint64_t crashes;  /* died by a signal or a non-zero status, unasked */
    uint64_t kills;    /* killed on purpose by the master (watchdog, timeouts) */
    struct sb_hub hub; /* the counters of hubs reaped (online: 0) */
    uint64_t hub_exits;
    uint64_t hub_crashes; /* as crashes */
};

/* How a reaped child ended, as the master judges it. */
enum sb_exit {
    SB_EXIT_CLEAN,  /* exit 0, or retired as asked */
    SB_EXIT_CRASH,  /* a signal or a non-zero status nobody asked for */
    SB_EXIT_KILLED, /* SIGKILLed by the master on purpose */
};

/* What the pool's supervisor knows, for the admin socket (master-written). */
struct sb_pool {
    uint32_t target;       /* prefork pool size or fork-mode limit */
    uint64_t respawns;     /* workers started to replace one that died */
    uint64_t at_limit;     /* times the pool reached its limit */
    uint64_t max_requests; /* workers retired for reaching --max-requests */
    uint64_t violations;   /* children killed by the seccomp allow-list (SIGSYS) */
    int64_t at_limit_unix; /* when it last did, or 0 */
    int64_t started_unix;
    int64_t started_ns;
};

/* When a line was last logged about an address, pool-wide (sb_quiet). */
#define SB_QUIET_SLOTS 64
struct sb_quiet {
    _Atomic int64_t at; /* CLOCK_MONOTONIC ns */
    uint8_t key[16];    /* the address, as IPv6 */
};

/* Connections denied by --allow/--deny, pool-wide (sb_count_denied). */
struct sb_denied {
    _Atomic uint64_t workers[PROTO_LISTENERS_MAX]; /* by the workers' listener index */
    _Atomic uint64_t master[PROTO_LISTENERS_MAX];  /* by the master's own (metrics) index */
};

struct scoreboard {
    uint32_t nslots;
    uint32_t conns_per_slot;
    size_t map_len;
    size_t conn_off; /* where the records begin, from the start of the map */
    struct sb_pool pool;
    struct sb_totals reaped;
    struct sb_quiet quiet[SB_QUIET_SLOTS];
    struct sb_denied denied;
    struct sb_hub_live hub;
    struct sb_slot slots[];
};

/* Maps a zeroed shared anonymous scoreboard of nslots slots with
 * conns_per_slot connection records each; NULL + errno. */
struct scoreboard *sb_create(uint32_t nslots, uint32_t conns_per_slot);

/* The k-th connection record of slot. */
struct sb_conn *sb_rec(const struct scoreboard *sb, int slot, uint32_t k);

/* The system call that slot's process made outside its seccomp allow-list
 * (its SIGSYS handler stores it: worker/sandbox.h), or -1 when none;
 * reset to -1 by sb_claim(). */
_Atomic int32_t *sb_violation(const struct scoreboard *sb, int slot);

/* Unmaps it (in each process that no longer needs it). */
void sb_destroy(struct scoreboard *sb);

/* Master: claims a free slot for a process of kind (state STARTING,
 * generation bumped). Returns its index, or -ENOSPC when every slot is
 * taken (the pool is at its limit). */
int sb_claim(struct scoreboard *sb, enum sb_kind kind);

/* Master: frees a claimed slot whose child was never started. */
void sb_unclaim(struct scoreboard *sb, int slot);

/* Master: number of slots not EMPTY. */
uint32_t sb_in_use(const struct scoreboard *sb);

/* Master, after reaping the slot's child: folds its counters into the
 * reaped totals, counts the exit (as a crash or a kill, per how; a hub's
 * as the hub's, with its figures folded and their block zeroed) and
 * frees the slot and its connection records. */
void sb_release(struct scoreboard *sb, int slot, enum sb_exit how);

/* Copies a consistent view of a slot. Returns 0, or -EAGAIN if it stayed
 * mid-write (a writer killed inside its write section) after many tries. */
int sb_read(const struct scoreboard *sb, int slot, struct sb_slot *out);

/* The same for a connection record. */
int sb_read_conn(const struct sb_conn *r, struct sb_conn *out);

/* Adds the counters of from to to. */
void sb_counters_add(struct sb_counters *to, const struct sb_counters *from);

/* Copies a consistent view of the live hub's figures (zeros when no hub
 * runs). Returns 0, or -EAGAIN as sb_read(). */
int sb_read_hub(const struct scoreboard *sb, struct sb_hub *out);

/* Adds the hub figures of from to to, online included. */
void sb_hub_add(struct sb_hub *to, const struct sb_hub *from);

/* Sums the reaped totals and every live slot (and the live hub's figures)
 * into out. Returns 0 or -EAGAIN. */
int sb_totals(const struct scoreboard *sb, struct sb_totals *out);

/* Counts the connections open now, pool-wide, from peer's address (the
 * port aside; an IPv4-mapped IPv6 address is its IPv4 one). A record that
 * stays mid-write is counted as a match (a limit then errs on refusing).
 * The caller publishes its own connection first, then a seq_cst fence,
 * then counts: two racing callers cannot both miss each other. */
unsigned sb_count_peer(const struct scoreboard *sb, const struct sockaddr *peer);

/* True when a line about peer's address was logged, by any process of the
 * pool, less than a second before now: the caller then stays quiet. Else
 * it records now for the address and returns false (log it). Lock-free and
 * best effort: a race or a hash collision may cost one line more or one
 * less; it bounds a flood, it does not count. */
bool sb_quiet(struct scoreboard *sb, const struct sockaddr *peer, int64_t now);

/* A connection accepted on listener was denied by --allow/--deny: one
 * atomic add, by whichever process accepted it. master: the listener is
 * one of the master's own (metrics), indexed among those. */
void sb_count_denied(struct scoreboard *sb, bool master, unsigned listener);

/* Reads the denied counts: workers[] and master[], PROTO_LISTENERS_MAX
 * each. */
void sb_read_denied(const struct scoreboard *sb, uint64_t *workers, uint64_t *master);

/* Returns the kind's name ("worker", "hub"), or "unknown". */
const char *sb_kind_name(unsigned kind);

/* Returns the state's name ("idle"), or "unknown". */
const char *sb_state_name(unsigned state);

/* True when state is a connection's (READING..CLOSING): the record is in
 * use, its peer, file and progress meaningful. */
bool sb_state_busy(unsigned state);

/* Returns the outcome's name ("client_error"), or "unknown". */
const char *sb_outcome_name(unsigned outcome);

/* Monotonic time in ns (vDSO clock_gettime: no system call). */
int64_t sb_now_ns(void);

/*
 * Worker-side updates of its own slot and records; each writes one
 * section of each it changes.
 */
void sb_worker_start(struct sb_slot *s, pid_t pid);
void sb_set_state(struct sb_slot *s, enum sb_state state);
/* The worker holds as many connections as it may (or no longer does). */
void sb_set_full(struct sb_slot *s, bool full);
/* The worker reached --max-requests: it asks to be replaced (sb_slot). */
void sb_set_replace(struct sb_slot *s);
/* The event loop turned at now_ns (no lock: one atomic store). */
void sb_turn(struct sb_slot *s, int64_t now_ns);
/* A chunk had to be read from the disk before it was sent. */
void sb_disk_wait(struct sb_slot *s);
/* The hub's process: its figures now, into the hub's block (one write
 * section, no system call). */
void sb_hub_publish(struct sb_hub_live *h, const struct sb_hub *f);

/* A connection was accepted on listener from peer at now_ns into record k
 * of the slot (r, free): r READING, the slot BUSY. */
void sb_conn_begin(struct sb_slot *s, struct sb_conn *r, uint32_t k, unsigned listener,
                   const struct sockaddr *peer, int64_t now_ns);
/* n more request bytes arrived (progress while reading a request). */
void sb_conn_received(struct sb_conn *r, uint32_t n);
/* A request was answered with outcome; target (escaped, may be NULL) and
 * size describe what is served, and state is what the connection does
 * next (SB_SENDING, or SB_WAITING for the client). */
void sb_req_answer(struct sb_slot *s, struct sb_conn *r, enum sb_outcome outcome,
                   const char *target, uint64_t size, enum sb_state state);
/* The connection waits for its next request (state, with the request
 * bytes count reset): SB_KEEPALIVE while idle, SB_READING once bytes come. */
void sb_req_next(struct sb_conn *r, enum sb_state state);
/* The connection's state changes (SB_SENDING after a READY). */
void sb_conn_state(struct sb_conn *r, enum sb_state state);
/* n more content bytes left. */
void sb_conn_progress(struct sb_slot *s, struct sb_conn *r, uint64_t n);
/* The connection closed at now_ns: its duration (from sb_conn_begin)
 * counted in the histogram, the record freed, the slot IDLE when it was
 * the last. */
void sb_conn_end(struct sb_slot *s, struct sb_conn *r, int64_t now_ns);

#endif
