/*
 * deadline: every connection's current deadline in one binary min-heap, so
 * that the event worker arms a single timer at the earliest one instead of
 * a kernel timer per connection or a scan of all connections per tick.
 *
 * The heap is intrusive: the caller embeds a struct dl_node in its
 * connection and gets the connection back with DL_ENTRY(). The heap holds
 * pointers only and never allocates after dl_init(): its capacity is the
 * worker's connection limit, so queueing cannot fail for lack of memory in
 * the middle of the loop. A node remembers its index in the heap, which
 * makes moving a deadline (pushed later by every chunk written) and
 * removing a node O(log n) in place, and dl_queued() O(1).
 *
 * Equal deadlines come out in no particular order: not FIFO, not LIFO.
 * dl_pop_due() hands out all of them in one pass of the caller's loop, so
 * the order among them does not matter to a timer callback.
 *
 * Times are CLOCK_MONOTONIC nanoseconds, but the heap only compares them:
 * any int64_t is valid, INT64_MIN and INT64_MAX included. Not thread-safe:
 * one heap belongs to one loop.
 */
#ifndef FERRY_DEADLINE_H
#define FERRY_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DL_NONE UINT32_MAX /* dl_node.pos of a node that is not queued */

/* The caller's struct that contains the dl_node at ptr (member is its
 * name there), as container_of() does. */
#define DL_ENTRY(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* One deadline, embedded in its owner. Read `at` freely; change it only
 * through dl_set(). `pos` belongs to the heap. */
struct dl_node {
    int64_t at;   /* when it is due */
    uint32_t pos; /* index in the heap, DL_NONE when not queued */
};

struct dl_heap {
    struct dl_node **v; /* v[0] is the earliest; v[(i-1)/2]->at <= v[i]->at */
    uint32_t n, cap;
};

/* Makes an empty heap for at most cap nodes (0 is allowed: every dl_set()
 * of a new node then fails). Returns 0, or -ENOMEM with h empty. */
int dl_init(struct dl_heap *h, uint32_t cap);

/* Frees the heap's array; h is empty afterwards and may be freed again.
 * Nodes still queued are not touched (their owners may be gone already):
 * do not pass them to this heap again, dl_node_init() them first. */
void dl_free(struct dl_heap *h);

/* Marks n as not queued. Required once before the first dl_set(). */
void dl_node_init(struct dl_node *n);

/* Sets n's deadline to at: queues n if it is not queued, else moves it in
 * place. Returns 0, or -ENOSPC when the heap is full and n is not queued
 * (n then stays unqueued, its `at` unchanged). Moving never fails. */
int dl_set(struct dl_heap *h, struct dl_node *n, int64_t at);

/* Takes n out of the heap (its `at` is kept). Does nothing if n is not
 * queued. */
void dl_remove(struct dl_heap *h, struct dl_node *n);

/* Whether n is in a heap. */
bool dl_queued(const struct dl_node *n);

/* The node with the earliest deadline, left queued; NULL when empty. */
struct dl_node *dl_min(const struct dl_heap *h);

/* Takes out and returns the earliest node if it is due (at <= now), else
 * returns NULL. Call it until NULL to collect everything due. */
struct dl_node *dl_pop_due(struct dl_heap *h, int64_t now);

#endif
