/*
 * scoreboard: shared-memory pool state with per-slot sequence locks.
 * See scoreboard.h.
 */
#include "common/scoreboard.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* A reader spins this many times on a slot mid-write, then yields the CPU
 * as many times as SB_READ_YIELDS, then sleeps 100 us between tries as many
 * times as SB_READ_SLEEPS: a writer preempted inside its (short) write
 * section gets the CPU back and finishes it, even on a machine with more
 * runnable processes than cores (yields alone did not suffice: a fork-mode
 * pool under load made readers give up); one killed inside it leaves the
 * slot odd for good, and the reader gives up after some 60 ms. */
#define SB_READ_SPINS  10000
#define SB_READ_YIELDS 1000
#define SB_READ_SLEEPS 500

static const char *const sb_state_names[SB_STATE_COUNT] = {
    "empty",     "starting", "idle",    "reading", "waiting",
    "keepalive", "sending",  "closing", "exiting", "busy",
};

/* From a small file on loopback (well under 1 ms) to a large one over a
 * slow link (minutes): roughly two buckets per decade. */
const double sb_duration_bounds[SB_DURATION_BUCKETS - 1] = {
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300,
};

struct scoreboard *sb_create(uint32_t nslots, uint32_t conns_per_slot)
{
    size_t off = sizeof(struct scoreboard) + (size_t)nslots * sizeof(struct sb_slot), len;
    struct scoreboard *sb;

    if (nslots == 0 || conns_per_slot == 0) {
        errno = EINVAL;
        return NULL;
    }
    off += (size_t)nslots * sizeof(int32_t); /* the violations (scoreboard.h) */
    off = (off + 63) & ~(size_t)63;          /* records on cache lines of their own */
    len = off + (size_t)nslots * conns_per_slot * sizeof(struct sb_conn);
    sb = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED)
        return NULL;
    sb->nslots = nslots;
    sb->conns_per_slot = conns_per_slot;
    sb->map_len = len;
    sb->conn_off = off;
    for (uint32_t i = 0; i < nslots; i++)
        atomic_store(sb_violation(sb, (int)i), -1);
    return sb;
}

_Atomic int32_t *sb_violation(const struct scoreboard *sb, int slot)
{
    _Atomic int32_t *v = (_Atomic int32_t *)(void *)&sb->slots[sb->nslots];

    return &v[slot];
}

struct sb_conn *sb_rec(const struct scoreboard *sb, int slot, uint32_t k)
{
    struct sb_conn *recs = (struct sb_conn *)((char *)sb + sb->conn_off);

    return &recs[(size_t)slot * sb->conns_per_slot + k];
}

void sb_destroy(struct scoreboard *sb)
{
    if (sb != NULL)
        munmap(sb, sb->map_len);
}

/* Opens a write section of a slot or a record: readers that overlap it
 * will retry. */
static void sb_lock(_Atomic uint32_t *seq)
{
    uint32_t q = atomic_load_explicit(seq, memory_order_relaxed);

    atomic_store_explicit(seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void sb_unlock(_Atomic uint32_t *seq)
{
    uint32_t q = atomic_load_explicit(seq, memory_order_relaxed);

    atomic_store_explicit(seq, q + 1, memory_order_release);
}

#define sb_write_begin(x) sb_lock(&(x)->seq)
#define sb_write_end(x)   sb_unlock(&(x)->seq)

int sb_claim(struct scoreboard *sb, enum sb_kind kind)
{
    for (uint32_t i = 0; i < sb->nslots; i++) {
        struct sb_slot *s = &sb->slots[i];

        if (s->state != SB_EMPTY)
            continue;
        sb_write_begin(s);
        s->generation++;
        s->state = SB_STARTING;
        s->kind = (uint8_t)kind;
        atomic_store(sb_violation(sb, (int)i), -1);
        s->started_ns = s->changed_ns = clock_now_ns();
        s->started_unix = time(NULL);
        sb_write_end(s);
        return (int)i;
    }
    return -ENOSPC;
}

void sb_unclaim(struct scoreboard *sb, int slot)
{
    struct sb_slot *s = &sb->slots[slot];

    sb_write_begin(s);
    s->state = SB_EMPTY;
    sb_write_end(s);
}

uint32_t sb_in_use(const struct scoreboard *sb)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < sb->nslots; i++)
        n += sb->slots[i].state != SB_EMPTY;
    return n;
}

