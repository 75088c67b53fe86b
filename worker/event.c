/*
 * event: the event driver. See event.h.
 */
#include "worker/event.h"

#include "common/log.h"
#include "worker/deadline.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#define EV_ACCEPT_BATCH 64  /* accepts per turn: the connections held get their turn too */
#define EV_PAUSE_MS     100 /* out of descriptors: accept again after this */
#define EV_EVENTS       16
#define EV_TRIM_BYTES   (4 << 20)  /* free heap kept at the top before giving it back */
#define EV_DISK_PIECE   (64 << 10) /* a read-ahead reads a chunk in pieces this big */

struct ev_worker;

/* CONN_DISK: a read-ahead in the thread pool (allocated for it: rare,
 * and an idle connection should not carry it). */
struct ev_disk {
    uv_work_t work;
    struct ev_conn *e;
    int fd; /* its own descriptor: the connection may close meanwhile */
    uint64_t off;
    size_t len;
};

/* One connection, with what the loop keeps for it. */
struct ev_conn {
    struct conn c;
    uv_poll_t poll;
    struct dl_node dl;
    struct ev_worker *w;
    int events;  /* UV_READABLE / UV_WRITABLE watched now */
    bool disk;   /* a read-ahead is in flight */
    bool closed; /* conn_close() done; freed once the handle and the read-ahead are */
    bool polled; /* poll is initialised (the first wait: a request answered
                  * in full at accept never costs libuv's set-up calls) */
    bool handle_closed;
};

struct ev_worker {
    uv_loop_t loop;
    const struct worker_config *cfg;
    struct conn_env env; /* the blocking driver's, plus one chunk a turn and the disk probe */
    int ep;              /* listeners, the wake eventfd, libuv's backend */
    struct dl_heap heap;
    struct ev_conn **held; /* by record index; NULL: free */
    uint32_t *free;        /* free record indexes, lowest on top */
    uint32_t nfree, max;
    struct worker_ready ready;
    struct log_rl pause_rl;
    int64_t paused_until; /* accepting paused (out of descriptors) until then, or 0 */
    int beat_ms;          /* the longest wait: the loop stamps its turns (the watchdog) */
    uint64_t accepted;    /* connections, for --max-requests */
    bool relieved;        /* at that limit, and another worker accepts: no more accepting */
    bool listening;       /* the listeners are in ep */
    bool stopping;
};

static void ev_on_io(uv_poll_t *h, int status, int events);

/* Adds or removes the listeners from the wait set: a worker that holds all
 * it may, is paused or is stopping leaves them to the other workers. */
static void ev_listen(struct ev_worker *w, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};

    if (on == w->listening)
        return;
    for (size_t i = 0; i < w->cfg->nlfds; i++) {
        if (w->cfg->lfds[i] < 0 || (w->ready.dead & (1u << i))) /* a reload removed it */
            continue;
        ev.data.fd = w->cfg->lfds[i];
        /* EEXIST / ENOENT: already so; else the next change tries again */
        if (epoll_ctl(w->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, w->cfg->lfds[i], &ev) < 0 &&
            errno != EEXIST && errno != ENOENT)
            log_warn("event: epoll_ctl on a listener: %s", strerror(errno));
    }
    w->listening = on;
}

/* Whether the worker should watch the listeners now. */
static bool ev_may_accept(const struct ev_worker *w)
{
    return !w->stopping && !w->relieved && w->nfree > 0 && w->paused_until == 0;
}

static void ev_listen_update(struct ev_worker *w)
{
    bool full = w->nfree == 0;

    if (full != w->env.slot->full)
        sb_set_full(w->env.slot, full);
    ev_listen(w, ev_may_accept(w));
}

/* Watches the socket for events (0: none). Returns 0 or a libuv error. */
static int ev_watch(struct ev_conn *e, int events)
{
    int rc;

    if (events == e->events)
        return 0;
    if (!e->polled) {
        if ((rc = uv_poll_init(&e->w->loop, &e->poll, e->c.fd)) < 0)
            return rc;
        e->poll.data = e;
        e->polled = true;
    }
    rc = events == 0 ? uv_poll_stop(&e->poll) : uv_poll_start(&e->poll, events, ev_on_io);
    e->events = events;
    return rc;
}

