/* Unit tests for worker/deadline: the min-heap of connection deadlines,
 * case by case, then against a brute-force model under random operations. */
#include "worker/deadline.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* A stand-in for the worker's connection: the node is not its first
 * member, so DL_ENTRY() has an offset to undo. */
struct tconn {
    uint32_t id;
    char pad[12];
    struct dl_node dl;
};

/* Checks what must hold of any heap: n <= cap, every slot's node knows
 * its slot, no parent is later than its child. Returns what is broken, or
 * NULL. */
static const char *heap_broken(const struct dl_heap *h)
{
    if (h->n > h->cap)
        return "n > cap";
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->v[i] == NULL)
            return "empty slot below n";
        if (h->v[i]->pos != i)
            return "v[i]->pos != i";
        if (i > 0 && h->v[(i - 1) / 2]->at > h->v[i]->at)
            return "a parent is later than its child";
    }
    if ((h->n == 0) != (dl_min(h) == NULL) || (h->n > 0 && dl_min(h) != h->v[0]))
        return "dl_min() is not v[0]";
    return NULL;
}

static void assert_heap(const struct dl_heap *h)
{
    const char *why = heap_broken(h);

    if (why != NULL)
        fail_msg("heap broken: %s", why);
}

/* Inits count connections with ids 0.. and queues them at ats[]. */
static void queue_all(struct dl_heap *h, struct tconn *c, const int64_t *ats, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        c[i].id = (uint32_t)i;
        dl_node_init(&c[i].dl);
        assert_false(dl_queued(&c[i].dl));
        assert_int_equal(dl_set(h, &c[i].dl, ats[i]), 0);
        assert_true(dl_queued(&c[i].dl));
        assert_heap(h);
    }
}

/* The id of the connection holding the earliest deadline. */
static uint32_t min_id(const struct dl_heap *h)
{
    struct dl_node *m = dl_min(h);

    assert_non_null(m);
    return DL_ENTRY(m, struct tconn, dl)->id;
}

static void test_order(void **state)
{
    static const int64_t ats[] = {50, 10, 90, 30, 70, INT64_MAX, -5, 20, INT64_MIN, 60, 40, 80};
    static const uint32_t want[] = {8, 6, 1, 7, 3, 10, 0, 9, 4, 11, 2, 5};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N];
    struct dl_heap h;

    (void)state;
    assert_int_equal(dl_init(&h, N), 0);
    assert_null(dl_min(&h));
    queue_all(&h, c, ats, N);
    assert_int_equal(h.n, N);
    for (size_t i = 0; i < N; i++) {
        struct dl_node *m = dl_pop_due(&h, INT64_MAX);

        assert_non_null(m);
        assert_ptr_equal(DL_ENTRY(m, struct tconn, dl), &c[want[i]]);
        assert_false(dl_queued(m));
        assert_true(m->at == ats[want[i]]); /* popping keeps the deadline */
        assert_heap(&h);
    }
    assert_null(dl_min(&h));
    assert_null(dl_pop_due(&h, INT64_MAX));
    dl_free(&h);
    dl_free(&h); /* twice is harmless */
}

static void test_move(void **state)
{
    static const int64_t ats[] = {100, 200, 300, 400, 500, 600, 700};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N];
    struct dl_heap h;

    (void)state;
    assert_int_equal(dl_init(&h, N), 0);
    queue_all(&h, c, ats, N);
    /* A leaf moved earlier than the root becomes the root. */
    assert_int_equal(dl_set(&h, &c[6].dl, 50), 0);
    assert_int_equal(min_id(&h), 6);
    assert_heap(&h);
    /* The root moved later than everything sinks to a leaf. */
    assert_int_equal(dl_set(&h, &c[6].dl, 1000), 0);
    assert_int_equal(min_id(&h), 0);
    assert_heap(&h);
    assert_int_equal(dl_set(&h, &c[0].dl, 650), 0);
    assert_int_equal(min_id(&h), 1);
    assert_heap(&h);
    /* Moves inside the middle, and a move to the same time. */
    assert_int_equal(dl_set(&h, &c[4].dl, 250), 0);
    assert_heap(&h);
    assert_int_equal(dl_set(&h, &c[2].dl, 900), 0);
    assert_heap(&h);
    assert_int_equal(dl_set(&h, &c[3].dl, 400), 0);
    assert_heap(&h);
    assert_int_equal(h.n, N);
    /* The order is now 1 (200), 4 (250), 3 (400), 5 (600), 0 (650),
     * 2 (900), 6 (1000). */
    static const uint32_t want[] = {1, 4, 3, 5, 0, 2, 6};
    for (size_t i = 0; i < N; i++) {
        struct dl_node *m = dl_pop_due(&h, INT64_MAX);

        assert_non_null(m);
        assert_int_equal(DL_ENTRY(m, struct tconn, dl)->id, want[i]);
        assert_heap(&h);
    }
    dl_free(&h);
}