void sb_counters_add(struct sb_counters *to, const struct sb_counters *from)
{
    to->connections += from->connections;
    to->requests += from->requests;
    to->bytes += from->bytes;
    for (int l = 0; l < PROTO_LISTENERS_MAX; l++) {
        to->listener[l].connections += from->listener[l].connections;
        to->listener[l].bytes += from->listener[l].bytes;
        for (int o = 0; o < SB_OUT_COUNT; o++)
            to->listener[l].requests[o] += from->listener[l].requests[o];
    }
    for (int i = 0; i < SB_DURATION_BUCKETS; i++)
        to->duration[i] += from->duration[i];
    to->duration_ns += from->duration_ns;
    to->disk_waits += from->disk_waits;
}

void sb_hub_add(struct sb_hub *to, const struct sb_hub *from)
{
    to->online += from->online;
    to->posts += from->posts;
    to->forwards += from->forwards;
    to->retransmissions += from->retransmissions;
    to->duplicates += from->duplicates;
    to->resets_sent += from->resets_sent;
    to->resets_received += from->resets_received;
    to->rejected += from->rejected;
}

/* The reaped hub's figures into the totals: its sessions died with it, its
 * counters go on counting in its successor's. Its block is freed for the
 * next (seq repaired, if it was killed inside a write section). */
static void sb_hub_reaped(struct scoreboard *sb, enum sb_exit how)
{
    struct sb_hub gone = sb->hub.f;

    gone.online = 0;
    sb_hub_add(&sb->reaped.hub, &gone);
    sb->reaped.hub_exits++;
    sb->reaped.hub_crashes += how == SB_EXIT_CRASH;
    memset(&sb->hub, 0, sizeof(sb->hub));
}

void sb_release(struct scoreboard *sb, int slot, enum sb_exit how)
{
    struct sb_slot *s = &sb->slots[slot];
    uint32_t generation = s->generation;

    /* The child is reaped, so nobody else writes the slot now; a child
     * killed inside a write section left seq odd, which memset repairs. */
    sb_counters_add(&sb->reaped.c, &s->c);
    if (s->kind == SB_KIND_HUB) {
        sb_hub_reaped(sb, how);
    } else {
        sb->reaped.worker_exits++;
        sb->reaped.crashes += how == SB_EXIT_CRASH;
        sb->reaped.kills += how == SB_EXIT_KILLED;
    }
    /* Only the records it used, and the next one (the one it may have been
     * killed inside of, before conn_hi said so): the rest were never touched. */
    memset(sb_rec(sb, slot, 0), 0,
           (size_t)(s->conn_hi < sb->conns_per_slot ? s->conn_hi + 1 : sb->conns_per_slot) *
               sizeof(struct sb_conn));
    memset(s, 0, sizeof(*s));
    s->generation = generation;
}

/* Copies len bytes at p, guarded by seq, consistently. Returns 0 or
 * -EAGAIN. */
static int sb_copy(const _Atomic uint32_t *seq, const void *p, void *out, size_t len)
{
    for (int tries = 0; tries < SB_READ_SPINS + SB_READ_YIELDS + SB_READ_SLEEPS; tries++) {
        uint32_t q1 = atomic_load_explicit(seq, memory_order_acquire);

        if (tries >= SB_READ_SPINS + SB_READ_YIELDS) {
            struct timespec pause = {.tv_nsec = 100000};
            nanosleep(&pause, NULL);
        } else if (tries >= SB_READ_SPINS) {
            sched_yield();
        }
        if (q1 & 1)
            continue;
        memcpy(out, p, len);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(seq, memory_order_relaxed) == q1)
            return 0;
    }
    return -EAGAIN;
}

int sb_read(const struct scoreboard *sb, int slot, struct sb_slot *out)
{
    const struct sb_slot *s = &sb->slots[slot];

    return sb_copy(&s->seq, (const void *)s, out, sizeof(*out));
}

int sb_read_conn(const struct sb_conn *r, struct sb_conn *out)
{
    return sb_copy(&r->seq, (const void *)r, out, sizeof(*out));
}

int sb_read_hub(const struct scoreboard *sb, struct sb_hub *out)
{
    return sb_copy(&sb->hub.seq, (const void *)&sb->hub.f, out, sizeof(*out));
}

int sb_totals(const struct scoreboard *sb, struct sb_totals *out)
{
    struct sb_slot s;
    struct sb_hub h;

    *out = sb->reaped;
    if (sb_read_hub(sb, &h) < 0)
        return -EAGAIN;
    sb_hub_add(&out->hub, &h);
    for (uint32_t i = 0; i < sb->nslots; i++) {
        if (sb_read(sb, (int)i, &s) < 0)
            return -EAGAIN;
        if (s.state != SB_EMPTY)
            sb_counters_add(&out->c, &s.c);
    }
    return 0;
}

/* The 16 bytes of an address as IPv6 (IPv4 mapped), for comparing. */
static void sb_addr_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