static void ev_free(struct ev_conn *e)
{
    conn_free(&e->c);
    free(e);
}

static void ev_on_handle_closed(uv_handle_t *h)
{
    struct ev_conn *e = h->data;

    e->handle_closed = true;
    if (!e->disk)
        ev_free(e);
}

/* Ends a connection: the handle first (libuv forgets the descriptor while
 * it is still open), then the connection (report, record, close). */
static void ev_close(struct ev_conn *e, int64_t now)
{
    struct ev_worker *w = e->w;

    dl_remove(&w->heap, &e->dl);
    if (e->polled)
        uv_close((uv_handle_t *)&e->poll, ev_on_handle_closed);
    else
        e->handle_closed = true;
    conn_close(&e->c, now);
    e->closed = true;
    w->held[e->c.rec_k] = NULL;
    w->free[w->nfree++] = e->c.rec_k;
    ev_listen_update(w);
    if (e->handle_closed && !e->disk)
        ev_free(e);
}

static void ev_disk_start(struct ev_conn *e);
static void ev_stop(struct ev_worker *w);

/* The handler said what it waits for next: watch for it, until its
 * deadline. */
static void ev_next(struct ev_conn *e, enum conn_wait want, int64_t now)
{
    struct ev_worker *w = e->w;

    if (w->stopping && want == CONN_READ) /* an idle keep-alive closes; a request begun is cut */
        want = conn_stop(&e->c, now);
    if (want == CONN_READ || want == CONN_WRITE) {
        int rc = ev_watch(e, want == CONN_READ ? UV_READABLE : UV_WRITABLE);

        if (rc < 0) /* cannot happen to an open socket: said, and closed */
            want = conn_trouble(&e->c, "cannot watch the socket", -rc, true);
    }
    switch (want) {
    case CONN_DONE:
        ev_close(e, now);
        return;
    case CONN_READ:
        conn_trim(&e->c); /* idle: no buffers held */
        break;
    case CONN_WRITE:
        break;
    case CONN_DISK:
        ev_watch(e, 0);
        ev_disk_start(e);
        break;
    }
    dl_set(&w->heap, &e->dl, conn_deadline(&e->c));
}

static void ev_on_io(uv_poll_t *h, int status, int events)
{
    struct ev_conn *e = h->data;
    int64_t now = clock_now_ns();

    (void)events;
    if (status < 0) /* libuv stopped the handle; the next call on the socket says why */
        e->events = 0;
    ev_next(e, conn_ready(&e->c, now), now);
}

/* In the thread pool: bring the chunk into the page cache by reading it
 * (readahead() only queues the I/O: a sendfile right after it would still
 * wait for the disk, on the loop). An error is not the loop's to report:
 * sendfile meets it again and the connection says so. */
static void ev_disk_work(uv_work_t *req)
{
    struct ev_disk *d = req->data;
    size_t piece = d->len < EV_DISK_PIECE ? d->len : EV_DISK_PIECE;
    char *buf = malloc(piece);

    for (size_t done = 0; buf != NULL && done < d->len;) {
        ssize_t n = pread(d->fd, buf, piece, (off_t)(d->off + done));

        if (n <= 0)
            break;
        done += (size_t)n;
    }
    free(buf);
}

static void ev_disk_done(uv_work_t *req, int status)
{
    struct ev_disk *d = req->data;
    struct ev_conn *e = d->e;
    int64_t now = clock_now_ns();

    (void)status;
    close(d->fd);
    free(d);
    e->disk = false;
    if (e->closed) { /* cut meanwhile */
        if (e->handle_closed)
            ev_free(e);
        return;
    }
    ev_next(e, conn_ready(&e->c, now), now);
}

/* CONN_DISK: reads the next chunk ahead off the loop. The work has its own
 * descriptor, so the connection may close meanwhile. */
