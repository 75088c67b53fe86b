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
    "empty", "starting", "idle", "reading", "waiting", "keepalive", "sending", "closing", "exiting",
};

/* From a small file on loopback (well under 1 ms) to a large one over a
 * slow link (minutes): roughly two buckets per decade. */
const double sb_duration_bounds[SB_DURATION_BUCKETS - 1] = {
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300,
};

struct scoreboard *sb_create(uint32_t nslots)
{
    size_t len = sizeof(struct scoreboard) + (size_t)nslots * sizeof(struct sb_slot);
    struct scoreboard *sb;

    if (nslots == 0) {
        errno = EINVAL;
        return NULL;
    }
    sb = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED)
        return NULL;
    sb->nslots = nslots;
    sb->map_len = len;
    return sb;
}

void sb_destroy(struct scoreboard *sb)
{
    if (sb != NULL)
        munmap(sb, sb->map_len);
}

/* Opens a write section: readers that overlap it will retry. */
static void sb_write_begin(struct sb_slot *s)
{
    uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void sb_write_end(struct sb_slot *s)
{
    uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

    atomic_store_explicit(&s->seq, q + 1, memory_order_release);
}

int sb_claim(struct scoreboard *sb)
{
    for (uint32_t i = 0; i < sb->nslots; i++) {
        struct sb_slot *s = &sb->slots[i];

        if (s->state != SB_EMPTY)
            continue;
        sb_write_begin(s);
        s->generation++;
        s->state = SB_STARTING;
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
}

void sb_release(struct scoreboard *sb, int slot, enum sb_exit how)
{
    struct sb_slot *s = &sb->slots[slot];
    uint32_t generation = s->generation;

    /* The child is reaped, so nobody else writes the slot now; a child
     * killed inside a write section left seq odd, which memset repairs. */
    sb_counters_add(&sb->reaped.c, &s->c);
    sb->reaped.worker_exits++;
    sb->reaped.crashes += how == SB_EXIT_CRASH;
    sb->reaped.kills += how == SB_EXIT_KILLED;
    memset(s, 0, sizeof(*s));
    s->generation = generation;
}

int sb_read(const struct scoreboard *sb, int slot, struct sb_slot *out)
{
    const struct sb_slot *s = &sb->slots[slot];

    for (int tries = 0; tries < SB_READ_SPINS + SB_READ_YIELDS + SB_READ_SLEEPS; tries++) {
        uint32_t q1 = atomic_load_explicit(&s->seq, memory_order_acquire);

        if (tries >= SB_READ_SPINS + SB_READ_YIELDS) {
            struct timespec pause = {.tv_nsec = 100000};
            nanosleep(&pause, NULL);
        } else if (tries >= SB_READ_SPINS) {
            sched_yield();
        }
        if (q1 & 1)
            continue;
        memcpy(out, (const void *)s, sizeof(*out));
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == q1)
            return 0;
    }
    return -EAGAIN;
}

int sb_totals(const struct scoreboard *sb, struct sb_totals *out)
{
    struct sb_slot s;

    *out = sb->reaped;
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

/* Reads a slot's state and peer consistently. Returns 0, or -EAGAIN when
 * it stayed mid-write (spins, then yields). */
static int sb_read_peer(const struct sb_slot *s, uint8_t *state, union sb_addr *peer)
{
    for (int tries = 0; tries < 1100; tries++) {
        uint32_t q1 = atomic_load_explicit(&s->seq, memory_order_acquire);

        if (tries >= 1000)
            sched_yield();
        if (q1 & 1)
            continue;
        *state = s->state;
        memcpy(peer, (const void *)&s->t.peer, sizeof(*peer));
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
        if (sb_read_peer(&sb->slots[i], &state, &a) < 0) {
            n++; /* unreadable: counted, so that the limit errs on refusing */
            continue;
        }
        if (!sb_state_busy(state) || state == SB_CLOSING)
            continue;
        sb_addr_key(&a.sa, key);
        n += memcmp(key, want, 16) == 0;
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

void sb_conn_begin(struct sb_slot *s, unsigned listener, const struct sockaddr *peer, int64_t now)
{
    sb_write_begin(s);
    s->c.connections++;
    s->c.listener[listener % PROTO_LISTENERS_MAX].connections++;
    s->state = SB_READING;
    s->changed_ns = now;
    memset(&s->t, 0, sizeof(s->t));
    memcpy(&s->t.peer, peer,
           peer->sa_family == AF_INET6 ? sizeof(s->t.peer.in6) : sizeof(s->t.peer.in));
    s->t.listener = (uint8_t)(listener % PROTO_LISTENERS_MAX);
    s->t.start_ns = s->t.req_ns = s->t.progress_ns = now;
    sb_write_end(s);
}

void sb_conn_received(struct sb_slot *s, uint32_t n)
{
    sb_write_begin(s);
    s->t.received += n;
    s->t.progress_ns = clock_now_ns();
    if (s->state == SB_KEEPALIVE) { /* the next request has begun */
        s->state = SB_READING;
        s->changed_ns = s->t.progress_ns;
    }
    sb_write_end(s);
}

void sb_req_answer(struct sb_slot *s, enum sb_outcome outcome, const char *target, uint64_t size,
                   enum sb_state state)
{
    sb_write_begin(s);
    s->c.requests++;
    s->c.listener[s->t.listener].requests[outcome]++;
    s->t.requests++;
    s->t.target[0] = '\0';
    if (target != NULL)
        strncpy(s->t.target, target, sizeof(s->t.target) - 1);
    s->t.size = size;
    s->t.sent = 0;
    s->state = (uint8_t)state;
    s->changed_ns = s->t.progress_ns = s->t.req_ns = clock_now_ns();
    sb_write_end(s);
}

void sb_req_next(struct sb_slot *s, enum sb_state state)
{
    sb_write_begin(s);
    s->t.received = 0;
    s->state = (uint8_t)state;
    s->changed_ns = s->t.progress_ns = clock_now_ns();
    sb_write_end(s);
}

void sb_conn_progress(struct sb_slot *s, uint64_t n)
{
    sb_write_begin(s);
    s->c.bytes += n;
    s->c.listener[s->t.listener].bytes += n;
    s->t.sent += n;
    s->t.progress_ns = clock_now_ns();
    sb_write_end(s);
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

void sb_conn_end(struct sb_slot *s, int64_t now)
{
    int64_t ns = now > s->t.start_ns ? now - s->t.start_ns : 0;

    sb_write_begin(s);
    s->state = SB_CLOSING;
    s->changed_ns = now;
    s->c.duration[sb_duration_bucket(ns)]++;
    s->c.duration_ns += (uint64_t)ns;
    sb_write_end(s);
}