/* Reads a record's state and peer consistently. Returns 0, or -EAGAIN when
 * it stayed mid-write (spins, then yields). */
static int sb_read_peer(const struct sb_conn *s, uint8_t *state, union sb_addr *peer)
{
    for (int tries = 0; tries < 1100; tries++) {
        uint32_t q1 = atomic_load_explicit(&s->seq, memory_order_acquire);

        if (tries >= 1000)
            sched_yield();
        if (q1 & 1)
            continue;
        *state = s->state;
        memcpy(peer, (const void *)&s->peer, sizeof(*peer));
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == q1)
            return 0;
    }
    return -EAGAIN;
}

unsigned sb_count_peer(const struct scoreboard *sb, const struct sockaddr *peer)
{
    uint8_t want[16], key[16], state;
    union sb_addr a;
    unsigned n = 0;

    sb_addr_key(peer, want);
    for (uint32_t i = 0; i < sb->nslots; i++) {
        uint32_t hi = atomic_load_explicit(&sb->slots[i].conn_hi, memory_order_acquire);

        for (uint32_t k = 0; k < hi && k < sb->conns_per_slot; k++) {
            if (sb_read_peer(sb_rec(sb, (int)i, k), &state, &a) < 0) {
                n++; /* unreadable: counted, so that the limit errs on refusing */
                continue;
            }
            if (!sb_state_busy(state) || state == SB_CLOSING)
                continue;
            sb_addr_key(&a.sa, key);
            n += memcmp(key, want, 16) == 0;
        }
    }
    return n;
}

bool sb_quiet(struct scoreboard *sb, const struct sockaddr *peer, int64_t now)
{
    uint8_t key[16];
    uint32_t h = 2166136261u;
    struct sb_quiet *q;
    int64_t at;

    sb_addr_key(peer, key);
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    q = &sb->quiet[h % SB_QUIET_SLOTS];
    at = atomic_load(&q->at);
    if (now - at < 1000000000 && memcmp(q->key, key, 16) == 0)
        return true;
    if (!atomic_compare_exchange_strong(&q->at, &at, now))
        return true; /* another process logs about this bucket right now */
    memcpy(q->key, key, 16);
    return false;
}

void sb_count_denied(struct scoreboard *sb, bool master, unsigned listener)
{
    _Atomic uint64_t *row = master ? sb->denied.master : sb->denied.workers;

    atomic_fetch_add_explicit(&row[listener % PROTO_LISTENERS_MAX], 1, memory_order_relaxed);
}

void sb_read_denied(const struct scoreboard *sb, uint64_t *workers, uint64_t *master)
{
    for (int i = 0; i < PROTO_LISTENERS_MAX; i++) {
        workers[i] = atomic_load_explicit(&sb->denied.workers[i], memory_order_relaxed);
        master[i] = atomic_load_explicit(&sb->denied.master[i], memory_order_relaxed);
    }
}

static const char *const sb_kind_names[SB_KIND_COUNT] = {
    [SB_KIND_WORKER] = "worker",
    [SB_KIND_HUB] = "hub",
};

const char *sb_kind_name(unsigned kind)
{
    return kind < SB_KIND_COUNT ? sb_kind_names[kind] : "unknown";
}

const char *sb_state_name(unsigned state)
{
    return state < SB_STATE_COUNT ? sb_state_names[state] : "unknown";
}

bool sb_state_busy(unsigned state)
{
    return state == SB_READING || state == SB_WAITING || state == SB_KEEPALIVE ||
           state == SB_SENDING || state == SB_CLOSING;
}

static const char *const sb_outcome_names[SB_OUT_COUNT] = {
    [SB_OUT_OK] = "ok",
    [SB_OUT_REDIRECT] = "redirect",
    [SB_OUT_CLIENT_ERROR] = "client_error",
    [SB_OUT_SERVER_ERROR] = "server_error",
};

const char *sb_outcome_name(unsigned outcome)
{
    return outcome < SB_OUT_COUNT ? sb_outcome_names[outcome] : "unknown";
}

void sb_worker_start(struct sb_slot *s, pid_t pid)
{
    sb_write_begin(s);
    s->pid = pid;
    s->state = SB_IDLE;
    s->changed_ns = clock_now_ns();
    sb_write_end(s);
}

void sb_set_state(struct sb_slot *s, enum sb_state state)
{
    sb_write_begin(s);
    s->state = (uint8_t)state;
    s->changed_ns = clock_now_ns();
    sb_write_end(s);
}

void sb_set_full(struct sb_slot *s, bool full)
{
    sb_write_begin(s);
    s->full = full;
    sb_write_end(s);
}

void sb_set_replace(struct sb_slot *s)
{
    sb_write_begin(s);
    s->replace = true;
    sb_write_end(s);
}