static void ev_disk_start(struct ev_conn *e)
{
    struct ev_disk *d = calloc(1, sizeof(*d));
    int fd;

    if (d != NULL) {
        conn_disk_range(&e->c, &fd, &d->off, &d->len);
        d->e = e;
        d->work.data = d;
        d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }
    if (d == NULL || d->fd < 0 ||
        uv_queue_work(&e->w->loop, &d->work, ev_disk_work, ev_disk_done) < 0) {
        if (d != NULL && d->fd >= 0)
            close(d->fd);
        free(d);
        e->c.disk_ok = true; /* cannot read ahead: send it, waiting for the disk */
        e->c.want = CONN_WRITE;
        ev_watch(e, UV_WRITABLE);
        return;
    }
    e->disk = true;
    sb_disk_wait(e->w->env.slot);
}

/* Takes a connection accepted on listener `which` into record k. */
static void ev_open(struct ev_worker *w, int fd, size_t which, const struct sockaddr *peer,
                    int64_t now)
{
    const struct conn_handler *h = serve_handler(w->cfg->protos[which]);
    struct ev_conn *e = calloc(1, sizeof(*e));
    uint32_t k;

    if (e == NULL || conn_init(&e->c, h->state_size) < 0) {
        log_error("event: cannot hold a connection: %s", strerror(ENOMEM));
        if (e != NULL)
            ev_free(e);
        close(fd);
        return;
    }
    k = w->free[--w->nfree];
    e->w = w;
    dl_node_init(&e->dl);
    e->c.rec = &w->env.recs[k];
    e->c.rec_k = k;
    w->held[k] = e;
    ev_next(e, conn_open(&e->c, &w->env, h, fd, (unsigned)which, peer, now), now);
}