static void test_remove(void **state)
{
    static const int64_t ats[] = {10, 20, 30, 40, 50, 60, 70, 80, 90};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N];
    struct dl_heap h;

    (void)state;
    assert_int_equal(dl_init(&h, N), 0);
    queue_all(&h, c, ats, N);
    /* The min. */
    dl_remove(&h, &c[0].dl);
    assert_false(dl_queued(&c[0].dl));
    assert_true(c[0].dl.at == 10);
    assert_int_equal(h.n, N - 1);
    assert_int_equal(min_id(&h), 1);
    assert_heap(&h);
    /* A middle node, neither root nor leaf. */
    struct dl_node *mid = h.v[1];
    dl_remove(&h, mid);
    assert_false(dl_queued(mid));
    assert_int_equal(h.n, N - 2);
    assert_heap(&h);
    /* The node in the last slot: nothing fills its place. */
    struct dl_node *last = h.v[h.n - 1];
    dl_remove(&h, last);
    assert_false(dl_queued(last));
    assert_int_equal(h.n, N - 3);
    assert_heap(&h);
    /* A removed node can be queued again. */
    assert_int_equal(dl_set(&h, &c[0].dl, 5), 0);
    assert_int_equal(min_id(&h), 0);
    assert_heap(&h);
    /* Removing everything, the only node last. */
    while (h.n > 0)
        dl_remove(&h, h.v[h.n / 2]);
    assert_null(dl_min(&h));
    for (size_t i = 0; i < N; i++)
        assert_false(dl_queued(&c[i].dl));
    dl_free(&h);
}

/* The last node of the array belongs above the hole it fills: a removal
 * that only sifts down leaves the heap broken. */
static void test_remove_sifts_up(void **state)
{
    /*          0
     *     10        1
     *   11  12    2   3
     * Removing 11 moves the last node, 3, into its slot under 10: 3 must
     * go up, above 10. */
    static const int64_t ats[] = {0, 10, 1, 11, 12, 2, 3};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N];
    struct dl_heap h;

    (void)state;
    assert_int_equal(dl_init(&h, N), 0);
    queue_all(&h, c, ats, N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(h.v[i], &c[i].dl); /* the shape drawn above */
    dl_remove(&h, &c[3].dl);
    assert_heap(&h);
    assert_ptr_equal(h.v[1], &c[6].dl);
    assert_ptr_equal(h.v[3], &c[1].dl);
    dl_free(&h);
}

static void test_remove_unqueued(void **state)
{
    static const int64_t ats[] = {30, 10, 20};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N], out;
    struct dl_node *before[N];
    struct dl_heap h;

    (void)state;
    assert_int_equal(dl_init(&h, N + 1), 0);
    queue_all(&h, c, ats, N);
    memcpy(before, h.v, sizeof(before));
    dl_node_init(&out.dl);
    out.dl.at = 5; /* earlier than all: a wrong removal would show */
    dl_remove(&h, &out.dl);
    assert_false(dl_queued(&out.dl));
    assert_int_equal(h.n, N);
    assert_memory_equal(h.v, before, sizeof(before));
    /* A node removed twice: the second is a no-op too. */
    dl_remove(&h, &c[1].dl);
    memcpy(before, h.v, (N - 1) * sizeof(*before));
    dl_remove(&h, &c[1].dl);
    assert_int_equal(h.n, N - 1);
    assert_memory_equal(h.v, before, (N - 1) * sizeof(*before));
    assert_heap(&h);
    dl_free(&h);
}