void sb_turn(struct sb_slot *s, int64_t now)
{
    atomic_store_explicit(&s->turn_ns, now, memory_order_relaxed);
}

void sb_disk_wait(struct sb_slot *s)
{
    sb_write_begin(s);
    s->c.disk_waits++;
    sb_write_end(s);
}

void sb_hub_publish(struct sb_hub_live *h, const struct sb_hub *f)
{
    sb_write_begin(h);
    h->f = *f;
    sb_write_end(h);
}

void sb_conn_begin(struct sb_slot *s, struct sb_conn *r, uint32_t k, unsigned listener,
                   const struct sockaddr *peer, int64_t now)
{
    sb_write_begin(r);
    memset((char *)r + offsetof(struct sb_conn, peer), 0,
           sizeof(*r) - offsetof(struct sb_conn, peer));
    atomic_store_explicit(&r->cut_ns, 0, memory_order_relaxed);
    memcpy(&r->peer, peer, peer->sa_family == AF_INET6 ? sizeof(r->peer.in6) : sizeof(r->peer.in));
    r->listener = (uint8_t)(listener % PROTO_LISTENERS_MAX);
    r->state = SB_READING;
    r->start_ns = r->req_ns = r->progress_ns = r->changed_ns = now;
    sb_write_end(r);

    sb_write_begin(s);
    s->c.connections++;
    s->c.listener[listener % PROTO_LISTENERS_MAX].connections++;
    s->conns++;
    if (k >= s->conn_hi) /* published before the record is read: see sb_count_peer */
        atomic_store_explicit(&s->conn_hi, k + 1, memory_order_release);
    if (s->state != SB_BUSY)
        s->changed_ns = now;
    s->state = SB_BUSY;
    sb_write_end(s);
}

void sb_conn_received(struct sb_conn *r, uint32_t n)
{
    sb_write_begin(r);
    r->received += n;
    r->progress_ns = clock_now_ns();
    if (r->state == SB_KEEPALIVE) { /* the next request has begun */
        r->state = SB_READING;
        r->changed_ns = r->progress_ns;
    }
    sb_write_end(r);
}

void sb_req_answer(struct sb_slot *s, struct sb_conn *r, enum sb_outcome outcome,
                   const char *target, uint64_t size, enum sb_state state)
{
    int64_t now = clock_now_ns();

    sb_write_begin(s);
    s->c.requests++;
    s->c.listener[r->listener].requests[outcome]++;
    sb_write_end(s);

    sb_write_begin(r);
    r->requests++;
    r->target[0] = '\0';
    if (target != NULL)
        strncpy(r->target, target, sizeof(r->target) - 1);
    r->size = size;
    r->sent = 0;
    r->state = (uint8_t)state;
    r->changed_ns = r->progress_ns = r->req_ns = now;
    sb_write_end(r);
}

void sb_req_next(struct sb_conn *r, enum sb_state state)
{
    sb_write_begin(r);
    r->received = 0;
    r->state = (uint8_t)state;
    r->changed_ns = r->progress_ns = clock_now_ns();
    sb_write_end(r);
}

void sb_conn_state(struct sb_conn *r, enum sb_state state)
{
    sb_write_begin(r);
    r->state = (uint8_t)state;
    r->changed_ns = clock_now_ns();
    sb_write_end(r);
}

void sb_conn_progress(struct sb_slot *s, struct sb_conn *r, uint64_t n)
{
    sb_write_begin(s);
    s->c.bytes += n;
    s->c.listener[r->listener].bytes += n;
    sb_write_end(s);

    sb_write_begin(r);
    r->sent += n;
    r->progress_ns = clock_now_ns();
    sb_write_end(r);
}

/* The bucket of a duration: the first whose bound it does not exceed. */
static unsigned sb_duration_bucket(int64_t ns)
{
    double secs = (double)ns / 1e9;
    unsigned b = 0;

    while (b < SB_DURATION_BUCKETS - 1 && secs > sb_duration_bounds[b])
        b++;
    return b;
}

void sb_conn_end(struct sb_slot *s, struct sb_conn *r, int64_t now)
{
    int64_t ns = now > r->start_ns ? now - r->start_ns : 0;

    sb_write_begin(r);
    r->state = SB_EMPTY;
    r->changed_ns = now;
    sb_write_end(r);

    sb_write_begin(s);
    s->c.duration[sb_duration_bucket(ns)]++;
    s->c.duration_ns += (uint64_t)ns;
    if (s->conns > 0)
        s->conns--;
    if (s->conns == 0 && s->state == SB_BUSY) {
        s->state = SB_IDLE;
        s->changed_ns = now;
    }
    sb_write_end(s);
}