static bool ev_out_of_resources(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* Out of descriptors (or memory): leave the listeners alone for a moment
 * rather than spin on them, saying so once per interval. */
static void ev_pause(struct ev_worker *w, int err, int64_t now)
{
    unsigned missed;

    if (log_rl_allow(&w->pause_rl, now, &missed))
        log_warn("accept: %s: accepting paused, retrying every %d ms (%u failed so far)",
                 strerror(-err), EV_PAUSE_MS, w->pause_rl.failures);
    w->paused_until = now + (int64_t)EV_PAUSE_MS * 1000000;
    ev_listen_update(w);
}

/* Accepts what is pending, as far as the worker may hold. Returns 0, or -1
 * when accepting cannot go on (logged). */
static int ev_accept(struct ev_worker *w)
{
    struct sockaddr_storage peer;

    for (int i = 0; i < EV_ACCEPT_BATCH && ev_may_accept(w); i++) {
        int64_t now;
        size_t which;
        int fd = worker_accept(w->cfg, &w->ready, (struct sockaddr *)&peer, &which);

        now = clock_now_ns();
        if (fd >= 0) {
            double secs;
            unsigned failures;

            if (log_rl_end(&w->pause_rl, now, &secs, &failures))
                log_info("accepting again after %.1f s paused (%u failed accepts)", secs, failures);
            worker_count_conn(w->cfg, &w->accepted);
            ev_open(w, fd, which, (struct sockaddr *)&peer, now);
        } else if (fd == -EAGAIN) {
            return 0;
        } else if (ev_out_of_resources(fd)) {
            ev_pause(w, fd, now);
            return 0;
        } else if (fd == -EINVAL) { /* the master shut the listeners down: it stops */
            ev_stop(w);
            return 0;
        } else if (fd != -ECONNABORTED && fd != -EINTR && fd != -EPROTO && fd != -EPERM) {
            log_error("accept: %s", strerror(-fd));
            return -1;
        }
    }
    ev_listen_update(w);
    return 0;
}

/* Every held connection, in record order, through fn; fn may close it
 * (one waiting for a read-ahead too: the read-ahead has its own descriptor). */
static void ev_each(struct ev_worker *w, void (*fn)(struct ev_conn *e, int64_t now))
{
    int64_t now = clock_now_ns();

    for (uint32_t k = 0; k < w->max; k++) {
        if (w->held[k] != NULL)
            fn(w->held[k], now);
    }
}

/* A stop: what waits for a request ends; the rest finishes. */
static void ev_stop_one(struct ev_conn *e, int64_t now)
{
    if (e->c.want == CONN_READ)
        ev_next(e, CONN_READ, now);
}

/* The master's watchdog asked: the connection it found stuck closes. */
static void ev_cut_one(struct ev_conn *e, int64_t now)
{
    if (atomic_load(&e->c.rec->cut_ns) == e->c.accepted_ns)
        ev_next(e, conn_cut(&e->c, "stuck: closed by the watchdog", 0), now);
}

/*
 * Leaving while the pool goes on (a rolling restart, a resize,
 * --max-requests), the listeners just left the wait set: a connection that
 * arrived since the last wait may have woken this worker alone
 * (EPOLLEXCLUSIVE), and no other would hear of it until the next one came.
 * What is pending is taken here, as far as the worker may hold, and served
 * to its end. After a shutdown the listeners are shut: accept() fails.
 */
static void ev_drain(struct ev_worker *w)
{
    struct sockaddr_storage peer;
    size_t which;
    int fd;

    w->ready.mask = (uint32_t)((1ULL << w->cfg->nlfds) - 1);
    for (int i = 0; i < EV_ACCEPT_BATCH && w->nfree > 0; i++) {
        fd = worker_accept(w->cfg, &w->ready, (struct sockaddr *)&peer, &which);
        if (fd < 0)
            return;
        ev_open(w, fd, which, (struct sockaddr *)&peer, clock_now_ns());
    }
}

/* Stops, once: no more accepting, and what waits for a request ends (an
 * idle keep-alive closes, a head still arriving is cut); the rest finishes. */
static void ev_stop(struct ev_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    ev_listen_update(w);
    ev_each(w, ev_stop_one);
    ev_drain(w);
}

/* The shutdown's end (standalone: a second signal, the deadline). */
static void ev_abort_one(struct ev_conn *e, int64_t now)
{
    ev_next(e, conn_cut(&e->c, "cut by shutdown", EINTR), now);
}

/* What the signal handlers asked for: a log reopening, a cut, a stop.
 * Their flags are checked every turn, whatever woke the loop: a signal
 * that lands just after epoll_wait() harvested a listener would
 * otherwise wait a turn, and the connection accepted meanwhile be served
 * as if it had not come (its line in the rotated log). The wake eventfd
 * only ends the wait. */
static void ev_signals(struct ev_worker *w)
{
    worker_reopen_check();
    if (worker_cut_take())
        ev_each(w, ev_cut_one);
    if (worker_stop_requested())
        ev_stop(w);
}

/* Every connection whose deadline passed. */
static void ev_expire(struct ev_worker *w, int64_t now)
{
    struct dl_node *n;

    while ((n = dl_pop_due(&w->heap, now)) != NULL) {
        struct ev_conn *e = DL_ENTRY(n, struct ev_conn, dl);

        ev_next(e, conn_expired(&e->c, now), now);
    }
}

/* How long the wait may last, in ms: until the earliest deadline, libuv's
 * own next duty, the end of a pause, and at most a heartbeat. */
static int ev_timeout(struct ev_worker *w, int64_t now)
{
    int64_t until = now + (int64_t)w->beat_ms * 1000000, ms;
    struct dl_node *first = dl_min(&w->heap);
    /* A loop with nothing active says 0 ("run me now"): nothing to wait for. */
    int uv = uv_loop_alive(&w->loop) ? uv_backend_timeout(&w->loop) : -1;

    if (first != NULL && first->at < until)
        until = first->at;
    if (w->paused_until != 0 && w->paused_until < until)
        until = w->paused_until;
    ms = until > now ? (until - now + 999999) / 1000000 : 0;
    return uv >= 0 && uv < ms ? uv : (int)ms;
}

/* One turn: wait, then accept, run libuv's callbacks, expire deadlines.
 * Returns 0, or -1 when the worker cannot go on. */
static int ev_turn(struct ev_worker *w)
{
    struct epoll_event evs[EV_EVENTS];
    int64_t now = clock_now_ns();
    int n;

    sb_turn(w->env.slot, now);
    n = epoll_wait(w->ep, evs, EV_EVENTS, ev_timeout(w, now));
    now = clock_now_ns();
    sb_turn(w->env.slot, now);
    if (n < 0 && errno != EINTR) {
        log_error("event: epoll_wait: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (evs[i].data.fd == worker_wake_fd_get())
            worker_wake_drain();
    }
    ev_signals(w);
    if (n > 0)
        worker_mark_ready(w->cfg, &w->ready, evs, n);
    if (!w->relieved && worker_relieved(w->cfg, w->accepted)) {
        w->relieved = true;
        ev_listen_update(w);
    }
    if (w->paused_until != 0 && now >= w->paused_until) {
        w->paused_until = 0;
        ev_listen_update(w);
    }
    if (w->listening && ev_accept(w) < 0)
        return -1;
    uv_run(&w->loop, UV_RUN_NOWAIT);
    ev_expire(w, clock_now_ns());
    if (*worker_abort_flag())
        ev_each(w, ev_abort_one);
    return 0;
}

/* Sets the worker up: the loop, the heap, the record list, the wait set.
 * Returns 0 or -errno. */
static int ev_init(struct ev_worker *w, const struct worker_config *cfg, uint32_t max, int beat_ms)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int rc;

    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->env = cfg->serve.env;
    w->env.one_chunk = true;
    w->env.disk_probe = true;
    w->max = max;
    w->beat_ms = beat_ms;
    w->ep = -1;
    w->ready.mask = (uint32_t)((1ULL << cfg->nlfds) - 1);
    w->ready.ep = -1; /* until w->ep exists */
    w->held = calloc(max, sizeof(*w->held));
    w->free = calloc(max, sizeof(*w->free));
    if (w->held == NULL || w->free == NULL || dl_init(&w->heap, max) < 0)
        return -ENOMEM;
    for (uint32_t k = 0; k < max; k++) /* the lowest record on top: few pages touched */
        w->free[w->nfree++] = max - 1 - k;
    if ((rc = uv_loop_init(&w->loop)) < 0)
        return rc;
    if ((w->ep = w->ready.ep = worker_epoll(cfg)) < 0)
        return w->ep;
    w->listening = true; /* worker_epoll() added them */
    ev.data.fd = uv_backend_fd(&w->loop);
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
        return -errno;
    return 0;
}

static void ev_fini(struct ev_worker *w)
{
    if (w->held != NULL)
        ev_each(w, ev_abort_one); /* none after a clean stop; after a failure, all */
    if (w->ep >= 0) {
        uv_run(&w->loop, UV_RUN_DEFAULT); /* the handles' close callbacks, the last read-ahead */
        uv_loop_close(&w->loop);
        close(w->ep);
    }
    dl_free(&w->heap);
    free(w->held);
    free(w->free);
}

int event_run(const struct worker_config *cfg, uint32_t max_conns, int beat_ms)
{
    struct ev_worker w;
    int rc = ev_init(&w, cfg, max_conns, beat_ms);

    if (rc < 0) {
        log_error("event worker: cannot start: %s", strerror(-rc));
        ev_fini(&w);
        return 1;
    }
    /* Buffers freed by closing connections serve the next ones: without
     * this, glibc gives the heap's top back and takes it again, a brk()
     * pair per connection. */
    mallopt(M_TRIM_THRESHOLD, EV_TRIM_BYTES);
    sb_worker_start(w.env.slot, getpid());
    while (rc == 0 && !(w.stopping && w.nfree == w.max))
        rc = ev_turn(&w);
    sb_set_state(w.env.slot, SB_EXITING);
    ev_fini(&w);
    return rc < 0 ? 1 : 0;
}