static void test_pop_due(void **state)
{
    static const int64_t ats[] = {200, 100, 300, 100, 100};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N];
    struct dl_heap h;
    bool seen[N] = {false};

    (void)state;
    assert_int_equal(dl_init(&h, N), 0);
    assert_null(dl_pop_due(&h, INT64_MAX)); /* empty */
    queue_all(&h, c, ats, N);
    /* Nothing due: NULL, and nothing taken out. */
    assert_null(dl_pop_due(&h, 99));
    assert_null(dl_pop_due(&h, INT64_MIN));
    assert_int_equal(h.n, N);
    assert_heap(&h);
    /* The three at 100 come out together, in any order, at now == 100. */
    for (int i = 0; i < 3; i++) {
        struct dl_node *m = dl_pop_due(&h, 100);

        assert_non_null(m);
        assert_true(m->at == 100);
        uint32_t id = DL_ENTRY(m, struct tconn, dl)->id;
        assert_false(seen[id]);
        seen[id] = true;
        assert_heap(&h);
    }
    assert_true(seen[1] && seen[3] && seen[4]);
    assert_null(dl_pop_due(&h, 199));
    assert_int_equal(h.n, 2);
    /* A late timer collects everything that fell due meanwhile. */
    assert_ptr_equal(dl_pop_due(&h, 1000), &c[0].dl);
    assert_ptr_equal(dl_pop_due(&h, 1000), &c[2].dl);
    assert_null(dl_pop_due(&h, 1000));
    dl_free(&h);
}

static void test_full(void **state)
{
    static const int64_t ats[] = {30, 10, 20};
    enum { N = sizeof(ats) / sizeof(ats[0]) };
    struct tconn c[N], extra;
    struct dl_heap h;

    (void)state;
    assert_int_equal(dl_init(&h, N), 0);
    queue_all(&h, c, ats, N);
    dl_node_init(&extra.dl);
    extra.dl.at = 77;
    assert_int_equal(dl_set(&h, &extra.dl, 1), -ENOSPC);
    assert_false(dl_queued(&extra.dl));
    assert_true(extra.dl.at == 77); /* untouched on failure */
    assert_int_equal(h.n, N);
    assert_int_equal(min_id(&h), 1);
    /* Moves of queued nodes still work when full, both ways. */
    assert_int_equal(dl_set(&h, &c[0].dl, 5), 0);
    assert_int_equal(min_id(&h), 0);
    assert_int_equal(dl_set(&h, &c[0].dl, 500), 0);
    assert_int_equal(min_id(&h), 1);
    assert_heap(&h);
    /* A freed slot takes the refused node. */
    dl_remove(&h, &c[2].dl);
    assert_int_equal(dl_set(&h, &extra.dl, 1), 0);
    assert_ptr_equal(dl_min(&h), &extra.dl);
    assert_heap(&h);
    dl_free(&h);
    /* A heap of no capacity refuses every node. */
    assert_int_equal(dl_init(&h, 0), 0);
    dl_node_init(&extra.dl);
    assert_int_equal(dl_set(&h, &extra.dl, 1), -ENOSPC);
    assert_null(dl_min(&h));
    assert_null(dl_pop_due(&h, INT64_MAX));
    dl_free(&h);
}

/* splitmix64: the same sequence on every libc, so a failure replays. */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define RND_NODES 500
#define RND_CAP   400 /* under RND_NODES, so that -ENOSPC happens */
#define RND_OPS   20000
#define RND_SEED  0x6665727279ULL

/* What the heap should hold, kept the slow way. */
struct model {
    bool queued[RND_NODES];
    int64_t at[RND_NODES];
    uint32_t n;
};

/* A deadline as the worker sets them: a little after now, within a
 * narrow window for many ties, with the extremes now and then. */
static int64_t rnd_at(uint64_t *s, int64_t now)
{
    uint64_t r = rnd_next(s) % 100;

    if (r == 0)
        return INT64_MIN;
    if (r == 1)
        return INT64_MAX;
    return now + (int64_t)(rnd_next(s) % 2000);
}

/* The model's earliest deadline; false when it holds nothing. */
static bool model_min(const struct model *m, int64_t *at)
{
    bool any = false;

    for (uint32_t k = 0; k < RND_NODES; k++) {
        if (m->queued[k] && (!any || m->at[k] < *at)) {
            *at = m->at[k];
            any = true;
        }
    }
    return any;
}

