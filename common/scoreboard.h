/*
 * scoreboard: the single truth about the pool, in shared memory.
 *
 * One slot per allowed child (--max-children), created by the master before
 * the first fork. A free slot is what allows a fork, so the scoreboard
 * enforces the child limit. A slot is written by the master only while it
 * is not in a worker's hands (claim, release on reap) and otherwise only by
 * its worker, through a per-slot sequence lock: the writer bumps seq to odd,
 * writes, bumps it to even, with no locks and no system calls; readers copy
 * and retry if seq moved. The reaped totals are written by the master alone,
 * which folds a slot's counters into them on reap so nothing is lost:
 * pool totals = reaped + the sum over live slots.
 */
#ifndef FERRY_SCOREBOARD_H
#define FERRY_SCOREBOARD_H

#include "common/clock.h"
#include "common/wire.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum sb_state {
    SB_EMPTY = 0, /* free: may be claimed for a fork */
    SB_STARTING,  /* claimed by the master, child not yet running */
    SB_IDLE,      /* waiting for a connection */
    SB_READING,   /* reading a request (bounded by --request-timeout) */
    SB_WAITING,   /* answered; waiting for the client (the native READY) */
    SB_SENDING,   /* sending the content */
    SB_CLOSING,   /* closing the connection */
    SB_EXITING,   /* leaving; the master will reap it */
    SB_STATE_COUNT
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

/* Monotonic counters; summed across slots and the reaped totals. */
struct sb_counters {
    uint64_t connections; /* accepted */
    uint64_t requests;    /* answered with any status */
    uint64_t bytes;       /* content bytes sent */
    uint64_t status[WIRE_STATUS_COUNT];
    /* Connections by duration, accept to close: per bucket (not
     * cumulative), and the sum of the durations. */
    uint64_t duration[SB_DURATION_BUCKETS];
    uint64_t duration_ns;
};

/* The connection a worker is on (valid while state is not IDLE). */
struct sb_transfer {
    union sb_addr peer;
    uint32_t received;            /* request bytes read so far */
    char file[WIRE_NAME_MAX + 1]; /* valid names only: printable ASCII */
    uint64_t size;
    uint64_t sent;
    int64_t start_ns;    /* CLOCK_MONOTONIC */
    int64_t progress_ns; /* last time bytes left */
};

struct sb_slot {
    _Atomic uint32_t seq; /* odd while being written */
    uint32_t generation;  /* bumped on every claim */
    pid_t pid;
    uint8_t state; /* enum sb_state */
    int64_t started_ns;
    int64_t changed_ns;
    int64_t started_unix; /* wall clock, for humans */
    struct sb_counters c;
    struct sb_transfer t;
} __attribute__((aligned(64)));

/* Pool-wide figures of children that are gone (master-written). */
struct sb_totals {
    struct sb_counters c;
    uint64_t worker_exits;
    uint64_t crashes; /* died by a signal or a non-zero status, unasked */
    uint64_t kills;   /* killed on purpose by the master (watchdog, timeouts) */
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
    int64_t at_limit_unix; /* when it last did, or 0 */
    int64_t started_unix;
    int64_t started_ns;
};

struct scoreboard {
    uint32_t nslots;
    size_t map_len;
    struct sb_pool pool;
    struct sb_totals reaped;
    struct sb_slot slots[];
};

/* Maps a zeroed shared anonymous scoreboard of nslots slots; NULL + errno. */
struct scoreboard *sb_create(uint32_t nslots);

/* Unmaps it (in each process that no longer needs it). */
void sb_destroy(struct scoreboard *sb);

/* Master: claims a free slot (state STARTING, generation bumped). Returns
 * its index, or -ENOSPC when every slot is taken (the pool is at its limit). */
int sb_claim(struct scoreboard *sb);

/* Master: frees a claimed slot whose child was never started. */
void sb_unclaim(struct scoreboard *sb, int slot);

/* Master: number of slots not EMPTY. */
uint32_t sb_in_use(const struct scoreboard *sb);

/* Master, after reaping the slot's child: folds its counters into the
 * reaped totals, counts the exit (as a crash or a kill, per how) and
 * frees the slot. */
void sb_release(struct scoreboard *sb, int slot, enum sb_exit how);

/* Copies a consistent view of a slot. Returns 0, or -EAGAIN if it stayed
 * mid-write (a writer killed inside its write section) after many tries. */
int sb_read(const struct scoreboard *sb, int slot, struct sb_slot *out);

/* Adds the counters of from to to. */
void sb_counters_add(struct sb_counters *to, const struct sb_counters *from);

/* Sums the reaped totals and every live slot into out. Returns 0 or -EAGAIN. */
int sb_totals(const struct scoreboard *sb, struct sb_totals *out);

/* Returns the state's name ("idle"), or "unknown". */
const char *sb_state_name(unsigned state);

/* True when a process in state holds a connection: its transfer record
 * (peer, file, progress) is meaningful. The one test for "busy". */
bool sb_state_busy(unsigned state);

/* Monotonic time in ns (vDSO clock_gettime: no system call). */
int64_t sb_now_ns(void);

/*
 * Worker-side updates of its own slot; each is one write section.
 */
void sb_worker_start(struct sb_slot *s, pid_t pid);
void sb_set_state(struct sb_slot *s, enum sb_state state);
/* A connection was accepted from peer at now_ns: state READING, transfer
 * reset. */
void sb_conn_begin(struct sb_slot *s, const struct sockaddr *peer, int64_t now_ns);
/* n more request bytes arrived (progress while reading a request). */
void sb_conn_received(struct sb_slot *s, uint32_t n);
/* The response went out with status for file (valid names only) of size;
 * with WIRE_OK the state becomes WAITING (for READY). */
void sb_conn_answer(struct sb_slot *s, enum wire_status status, const char *file, uint64_t size);
/* n more content bytes left. */
void sb_conn_progress(struct sb_slot *s, uint64_t n);
/* The connection is closing at now_ns: state CLOSING, its duration
 * (from sb_conn_begin) counted in the histogram. */
void sb_conn_end(struct sb_slot *s, int64_t now_ns);

#endif