/* Compares the heap with the model. Returns what differs, or NULL. */
static const char *model_differs(const struct dl_heap *h, const struct tconn *c,
                                 const struct model *m)
{
    const char *why = heap_broken(h);
    int64_t min = 0;

    if (why != NULL)
        return why;
    if (h->n != m->n)
        return "count";
    for (uint32_t k = 0; k < RND_NODES; k++) {
        if (dl_queued(&c[k].dl) != m->queued[k])
            return "queued";
        if (c[k].dl.at != m->at[k])
            return "at";
        if (m->queued[k] && (c[k].dl.pos >= h->n || h->v[c[k].dl.pos] != &c[k].dl))
            return "h->v[n->pos] != n";
    }
    if (!model_min(m, &min))
        return dl_min(h) == NULL ? NULL : "min of an empty heap";
    return dl_min(h) != NULL && dl_min(h)->at == min ? NULL : "min";
}

/* Queues or moves a random node; -ENOSPC exactly when the model is full
 * and the node new. Returns 1 on -ENOSPC, else 0. */
static int rnd_set(struct dl_heap *h, struct tconn *c, struct model *m, uint32_t k, int64_t at)
{
    int rc = dl_set(h, &c[k].dl, at);
    bool full = !m->queued[k] && m->n == RND_CAP;

    assert_int_equal(rc, full ? -ENOSPC : 0);
    if (full)
        return 1;
    if (!m->queued[k])
        m->n++;
    m->queued[k] = true;
    m->at[k] = at;
    return 0;
}

/* One dl_pop_due() at now, checked against the model. Returns 1 if a
 * node came out. */
static int rnd_pop(struct dl_heap *h, struct model *m, int64_t now)
{
    struct dl_node *got = dl_pop_due(h, now);
    int64_t min = 0;

    if (!model_min(m, &min) || min > now) {
        assert_null(got);
        return 0;
    }
    assert_non_null(got);
    assert_true(got->at == min);
    assert_false(dl_queued(got));
    uint32_t k = DL_ENTRY(got, struct tconn, dl)->id;
    assert_true(m->queued[k]);
    m->queued[k] = false;
    m->n--;
    return 1;
}

/* What one run went through, so that it cannot pass on easy paths only. */
struct rnd_stats {
    unsigned full, popped, later, drained;
};

/* One random operation at time now, mirrored in the model. */
static void rnd_op(struct dl_heap *h, struct tconn *c, struct model *m, uint64_t *seed, int64_t now,
                   struct rnd_stats *st)
{
    uint32_t k = (uint32_t)(rnd_next(seed) % RND_NODES);
    uint64_t kind = rnd_next(seed) % 100;

    if (kind < 45) {
        st->full += rnd_set(h, c, m, k, rnd_at(seed, now));
    } else if (kind < 70) {
        /* What the worker does most: a write pushes a deadline on. */
        if (m->queued[k] && m->at[k] < INT64_MAX - 100) {
            rnd_set(h, c, m, k, m->at[k] + 1 + (int64_t)(rnd_next(seed) % 100));
            st->later++;
        }
    } else if (kind < 75) {
        dl_remove(h, &c[k].dl);
        if (m->queued[k])
            m->n--;
        m->queued[k] = false;
    } else if (kind < 90) {
        st->popped += rnd_pop(h, m, now);
    } else {
        /* The timer fired: everything due, then nothing. */
        while (rnd_pop(h, m, now))
            st->popped++;
    }
}

static void test_random(void **state)
{
    static struct tconn c[RND_NODES];
    static struct model m;
    struct rnd_stats st = {0};
    struct dl_heap h;
    uint64_t seed = RND_SEED;
    int64_t now = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_int_equal(dl_init(&h, RND_CAP), 0);
    for (uint32_t k = 0; k < RND_NODES; k++) {
        c[k].id = k;
        dl_node_init(&c[k].dl);
        m.at[k] = c[k].dl.at;
    }
    for (int op = 0; op < RND_OPS; op++) {
        now += rnd_next(&seed) % 8 == 0; /* a tick every 8 operations */
        rnd_op(&h, c, &m, &seed, now, &st);
        /* Now and then the far future: the heap empties and fills again. */
        if (op % 5000 == 4999) {
            while (rnd_pop(&h, &m, INT64_MAX))
                st.drained++;
            assert_int_equal(h.n, 0);
        }
        const char *why = model_differs(&h, c, &m);
        if (why != NULL)
            fail_msg("op %d (seed %#llx): %s", op, (unsigned long long)RND_SEED, why);
    }
    assert_true(st.full > 100);
    assert_true(st.popped > 300);
    assert_true(st.later > 1000);
    assert_true(st.drained > RND_CAP);
    dl_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_remove_sifts_up),
        cmocka_unit_test(test_remove_unqueued),
        cmocka_unit_test(test_pop_due),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
